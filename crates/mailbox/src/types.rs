//! The values the store hands out and takes (limits, options, what a read returns), and
//! the entry a listing holds for each message file.

use crate::id::Folder;
use mapishim_abi as abi;
use mapishim_core::{MapiCode, MapiError};
use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::time::SystemTime;

/// Bounds on what one call may cost; the defaults suit any real mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Larger messages are refused with `MAPI_E_INSUFFICIENT_MEMORY` (envelope-only reads
    /// still work: they read the header alone).
    pub max_message_bytes: u64,
    /// How much of a file is read for its header (envelope, FIFO dates, listings).
    pub max_header_bytes: usize,
    /// MIME boundary lines a message may have before parsing is refused.
    pub max_parts: usize,
    /// More attachments give `MAPI_E_TOO_MANY_FILES`.
    pub max_attachments: usize,
    /// More recipients give `MAPI_E_TOO_MANY_RECIPIENTS`.
    pub max_recipients: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 << 20,
            max_header_bytes: 4 << 20,
            max_parts: 10_000,
            max_attachments: 1_000,
            max_recipients: 10_000,
        }
    }
}

/// The MAPIFindNext flags that matter here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FindOptions {
    /// `MAPI_UNREAD_ONLY`: only messages without the Maildir `S` flag.
    pub unread_only: bool,
    /// `MAPI_GUARANTEE_FIFO`: by date (the Date header, else the file time), then ID.
    /// Without it the order is by ID, which is just as stable.
    pub fifo: bool,
    /// `MAPI_LONG_MSGID`: accepted; IDs are at most 63 characters (a 64-byte buffer) either way.
    pub long_ids: bool,
}

impl FindOptions {
    pub fn from_flags(flags: u32) -> Self {
        Self {
            unread_only: flags & abi::MAPI_UNREAD_ONLY != 0,
            fifo: flags & abi::MAPI_GUARANTEE_FIFO != 0,
            long_ids: flags & abi::MAPI_LONG_MSGID != 0,
        }
    }
}

/// The MAPIReadMail flags that matter here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// `MAPI_PEEK`: leave the message unread.
    pub peek: bool,
    /// `MAPI_ENVELOPE_ONLY`: header fields only; no note text, no files.
    pub envelope_only: bool,
    /// `MAPI_SUPPRESS_ATTACH`: no attachment files (the body file of `body_as_file` still).
    pub suppress_attach: bool,
    /// `MAPI_BODY_AS_FILE`: the note text becomes the first attachment, [`BODY_FILE_NAME`].
    pub body_as_file: bool,
}

impl ReadOptions {
    pub fn from_flags(flags: u32) -> Self {
        Self {
            peek: flags & abi::MAPI_PEEK != 0,
            envelope_only: flags & abi::MAPI_ENVELOPE_ONLY != 0,
            suppress_attach: flags & abi::MAPI_SUPPRESS_ATTACH != 0,
            body_as_file: flags & abi::MAPI_BODY_AS_FILE != 0,
        }
    }
}

/// A recipient or originator as MAPIReadMail returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecipient {
    /// `MAPI_ORIG`, `MAPI_TO`, `MAPI_CC` or `MAPI_BCC`.
    pub class: u32,
    /// The display name, or the bare address when the header has none.
    pub name: String,
    /// `SMTP:local@domain`.
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAttachment {
    /// The file in the read's private folder.
    pub path: PathBuf,
    /// Its name there: safe on every platform and unique within the message.
    pub file_name: String,
    /// Lower-case `type/subtype`.
    pub content_type: String,
}

/// What MAPIReadMail returns, as safe Rust values; the FFI layer encodes the strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadMessage {
    pub id: String,
    /// One line: control characters removed, white space runs collapsed.
    pub subject: String,
    /// CRLF line ends, no NULs; `None` with `envelope_only` or `body_as_file`.
    pub note_text: Option<String>,
    /// Always `None`: ordinary mail (IPM) is the only type stored.
    pub message_type: Option<String>,
    /// `YYYY/MM/DD HH:MM`, UTC: the Date header, else the file's modification time.
    pub date_received: Option<String>,
    pub conversation_id: Option<String>,
    /// `MAPI_UNREAD`, `MAPI_RECEIPT_REQUESTED`, `MAPI_SENT`, as before this read.
    pub flags: u32,
    pub originator: Option<ReadRecipient>,
    /// To, then Cc, then Bcc, each in header order.
    pub recipients: Vec<ReadRecipient>,
    pub attachments: Vec<ReadAttachment>,
    /// The private folder holding `attachments`; `None` when no file was written.
    pub attachment_dir: Option<PathBuf>,
}

/// One line of a listing: what MAPIFindNext returns plus a few header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub id: String,
    pub folder: Folder,
    pub path: PathBuf,
    pub size: u64,
    pub flags: u32,
    pub date_received: Option<String>,
    pub subject: String,
    pub originator: Option<ReadRecipient>,
}

/// One message file found in `cur/` or `new/`.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) folder: Folder,
    pub(crate) path: PathBuf,
    pub(crate) name: OsString,
    pub(crate) in_new: bool,
    pub(crate) flags: String,
    pub(crate) has_info: bool,
    pub(crate) len: u64,
    pub(crate) mtime: Option<SystemTime>,
}

impl Entry {
    pub(crate) fn unread(&self) -> bool {
        !self.flags.contains('S')
    }

    pub(crate) fn mapi_flags(&self) -> u32 {
        let mut flags = 0;
        if self.unread() {
            flags |= abi::MAPI_UNREAD;
        }
        // Messages the user wrote: the drafts store, or saved with the Maildir draft flag.
        if self.folder == Folder::Drafts || self.flags.contains('D') {
            flags |= abi::MAPI_SENT;
        }
        flags
    }

    pub(crate) fn mtime_secs(&self) -> Option<i64> {
        let m = self.mtime?;
        Some(match m.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct CachedDate {
    pub(crate) len: u64,
    pub(crate) mtime: Option<SystemTime>,
    pub(crate) date: i64,
}

pub(crate) fn invalid(id: &str) -> MapiError {
    MapiError::new(
        MapiCode::InvalidMessage,
        format!("no message with ID {id:?}"),
    )
}

pub(crate) fn open_error(e: &io::Error, id: &str) -> MapiError {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::InvalidInput => invalid(id),
        io::ErrorKind::PermissionDenied => {
            MapiError::new(MapiCode::AccessDenied, format!("message {id}: {e}"))
        }
        // ELOOP from O_NOFOLLOW: a symlink was swapped in after listing.
        _ if e.raw_os_error() == symlink_errno() => invalid(id),
        _ => MapiError::failure(format!("cannot open message {id}: {e}")),
    }
}

pub(crate) fn symlink_errno() -> Option<i32> {
    #[cfg(unix)]
    return Some(libc::ELOOP);
    #[cfg(not(unix))]
    None
}
