//! Message IDs and Maildir file names.
//!
//! A Maildir file name is `<unique>[<sep>2,<flags>]`; only the flags part changes when a
//! message is marked read, so the ID is derived from `<unique>` and the folder alone:
//!
//! - `i-<unique>` / `d-<unique>` when `<unique>` is 1–61 characters of `[A-Za-z0-9._,=+-]`
//!   starting with a letter or digit (what Maildir writers produce: `1700000000.M1P2.host`);
//! - `i_<32 hex>` / `d_<32 hex>` otherwise: the first 128 bits of SHA-256 over the unique
//!   name's bytes (too long, non-ASCII, or hostile names).
//!
//! `i` is the maildir, `d` the drafts folder. Every ID is at most 63 ASCII characters without
//! path separators, whatever `MAPI_LONG_MSGID` says, so an ID never depends on call flags.
use sha2::{Digest, Sha256};
use std::ffi::OsStr;

/// The longest ID this crate produces (the Simple MAPI limit without `MAPI_LONG_MSGID`).
/// The SDK gives callers a 64-byte buffer: 63 characters and the terminator.
pub const MAX_ID_LEN: usize = 63;
/// The longest ID a caller may pass in (the limit with `MAPI_LONG_MSGID`).
pub const MAX_LONG_ID_LEN: usize = 512;
const MAX_VERBATIM: usize = MAX_ID_LEN - 2;

/// Which configured folder a message lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Folder {
    /// `[mailbox] maildir`: what MAPIFindNext walks.
    Inbox,
    /// `[mailbox] drafts`: where MAPISaveMail writes.
    Drafts,
}

impl Folder {
    fn tag(self) -> char {
        match self {
            Folder::Inbox => 'i',
            Folder::Drafts => 'd',
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Folder::Inbox => "maildir",
            Folder::Drafts => "drafts",
        }
    }
}

/// Separators between the unique name and the info part. `:` is the Maildir standard;
/// Windows file names cannot hold it, so Windows writers (mbsync) use `;`.
#[cfg(windows)]
pub(crate) const INFO_SEPARATORS: &[u8] = b":;";
#[cfg(not(windows))]
pub(crate) const INFO_SEPARATORS: &[u8] = b":";
/// The separator this crate writes.
#[cfg(windows)]
pub(crate) const INFO_SEPARATOR: char = ';';
#[cfg(not(windows))]
pub(crate) const INFO_SEPARATOR: char = ':';

/// A Maildir file name split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameParts<'a> {
    /// The unique name's bytes (platform encoding of the OS string).
    pub unique: &'a [u8],
    /// The flags of a `2,` info part (ASCII letters), empty otherwise.
    pub flags: String,
    /// Whether the name has a `2,` info part.
    pub has_info: bool,
}

pub(crate) fn split_name(name: &OsStr) -> NameParts<'_> {
    let bytes = name.as_encoded_bytes();
    let Some(pos) = bytes.iter().position(|b| INFO_SEPARATORS.contains(b)) else {
        return NameParts {
            unique: bytes,
            flags: String::new(),
            has_info: false,
        };
    };
    let info = &bytes[pos + 1..];
    let (flags, has_info) = match info.strip_prefix(b"2,") {
        Some(f) => (
            f.iter()
                .filter(|b| b.is_ascii_alphabetic())
                .map(|b| *b as char)
                .collect(),
            true,
        ),
        None => (String::new(), false),
    };
    NameParts {
        unique: &bytes[..pos],
        flags,
        has_info,
    }
}

fn verbatim(unique: &[u8]) -> Option<&str> {
    let ok = !unique.is_empty()
        && unique.len() <= MAX_VERBATIM
        && unique[0].is_ascii_alphanumeric()
        && unique
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._,=+-".contains(b));
    // All ASCII, so this cannot fail.
    ok.then(|| std::str::from_utf8(unique).ok()).flatten()
}

/// The ID of a message with this unique name in this folder.
pub(crate) fn message_id(folder: Folder, unique: &[u8]) -> String {
    match verbatim(unique) {
        Some(name) => format!("{}-{name}", folder.tag()),
        None => {
            let digest = Sha256::digest(unique);
            let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            format!("{}_{hex}", folder.tag())
        }
    }
}

/// The folder an ID names, if it is well formed.
pub(crate) fn parse_id(id: &str) -> Option<Folder> {
    if id.len() > MAX_LONG_ID_LEN || id.len() < 3 {
        return None;
    }
    let folder = match id.as_bytes()[0] {
        b'i' => Folder::Inbox,
        b'd' => Folder::Drafts,
        _ => return None,
    };
    let rest = &id.as_bytes()[2..];
    let ok = match id.as_bytes()[1] {
        b'-' => verbatim(rest).is_some(),
        b'_' => rest.len() == 32 && rest.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        _ => false,
    };
    ok.then_some(folder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn splits_names() {
        let name = OsString::from(format!("1700.M1P2.host{INFO_SEPARATOR}2,FRS"));
        let p = split_name(&name);
        assert_eq!(p.unique, b"1700.M1P2.host");
        assert_eq!(p.flags, "FRS");
        assert!(p.has_info);
        let p = split_name(OsStr::new("1700.M1P2.host"));
        assert_eq!(
            (p.unique, p.flags.as_str(), p.has_info),
            (&b"1700.M1P2.host"[..], "", false)
        );
    }

    #[test]
    fn ids_are_short_safe_and_round_trip() {
        let plain = message_id(Folder::Inbox, b"1700000000.M1P2.host,S=12");
        assert_eq!(plain, "i-1700000000.M1P2.host,S=12");
        assert_eq!(parse_id(&plain), Some(Folder::Inbox));
        for hostile in [
            &b"../../x"[..],
            b"con",
            b"a/b",
            b"\x01\x02",
            b"",
            b".hidden",
            "é".as_bytes(),
            &[b'x'; 300],
        ] {
            let id = message_id(Folder::Drafts, hostile);
            assert!(id.len() <= MAX_ID_LEN && id.is_ascii(), "{id}");
            assert!(!id.contains(['/', '\\', ':']), "{id}");
            assert_eq!(parse_id(&id), Some(Folder::Drafts), "{id}");
        }
        // 'con' is a valid verbatim name: IDs are never used as file names.
        assert_eq!(message_id(Folder::Inbox, b"con"), "i-con");
        assert_ne!(
            message_id(Folder::Inbox, &[b'x'; 300]),
            message_id(Folder::Inbox, &[b'x'; 301])
        );
        for bad in ["", "i-", "x-abc", "i-../x", "i_123", "i-a/b", "i#abc"] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }
}
