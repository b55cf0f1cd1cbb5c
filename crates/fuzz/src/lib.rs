//! One fuzz case against the Simple MAPI C boundary, and the oracle that judges it.
//!
//! Input format (docs/fuzzing.md): byte 0 picks the call, byte 1 its flags, the rest are
//! fields separated by NUL (C strings cannot hold NUL anyway):
//!
//! - `0` MAPISendMail, `1` MAPISendMailW: subject, note text, originator name, originator
//!   address, message type, date received, conversation ID, then groups of four fields per
//!   recipient or attachment: `kind`, name, address or path selector, entry ID. A field that
//!   is exactly `\xff` is a NULL pointer. Wide fields are generalized UTF-8 (lone
//!   surrogates allowed) turned into UTF-16.
//! - `2` MAPIResolveName: the name.
//! - `3` MAPIReadMail: a Maildir file name, then the raw file content (NULs allowed); the
//!   file is written into a Maildir that also holds hostile entries (symlinks out, a FIFO,
//!   dot files, subfolders), then MAPIFindNext walks it and MAPIReadMail reads the file.
//!
//! The oracle panics (which afl.rs turns into a crash) when a call returns an undefined
//! code, a stored file does not parse as one RFC 5322 message with only allowed header
//! names, a temporary file is left behind, a returned structure is malformed, a buffer
//! cannot be freed once (or can be freed twice), or anything inside the library panics.
#![allow(clippy::missing_safety_doc)]

use mapi32::abi::*;
use mapishim_abi::*;
use std::ffi::CStr;
use std::fs;
use std::os::raw::c_char;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The fuzz case's world: set up once per process, before the fork server starts.
pub struct World {
    pub root: PathBuf,
    outbox: PathBuf,
    maildir: PathBuf,
    drafts: PathBuf,
    cache: PathBuf,
    secret: PathBuf,
    secret_len: u64,
    attachment: PathBuf,
    empty: PathBuf,
    session: LHANDLE,
    static_names: Vec<std::ffi::OsString>,
    tmp_keep: Vec<std::ffi::OsString>,
    count: std::sync::atomic::AtomicU64,
    fresh: std::sync::atomic::AtomicBool,
}

static WORLD: OnceLock<World> = OnceLock::new();

/// Header names a stored message may carry, at the top or in a part. Anything else came
/// from caller text: header injection.
const ALLOWED_HEADERS: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "x-mailer",
    "disposition-notification-to",
    "return-receipt-to",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
    "content-description",
];

const CONTACTS: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Smith\r\nN:Smith;Bob;;;\r\nEMAIL:bob@example.org\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Jones\r\nN:Jones;Bob;;;\r\nNICKNAME:bj\r\nEMAIL:bj@example.org\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Anna M\u{fc}ller\r\nEMAIL;TYPE=work:anna@example.org\r\nEMAIL:anna@private.example\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:3.0\r\nFN:\"Last\\, First\" <q@x>\r\nEMAIL:weird@example.org\r\nEND:VCARD\r\n";

fn mkdirs(p: &Path) {
    fs::create_dir_all(p).unwrap_or_else(|e| panic!("cannot create {}: {e}", p.display()));
}

/// Sets up the world in `root` (created, must be empty or absent). Call once, while the
/// process has one thread.
pub fn init(root: &Path) -> &'static World {
    WORLD.get_or_init(|| {
        let _ = fs::remove_dir_all(root);
        mkdirs(root);
        let root = root.canonicalize().unwrap();
        let outbox = root.join("outbox");
        let maildir = root.join("Maildir");
        let drafts = root.join("Drafts");
        let cache = root.join("cache");
        for sub in ["cur", "new", "tmp"] {
            mkdirs(&maildir.join(sub));
            mkdirs(&drafts.join(sub));
        }
        mkdirs(&outbox);
        mkdirs(&cache);
        // Hostile fixed entries (as tests/maildir_gen.py makes them): none may be read.
        let outside = root.join("outside");
        mkdirs(&outside);
        let secret = outside.join("secret.eml");
        fs::write(&secret, b"Subject: secret\n\nmust never be read\n").unwrap();
        let secret_len = fs::metadata(&secret).unwrap().len();
        std::os::unix::fs::symlink(&secret, maildir.join("cur/link-abs:2,S")).unwrap();
        std::os::unix::fs::symlink("../../outside/secret.eml", maildir.join("new/link-rel"))
            .unwrap();
        fs::write(
            maildir.join("cur/.hidden:2,S"),
            b"Subject: hidden\n\nx\n",
        )
        .unwrap();
        mkdirs(&maildir.join("cur/subdir"));
        fs::write(maildir.join("tmp/partial"), b"Subject: partial\n\nx\n").unwrap();
        mkdirs(&maildir.join(".Sub/cur"));
        let fifo = std::ffi::CString::new(maildir.join("new/fifo").into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc_mkfifo(fifo.as_ptr(), 0o600) }, 0, "mkfifo");
        fs::write(
            maildir.join("cur/1700000000.M1P1.fuzz:2,S"),
            b"From: A <a@example.org>\r\nTo: b@example.org\r\nSubject: normal\r\nDate: Mon, 2 Jan 2023 03:04:05 +0000\r\n\r\nbody\r\n",
        )
        .unwrap();
        let mut static_names = Vec::new();
        for sub in ["cur", "new"] {
            for e in fs::read_dir(maildir.join(sub)).unwrap() {
                static_names.push(e.unwrap().file_name());
            }
        }
        let attachment = root.join("attachment.bin");
        fs::write(&attachment, (0..=255u8).cycle().take(3000).collect::<Vec<_>>()).unwrap();
        let empty = root.join("empty.txt");
        fs::write(&empty, b"").unwrap();
        fs::write(root.join("contacts.vcf"), CONTACTS).unwrap();
        let config = root.join("config.toml");
        fs::write(
            &config,
            format!(
                "from = \"Fuzz Sender <fuzz@example.org>\"\nansi_codepage = \"windows-1252\"\n\
                 [outbox]\ndir = \"{outbox}\"\n[addressbook]\nvcard = [\"{root}/contacts.vcf\"]\n\
                 [log]\nfile = \"{root}/log\"\nlevel = \"error\"\n\
                 [mailbox]\nmaildir = \"{maildir}\"\ndrafts = \"{drafts}\"\n",
                outbox = outbox.display(),
                root = root.display(),
                maildir = maildir.display(),
                drafts = drafts.display(),
            ),
        )
        .unwrap();
        // SAFETY: called once, before any other thread exists (see `init`'s contract).
        unsafe {
            std::env::set_var("MAPISHIM_CONFIG", &config);
            std::env::set_var("HOME", &root);
            std::env::set_var("XDG_CACHE_HOME", &cache);
            std::env::set_var("XDG_CONFIG_HOME", root.join("xdg-config"));
        }
        let mut session: LHANDLE = 0;
        // SAFETY: a valid out-pointer; NULL strings are allowed.
        let rc = unsafe {
            c::MAPILogon(0, std::ptr::null_mut(), std::ptr::null_mut(), MAPI_NEW_SESSION, 0, &mut session)
        };
        assert_eq!(rc, SUCCESS_SUCCESS, "MAPILogon");
        World {
            root,
            outbox,
            maildir,
            drafts,
            cache,
            secret,
            secret_len,
            attachment,
            empty,
            session,
            static_names,
            tmp_keep: vec!["partial".into()],
            count: Default::default(),
            fresh: true.into(),
        }
    })
}

/// The exports as a C program calls them. The generated exports take the FFI layer's
/// `#[repr(transparent)]` wrappers, so each has the ABI of the export table's raw-pointer
/// function type (`LPMAPISENDMAIL`, ...); the target calls through that type, with raw
/// pointers, exactly as a C caller does.
#[allow(non_upper_case_globals)]
mod c {
    use mapi32::abi::*;
    macro_rules! c_abi {
        ($($name:ident: $ty:ident),* $(,)?) => {$(
            // SAFETY: the export and `$ty` have the same ABI: every wrapper parameter of the
            // export is `#[repr(transparent)]` over the C type `$ty` declares.
            pub const $name: $ty =
                unsafe { std::mem::transmute::<*const (), $ty>(mapi32::abi::$name as *const ()) };
        )*};
    }
    c_abi! {
        MAPILogon: LPMAPILOGON,
        MAPISendMail: LPMAPISENDMAIL,
        MAPISendMailW: LPMAPISENDMAILW,
        MAPIFreeBuffer: LPMAPIFREEBUFFER,
        MAPIResolveName: LPMAPIRESOLVENAME,
        MAPIFindNext: LPMAPIFINDNEXT,
        MAPIReadMail: LPMAPIREADMAIL,
    }
}

unsafe extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const c_char, mode: u32) -> i32;
}

/// Codes the Simple MAPI SDK defines (0–28 without 7).
fn check_code(call: &str, rc: ULONG) {
    assert!(rc <= 28 && rc != 7, "{call} returned undefined code {rc}");
}

struct Input<'a> {
    op: u8,
    flags: u8,
    fields: Vec<&'a [u8]>,
}

fn split(data: &[u8]) -> Option<Input<'_>> {
    let (&op, rest) = data.split_first()?;
    let (&flags, rest) = rest.split_first().unwrap_or((&0, &[]));
    Some(Input {
        op: op % 4,
        flags,
        fields: rest.split(|&b| b == 0).collect(),
    })
}

const NULL_FIELD: &[u8] = b"\xff";

/// Owns the strings a MAPI structure points into.
#[derive(Default)]
struct Arena {
    narrow: Vec<Vec<u8>>,
    wide: Vec<Vec<u16>>,
}

impl Arena {
    fn narrow(&mut self, field: Option<&[u8]>) -> LPSTR {
        match field {
            None => std::ptr::null_mut(),
            Some(f) if f == NULL_FIELD => std::ptr::null_mut(),
            Some(f) => {
                let mut v = f.to_vec();
                v.push(0);
                self.narrow.push(v);
                self.narrow.last_mut().unwrap().as_mut_ptr().cast()
            }
        }
    }

    fn wide(&mut self, field: Option<&[u8]>) -> PWSTR {
        match field {
            None => std::ptr::null_mut(),
            Some(f) if f == NULL_FIELD => std::ptr::null_mut(),
            Some(f) => {
                let mut v = wtf8_to_utf16(f);
                v.push(0);
                self.wide.push(v);
                self.wide.last_mut().unwrap().as_mut_ptr()
            }
        }
    }

    fn bytes(&mut self, field: &[u8]) -> (ULONG, LPVOID) {
        if field.is_empty() {
            return (0, std::ptr::null_mut());
        }
        self.narrow.push(field.to_vec());
        let v = self.narrow.last_mut().unwrap();
        (v.len() as ULONG, v.as_mut_ptr().cast())
    }
}

/// Generalized UTF-8 (surrogate code points allowed, so lone surrogates reach the W
/// functions); other invalid bytes become U+FFFD.
fn wtf8_to_utf16(bytes: &[u8]) -> Vec<u16> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (len, init) = match b {
            0x00..=0x7f => (1, b as u32),
            0xc2..=0xdf => (2, (b & 0x1f) as u32),
            0xe0..=0xef => (3, (b & 0x0f) as u32),
            0xf0..=0xf4 => (4, (b & 0x07) as u32),
            _ => (0, 0),
        };
        let cont = |k: usize| bytes.get(i + k).filter(|c| **c & 0xc0 == 0x80);
        if len == 0 || (1..len).any(|k| cont(k).is_none()) {
            out.push(0xfffd);
            i += 1;
            continue;
        }
        let mut cp = init;
        for k in 1..len {
            cp = (cp << 6) | (bytes[i + k] & 0x3f) as u32;
        }
        match char::from_u32(cp) {
            Some(c) => {
                let mut buf = [0u16; 2];
                out.extend_from_slice(c.encode_utf16(&mut buf));
            }
            None if cp <= 0xffff => out.push(cp as u16),
            None => out.push(0xfffd),
        }
        i += len;
    }
    out
}

fn path_for(world: &World, selector: &[u8]) -> Vec<u8> {
    let p: PathBuf = match selector.first().copied().unwrap_or(0) % 6 {
        0 => world.attachment.clone(),
        1 => world.root.join("missing.bin"),
        2 => world.root.join("outbox"),
        3 => world.empty.clone(),
        4 => world.secret.clone(),
        _ => PathBuf::from("attachment.bin"),
    };
    p.into_os_string().into_encoded_bytes()
}

/// The session handle a case uses: none, the open one, or a bogus one.
fn session_for(world: &World, flags: u8) -> LHANDLE {
    match flags >> 6 {
        0 | 1 => 0,
        2 => world.session,
        _ => 0x4D53_FFFF,
    }
}

fn send_flags(flags: u8) -> FLAGS {
    let mut f = 0;
    if flags & 1 != 0 {
        f |= MAPI_LOGON_UI;
    }
    if flags & 2 != 0 {
        f |= MAPI_NEW_SESSION;
    }
    if flags & 4 != 0 {
        f |= MAPI_DIALOG;
    }
    if flags & 8 != 0 {
        f |= MAPI_FORCE_UNICODE;
    }
    f
}

struct Item<'a> {
    kind: &'a [u8],
    name: &'a [u8],
    addr: &'a [u8],
    eid: &'a [u8],
}

fn items<'a>(fields: &[&'a [u8]]) -> Vec<Item<'a>> {
    fields
        .get(7..)
        .unwrap_or(&[])
        .chunks(4)
        .map(|c| Item {
            kind: c[0],
            name: c.get(1).copied().unwrap_or(b""),
            addr: c.get(2).copied().unwrap_or(b""),
            eid: c.get(3).copied().unwrap_or(b""),
        })
        .take(64)
        .collect()
}

/// Attachments have bit 7 of `kind`; recipients take their class from the low bits
/// (0–3 valid, 4 invalid).
fn is_file(kind: &[u8]) -> bool {
    kind.first().is_some_and(|k| k & 0x80 != 0)
}

fn position(kind: &[u8]) -> ULONG {
    match kind.get(1) {
        None | Some(0xff) => ULONG::MAX,
        // 0 cannot occur (it separates fields): 1 is position 0.
        Some(&p) => p.saturating_sub(1) as ULONG,
    }
}

fn class(kind: &[u8]) -> ULONG {
    kind.first().map(|k| (k % 5) as ULONG).unwrap_or(MAPI_TO)
}

/// One send runner per character set: the narrow and wide calls differ only in their
/// structure types, how a field becomes a C string, and the narrow message's code page.
macro_rules! send_runner {
    ($name:ident, $export:path, $message:ident, $recip:ident, $file:ident, $string:ident,
     $code_page:expr) => {
        fn $name(world: &World, input: &Input) -> ULONG {
            let f = |i: usize| input.fields.get(i).copied();
            let mut arena = Arena::default();
            let mut recips = Vec::new();
            let mut files = Vec::new();
            for item in &items(&input.fields) {
                if is_file(item.kind) {
                    let path = path_for(world, item.addr);
                    files.push($file {
                        ulReserved: 0,
                        flFlags: 0,
                        nPosition: position(item.kind),
                        lpszPathName: arena.$string(Some(&path)),
                        lpszFileName: arena.$string(Some(item.name)),
                        lpFileType: std::ptr::null_mut(),
                    });
                } else {
                    let (size, eid) = arena.bytes(item.eid);
                    recips.push($recip {
                        ulReserved: 0,
                        ulRecipClass: class(item.kind),
                        lpszName: arena.$string(Some(item.name)),
                        lpszAddress: arena.$string(Some(item.addr)),
                        ulEIDSize: size,
                        lpEntryID: eid,
                    });
                }
            }
            let mut originator = $recip {
                ulReserved: 0,
                ulRecipClass: MAPI_ORIG,
                lpszName: arena.$string(f(2)),
                lpszAddress: arena.$string(f(3)),
                ulEIDSize: 0,
                lpEntryID: std::ptr::null_mut(),
            };
            let has_originator = f(2).is_some() || f(3).is_some();
            let code_page: fn(u8) -> ULONG = $code_page;
            let mut message = $message {
                ulReserved: code_page(input.flags),
                lpszSubject: arena.$string(f(0)),
                lpszNoteText: arena.$string(f(1)),
                lpszMessageType: arena.$string(f(4)),
                lpszDateReceived: arena.$string(f(5)),
                lpszConversationID: arena.$string(f(6)),
                flFlags: if input.flags & 0x20 != 0 {
                    MAPI_RECEIPT_REQUESTED
                } else {
                    0
                },
                lpOriginator: if has_originator {
                    &mut originator
                } else {
                    std::ptr::null_mut()
                },
                nRecipCount: recips.len() as ULONG,
                lpRecips: if recips.is_empty() {
                    std::ptr::null_mut()
                } else {
                    recips.as_mut_ptr()
                },
                nFileCount: files.len() as ULONG,
                lpFiles: if files.is_empty() {
                    std::ptr::null_mut()
                } else {
                    files.as_mut_ptr()
                },
            };
            // SAFETY: every pointer is NULL or points into `arena`, `recips`, `files` or
            // `originator`, all alive for the call; counts match the arrays.
            unsafe {
                $export(
                    session_for(world, input.flags),
                    0,
                    &mut message,
                    send_flags(input.flags),
                    0,
                )
            }
        }
    };
}

// Flag bit 0x10 asks the narrow call to declare its strings UTF-8 (ulReserved = CP_UTF8).
send_runner!(
    send_narrow,
    c::MAPISendMail,
    MapiMessage,
    MapiRecipDesc,
    MapiFileDesc,
    narrow,
    |flags| if flags & 0x10 != 0 { CP_UTF8 } else { 0 }
);
send_runner!(
    send_wide,
    c::MAPISendMailW,
    MapiMessageW,
    MapiRecipDescW,
    MapiFileDescW,
    wide,
    |_| 0
);

/// Reads a C string the library returned; it must be NUL-terminated.
unsafe fn read_str(p: LPSTR) -> Option<Vec<u8>> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the library promises NUL-terminated strings in blocks it returned.
    Some(unsafe { CStr::from_ptr(p) }.to_bytes().to_vec())
}

unsafe fn walk_recip(r: &MapiRecipDesc) {
    assert!(
        r.ulRecipClass <= MAPI_BCC,
        "recipient class {}",
        r.ulRecipClass
    );
    // SAFETY: strings and the entry ID are in the block the library returned.
    unsafe {
        read_str(r.lpszName);
        read_str(r.lpszAddress);
        if r.ulEIDSize > 0 {
            assert!(!r.lpEntryID.is_null(), "entry ID size without entry ID");
            let eid = std::slice::from_raw_parts(r.lpEntryID.cast::<u8>(), r.ulEIDSize as usize);
            std::hint::black_box(eid.iter().map(|&b| b as u32).sum::<u32>());
        }
    }
}

/// Frees a block once (must succeed) and twice (must be refused).
fn free_twice(p: LPVOID) {
    // SAFETY: `p` came from the library; the second call is the misuse under test, which
    // the library must detect without touching freed memory.
    unsafe {
        assert_eq!(
            c::MAPIFreeBuffer(p),
            SUCCESS_SUCCESS,
            "MAPIFreeBuffer of a returned block"
        );
        let again = c::MAPIFreeBuffer(p);
        check_code("MAPIFreeBuffer (twice)", again);
        assert_ne!(again, SUCCESS_SUCCESS, "a double MAPIFreeBuffer succeeded");
    }
}

fn resolve(world: &World, input: &Input) -> ULONG {
    let mut arena = Arena::default();
    let name = arena.narrow(input.fields.first().copied());
    let mut flags = 0;
    if input.flags & 1 != 0 {
        flags |= MAPI_LOGON_UI;
    }
    if input.flags & 2 != 0 {
        flags |= MAPI_NEW_SESSION;
    }
    if input.flags & 4 != 0 {
        flags |= MAPI_DIALOG;
    }
    if input.flags & 8 != 0 {
        flags |= MAPI_AB_NOMODIFY;
    }
    let mut out: lpMapiRecipDesc = std::ptr::null_mut();
    // SAFETY: `name` is NULL or a NUL-terminated string in `arena`; `out` is valid.
    let rc =
        unsafe { c::MAPIResolveName(session_for(world, input.flags), 0, name, flags, 0, &mut out) };
    if rc == SUCCESS_SUCCESS {
        assert!(!out.is_null(), "MAPIResolveName succeeded without a result");
        // SAFETY: the library returned a valid block.
        unsafe { walk_recip(&*out) };
        free_twice(out.cast());
    } else {
        assert!(
            out.is_null(),
            "MAPIResolveName wrote its out-parameter on failure ({rc})"
        );
    }
    rc
}

fn message_id(unique: &[u8]) -> String {
    let verbatim = !unique.is_empty()
        && unique.len() <= 61
        && unique[0].is_ascii_alphanumeric()
        && unique
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._,=+-".contains(b));
    if verbatim {
        format!("i-{}", String::from_utf8_lossy(unique))
    } else {
        use sha2::{Digest, Sha256};
        let hash = Sha256::digest(unique);
        let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("i_{hex}")
    }
}

fn read_mail(world: &World, data: &[u8], flags: u8) -> ULONG {
    // The file name is the first field; the content is everything after it.
    let (name, content) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let mut name: Vec<u8> = name
        .iter()
        .take(200)
        .map(|&b| if b == b'/' { b'_' } else { b })
        .collect();
    if name.is_empty() || name.starts_with(b".") {
        name.insert(0, b'm');
    }
    if name.first() == Some(&b':') {
        name.insert(0, b'm');
    }
    let unique_len = name.iter().position(|&b| b == b':').unwrap_or(name.len());
    let unique = name[..unique_len].to_vec();
    let file_name = std::ffi::OsString::from_vec(name);
    if world.static_names.contains(&file_name) {
        return SUCCESS_SUCCESS;
    }
    let sub = if flags & 0x10 != 0 { "new" } else { "cur" };
    let path = world.maildir.join(sub).join(&file_name);
    fs::write(&path, content).unwrap();

    if flags & 0x20 != 0 {
        // Walk the folder: every ID is NUL-terminated ASCII within the 64-byte buffer.
        let mut seed = [0u8; 513];
        let mut id = [0u8; 513];
        let find_flags = if flags & 0x08 != 0 {
            MAPI_GUARANTEE_FIFO
        } else {
            0
        } | if flags & 0x04 != 0 {
            MAPI_UNREAD_ONLY
        } else {
            0
        };
        for step in 0..8 {
            let seed_ptr = if step == 0 {
                std::ptr::null_mut()
            } else {
                seed.as_mut_ptr().cast()
            };
            // SAFETY: `seed` is NUL-terminated; `id` has room for a long ID.
            let rc = unsafe {
                c::MAPIFindNext(
                    world.session,
                    0,
                    std::ptr::null_mut(),
                    seed_ptr,
                    find_flags,
                    0,
                    id.as_mut_ptr().cast(),
                )
            };
            check_code("MAPIFindNext", rc);
            if rc != SUCCESS_SUCCESS {
                break;
            }
            let len = id.iter().position(|&b| b == 0).expect("ID not terminated");
            assert!(len <= 63 && id[..len].is_ascii(), "bad ID {:?}", &id[..len]);
            seed = id;
        }
    }
    let mut id = message_id(&unique).into_bytes();
    id.push(0);
    let mut read_flags = 0;
    if flags & 1 != 0 {
        read_flags |= MAPI_PEEK;
    }
    if flags & 2 != 0 {
        read_flags |= MAPI_ENVELOPE_ONLY;
    }
    if flags & 4 != 0 {
        read_flags |= MAPI_SUPPRESS_ATTACH;
    }
    if flags & 8 != 0 {
        read_flags |= MAPI_BODY_AS_FILE;
    }
    let mut out: lpMapiMessage = std::ptr::null_mut();
    let session = if flags & 0x40 != 0 { 0 } else { world.session };
    // SAFETY: `id` is NUL-terminated; `out` is valid.
    let rc =
        unsafe { c::MAPIReadMail(session, 0, id.as_mut_ptr().cast(), read_flags, 0, &mut out) };
    if rc == SUCCESS_SUCCESS {
        assert!(!out.is_null(), "MAPIReadMail succeeded without a message");
        // SAFETY: the library returned a valid block.
        unsafe {
            let m = &*out;
            read_str(m.lpszSubject);
            read_str(m.lpszNoteText);
            read_str(m.lpszMessageType);
            read_str(m.lpszDateReceived);
            read_str(m.lpszConversationID);
            if !m.lpOriginator.is_null() {
                walk_recip(&*m.lpOriginator);
            }
            assert!(
                m.nRecipCount == 0 || !m.lpRecips.is_null(),
                "recipients missing"
            );
            for i in 0..m.nRecipCount as usize {
                walk_recip(&*m.lpRecips.add(i));
            }
            assert!(m.nFileCount == 0 || !m.lpFiles.is_null(), "files missing");
            for i in 0..m.nFileCount as usize {
                let file = &*m.lpFiles.add(i);
                let path = read_str(file.lpszPathName).expect("attachment without a path");
                read_str(file.lpszFileName);
                let path = PathBuf::from(std::ffi::OsString::from_vec(path));
                assert!(
                    path.starts_with(&world.cache) && path.is_file(),
                    "attachment {} not a file in the cache folder",
                    path.display()
                );
            }
        }
        free_twice(out.cast());
    } else {
        assert!(
            out.is_null(),
            "MAPIReadMail wrote its out-parameter on failure ({rc})"
        );
    }
    rc
}

use std::os::unix::ffi::OsStringExt;

/// Checks every file under `dir` (no temporary file; each `.eml` one well-formed message)
/// and removes what the case created, in one pass, so the next case starts clean.
fn sweep(dir: &Path, what: &str, keep: &[std::ffi::OsString]) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        let name = e.file_name();
        if keep.contains(&name) {
            continue;
        }
        let shown = name.to_string_lossy();
        let path = e.path();
        assert!(
            !shown.starts_with(".tmp-"),
            "temporary file left in {what}: {}",
            path.display()
        );
        if e.file_type().unwrap().is_dir() {
            sweep(&path, what, &[]);
            let _ = fs::remove_dir(&path);
        } else {
            // Only the outbox and the drafts folder hold messages the library wrote. Maildir
            // files are the case's own input, and the cache holds MAPIReadMail's copies of
            // the case's attachments, byte for byte, under their (hostile) names: an
            // attachment called `x.eml` holds whatever the case put in it.
            if shown.ends_with(".eml") && matches!(what, "the outbox" | "the drafts folder") {
                check_message(&fs::read(&path).unwrap(), &path);
            }
            let _ = fs::remove_file(&path);
        }
    }
}

fn check_message(bytes: &[u8], path: &Path) {
    let parsed = mail_parser::MessageParser::new()
        .parse(bytes)
        .unwrap_or_else(|| panic!("{} does not parse", path.display()));
    assert!(parsed.from().is_some(), "{}: no From", path.display());
    assert!(parsed.date().is_some(), "{}: no Date", path.display());
    assert!(
        parsed.message_id().is_some(),
        "{}: no Message-ID",
        path.display()
    );
    // One message: the header ends where the parser says, and the stored header names
    // are all ours (in the message and in every part).
    for part in parsed.parts.iter() {
        for h in part.headers.iter() {
            let n = h.name.as_str().to_ascii_lowercase();
            assert!(
                ALLOWED_HEADERS.contains(&n.as_str()),
                "{}: header {n:?} that the library does not write (injection?)",
                path.display()
            );
        }
    }
    for (kind, count) in [
        ("From", parsed.header_values("From").count()),
        ("Subject", parsed.header_values("Subject").count()),
        ("Date", parsed.header_values("Date").count()),
        ("To", parsed.header_values("To").count()),
    ] {
        assert!(count <= 1, "{}: {count} {kind} headers", path.display());
    }
}

/// Removes whatever an earlier process left (a crashed or killed case), without judging it.
fn reset_all(world: &World) {
    for dir in [&world.outbox, &world.cache] {
        let _ = fs::remove_dir_all(dir);
        mkdirs(dir);
    }
    for sub in ["cur", "new", "tmp"] {
        for dir in [world.maildir.join(sub), world.drafts.join(sub)] {
            for e in fs::read_dir(&dir).unwrap().flatten() {
                let name = e.file_name();
                if !world.static_names.contains(&name) && !world.tmp_keep.contains(&name) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }
}

/// Checks and empties what a call of this kind may have written.
fn sweep_after(world: &World, op: u8) {
    let keep = &world.static_names;
    match op {
        0 | 1 => sweep(&world.outbox, "the outbox", &[]),
        2 => {}
        _ => {
            sweep(&world.cache, "the cache folder", &[]);
            for sub in ["cur", "new", "tmp"] {
                let what = "the Maildir";
                sweep(
                    &world.maildir.join(sub),
                    what,
                    if sub == "tmp" { &world.tmp_keep } else { keep },
                );
            }
        }
    }
    // Nothing is ever written there; checked now and then (it costs a few syscalls).
    if world
        .count
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .is_multiple_of(64)
    {
        for sub in ["cur", "new", "tmp"] {
            sweep(&world.drafts.join(sub), "the drafts folder", &[]);
        }
        let secret = fs::symlink_metadata(&world.secret).expect("secret removed");
        assert!(
            secret.is_file() && secret.len() == world.secret_len,
            "the file outside was changed"
        );
        // A log that grows without bound would slow the campaign.
        let log = world.root.join("log");
        if fs::metadata(&log)
            .map(|m| m.len() > 1 << 20)
            .unwrap_or(false)
        {
            let _ = fs::remove_file(&log);
        }
    }
}

/// Runs one case and judges it; returns the call and its code.
pub fn run(data: &[u8]) -> (&'static str, ULONG) {
    let world = WORLD.get().expect("init first");
    // The first case of each process (AFL++ forks a new one after a crash or a timeout).
    if world
        .fresh
        .swap(false, std::sync::atomic::Ordering::Relaxed)
    {
        reset_all(world);
    }
    let Some(input) = split(data) else {
        return ("none", 0);
    };
    let (call, rc) = match input.op {
        0 => ("MAPISendMail", send_narrow(world, &input)),
        1 => ("MAPISendMailW", send_wide(world, &input)),
        2 => ("MAPIResolveName", resolve(world, &input)),
        _ => (
            "MAPIReadMail",
            read_mail(world, &data[2.min(data.len())..], input.flags),
        ),
    };
    check_code(call, rc);
    sweep_after(world, input.op);
    (call, rc)
}

/// The world's folder: `MAPISHIM_FUZZ_DIR`, else a per-process folder on tmpfs (fsync is
/// free there, so the campaign measures the code, not the disk).
pub fn default_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("MAPISHIM_FUZZ_DIR") {
        return PathBuf::from(dir).join(format!("w{}", std::process::id()));
    }
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    base.join(format!("mapishim-fuzz-{}", std::process::id()))
}
