//! The Maildir store behind MAPIFindNext, MAPIReadMail, MAPISaveMail and MAPIDeleteMail.
//!
//! A [`Store`] works on the folders of `[mailbox]` (see docs/mailbox.md): `maildir`, which
//! MAPIFindNext walks, `drafts`, where MAPISaveMail writes, and `trash`, where MAPIDeleteMail
//! moves messages. Messages are named by IDs derived from their Maildir unique names (see
//! [`id`]), so an ID survives flag changes, other processes and restarts. Everything is
//! bounded ([`Limits`]): no file in the Maildir can make a call crash, hang, or write
//! anywhere but the per-read attachment folder.
#![forbid(unsafe_code)]

pub mod attach;
mod fsutil;
pub mod id;
mod read;

pub use attach::cleanup as cleanup_attachments;
pub use id::{Folder, MAX_ID_LEN, MAX_LONG_ID_LEN};
pub use read::{BODY_FILE_NAME, format_date};

use id::{INFO_SEPARATOR, message_id, parse_id, split_name};
use mapishim_abi as abi;
use mapishim_core::config::MailboxSettings;
use mapishim_core::mime::{self, BccHeader};
use mapishim_core::{MapiCode, MapiError, Message, Result};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
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
struct Entry {
    id: String,
    folder: Folder,
    path: PathBuf,
    name: OsString,
    in_new: bool,
    flags: String,
    has_info: bool,
    len: u64,
    mtime: Option<SystemTime>,
}

impl Entry {
    fn unread(&self) -> bool {
        !self.flags.contains('S')
    }

    fn mapi_flags(&self) -> u32 {
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

    fn mtime_secs(&self) -> Option<i64> {
        let m = self.mtime?;
        Some(match m.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct CachedDate {
    len: u64,
    mtime: Option<SystemTime>,
    date: i64,
}

fn invalid(id: &str) -> MapiError {
    MapiError::new(
        MapiCode::InvalidMessage,
        format!("no message with ID {id:?}"),
    )
}

fn open_error(e: &io::Error, id: &str) -> MapiError {
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

fn symlink_errno() -> Option<i32> {
    #[cfg(unix)]
    return Some(libc::ELOOP);
    #[cfg(not(unix))]
    None
}

/// A Maildir unique name no other writer uses: `<secs>.M<usecs>P<pid>Q<n>.<host>`, short
/// enough to be its own ID (the host part is cut to ASCII letters, digits and `-`).
fn new_unique() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let host: String = gethostname::gethostname()
        .to_string_lossy()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let mut name = format!(
        "{}.M{}P{}Q{}.",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let room = (MAX_ID_LEN - 2).saturating_sub(name.len());
    name.push_str(&host.chars().take(room).collect::<String>());
    if name.ends_with('.') {
        name.push_str("localhost".get(..room.min(9)).unwrap_or(""));
    }
    name
}

/// The file name with flag `flag` added to its `2,` info part, flags kept in ASCII order.
fn with_flag(entry: &Entry, flag: char) -> Option<OsString> {
    match entry.name.to_str() {
        Some(name) => {
            let unique = match name
                .find(|c: char| c.is_ascii() && id::INFO_SEPARATORS.contains(&(c as u8)))
            {
                Some(pos) if entry.has_info => &name[..pos],
                Some(_) => return None, // an info part of another version: leave it
                None => name,
            };
            let mut flags: Vec<char> = entry.flags.chars().chain([flag]).collect();
            flags.sort_unstable();
            flags.dedup();
            let flags: String = flags.into_iter().collect();
            Some(format!("{unique}{INFO_SEPARATOR}2,{flags}").into())
        }
        // Not UTF-8: append; readers accept flags in any order.
        None if entry.has_info => {
            let mut name = entry.name.clone();
            name.push(flag.to_string());
            Some(name)
        }
        None if split_name(&entry.name).unique.len() == entry.name.len() => {
            let mut name = entry.name.clone();
            name.push(format!("{INFO_SEPARATOR}2,{flag}"));
            Some(name)
        }
        None => None,
    }
}

pub struct Store {
    maildir: PathBuf,
    drafts: Option<PathBuf>,
    trash: Option<PathBuf>,
    limits: Limits,
    /// FIFO sort keys by ID, checked against size and time; kept after a delete so that a
    /// deleted seed still has a position.
    dates: Mutex<HashMap<String, CachedDate>>,
    /// The last listing of each folder, valid while its `cur/` and `new/` are unchanged.
    listings: Mutex<HashMap<Folder, Listing>>,
}

struct Listing {
    stamp: FolderStamp,
    entries: Arc<Vec<Entry>>,
    /// Sorted views by (unread only, FIFO).
    ordered: HashMap<(bool, bool), SortedView>,
}

/// Messages with their sort date, in MAPIFindNext order.
type SortedView = Arc<Vec<(i64, Entry)>>;

type FolderStamp = (SystemTime, SystemTime);

/// How long a folder must be unchanged before its listing is cached: a file system with
/// coarse time stamps (FAT: 2 s) could otherwise hide a change made in the same tick.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(3);

/// The modification times of `cur/` and `new/`, when both are settled.
fn folder_stamp(dir: &Path) -> Option<FolderStamp> {
    let time = |sub: &str| fs::metadata(dir.join(sub)).and_then(|m| m.modified()).ok();
    let stamp = (time("cur")?, time("new")?);
    let now = SystemTime::now();
    let settled = |t: SystemTime| now.duration_since(t).is_ok_and(|age| age >= SETTLE);
    (settled(stamp.0) && settled(stamp.1)).then_some(stamp)
}

fn same_folder(a: &Path, b: &Path) -> bool {
    a == b || matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

impl Store {
    pub fn new(settings: &MailboxSettings) -> Self {
        Self::from_paths(
            settings.maildir.clone(),
            settings.drafts.clone(),
            settings.trash.clone(),
        )
    }

    pub fn from_paths(maildir: PathBuf, drafts: Option<PathBuf>, trash: Option<PathBuf>) -> Self {
        // A drafts folder that is the maildir itself would give its messages two IDs.
        let drafts = drafts.filter(|d| !same_folder(d, &maildir));
        Self {
            maildir,
            drafts,
            trash,
            limits: Limits::default(),
            dates: Mutex::new(HashMap::new()),
            listings: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The folder's path; `None` for drafts when none is configured.
    pub fn folder_path(&self, folder: Folder) -> Option<&Path> {
        match folder {
            Folder::Inbox => Some(&self.maildir),
            Folder::Drafts => self.drafts.as_deref(),
        }
    }

    /// The messages of a folder by ID. Only regular files in `cur/` and `new/` whose names
    /// do not start with a dot count: symlinks, subfolders (Maildir++ folders live beside
    /// `cur/`, never inside) and special files are skipped. When a unique name is in both,
    /// `cur/` wins.
    fn scan_uncached(&self, folder: Folder) -> Result<Vec<Entry>> {
        let Some(dir) = self.folder_path(folder) else {
            return Ok(Vec::new());
        };
        let mut found: BTreeMap<String, Entry> = BTreeMap::new();
        for (sub, in_new) in [("cur", false), ("new", true)] {
            let path = dir.join(sub);
            let entries = match fs::read_dir(&path) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(MapiError::from_store_io(
                        &e,
                        &format!("cannot list {}", path.display()),
                    ));
                }
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                if name.as_encoded_bytes().first() == Some(&b'.') {
                    continue;
                }
                // `DirEntry::metadata` does not follow symlinks.
                let Ok(meta) = entry.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                let parts = split_name(&name);
                let id = message_id(folder, parts.unique);
                if found.contains_key(&id) {
                    continue;
                }
                let (flags, has_info) = (parts.flags, parts.has_info);
                found.insert(
                    id.clone(),
                    Entry {
                        id,
                        folder,
                        path: entry.path(),
                        name,
                        in_new,
                        flags,
                        has_info,
                        len: meta.len(),
                        mtime: meta.modified().ok(),
                    },
                );
            }
        }
        Ok(found.into_values().collect())
    }

    /// The folder's messages, from the cache while `cur/` and `new/` are unchanged: a
    /// caller walking a big mailbox with MAPIFindNext would otherwise list the folder once
    /// per message. Any delivery, rename or removal changes a folder's modification time.
    fn scan(&self, folder: Folder) -> Result<Arc<Vec<Entry>>> {
        let stamp = self.folder_path(folder).and_then(folder_stamp);
        if let Some(stamp) = stamp {
            let cache = self.listings.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(listing) = cache.get(&folder).filter(|l| l.stamp == stamp) {
                return Ok(listing.entries.clone());
            }
        }
        let entries = Arc::new(self.scan_uncached(folder)?);
        let mut cache = self.listings.lock().unwrap_or_else(|p| p.into_inner());
        match stamp {
            Some(stamp) => {
                cache.insert(
                    folder,
                    Listing {
                        stamp,
                        entries: entries.clone(),
                        ordered: HashMap::new(),
                    },
                );
            }
            None => {
                cache.remove(&folder);
            }
        }
        Ok(entries)
    }

    fn lookup(&self, id: &str) -> Result<Entry> {
        let folder = parse_id(id).ok_or_else(|| invalid(id))?;
        self.scan(folder)?
            .iter()
            .find(|e| e.id == id)
            .cloned()
            .ok_or_else(|| invalid(id))
    }

    /// Reads the header of a message, bounded; `None` when the file cannot be read.
    fn head(&self, entry: &Entry) -> Option<Vec<u8>> {
        let mut file = fsutil::open_regular(&entry.path).ok()?;
        fsutil::read_head(&mut file, self.limits.max_header_bytes).ok()
    }

    /// The FIFO sort date: the Date header, else the file time; cached per ID.
    fn fifo_date(&self, entry: &Entry) -> i64 {
        let cache = self.dates.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.get(&entry.id) {
            if c.len == entry.len && c.mtime == entry.mtime {
                return c.date;
            }
        }
        drop(cache);
        let date = self
            .head(entry)
            .and_then(|h| {
                mail_parser::MessageParser::new()
                    .parse_headers(&h)
                    .and_then(|m| read::header_date(&m))
            })
            .or_else(|| entry.mtime_secs())
            .unwrap_or(0);
        let mut cache = self.dates.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded by the number of messages ever seen; cleared if that gets silly.
        if cache.len() > 1_000_000 {
            cache.clear();
        }
        cache.insert(
            entry.id.clone(),
            CachedDate {
                len: entry.len,
                mtime: entry.mtime,
                date,
            },
        );
        date
    }

    /// The folder's messages in MAPIFindNext order, each with its sort date (0 unless FIFO);
    /// cached with the listing it was sorted from.
    fn ordered(&self, folder: Folder, opts: FindOptions) -> Result<SortedView> {
        let entries = self.scan(folder)?;
        let key = (opts.unread_only, opts.fifo);
        {
            let cache = self.listings.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(sorted) = cache
                .get(&folder)
                .filter(|l| Arc::ptr_eq(&l.entries, &entries))
                .and_then(|l| l.ordered.get(&key))
            {
                return Ok(sorted.clone());
            }
        }
        let mut keyed: Vec<(i64, Entry)> = entries
            .iter()
            .filter(|e| !opts.unread_only || e.unread())
            .map(|e| (if opts.fifo { self.fifo_date(e) } else { 0 }, e.clone()))
            .collect();
        keyed.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
        let keyed = Arc::new(keyed);
        let mut cache = self.listings.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(listing) = cache
            .get_mut(&folder)
            .filter(|l| Arc::ptr_eq(&l.entries, &entries))
        {
            listing.ordered.insert(key, keyed.clone());
        }
        Ok(keyed)
    }

    /// MAPIFindNext: the ID of the message after `seed` (the first one for `None` or ""),
    /// or `MAPI_E_NO_MESSAGES` after the last. A seed that was deleted meanwhile still
    /// has its place; a seed this store never named gives `MAPI_E_INVALID_MESSAGE`.
    pub fn find_next(
        &self,
        message_type: Option<&str>,
        seed: Option<&str>,
        opts: FindOptions,
    ) -> Result<String> {
        if message_type.is_some_and(|t| !t.is_empty()) {
            return Err(MapiError::new(
                MapiCode::NoMessages,
                "only ordinary mail (IPM) is stored",
            ));
        }
        let seed = seed.filter(|s| !s.is_empty());
        if let Some(s) = seed {
            if parse_id(s) != Some(Folder::Inbox) {
                return Err(invalid(s));
            }
        }
        let seed_key = match seed {
            None => None,
            Some(s) if !opts.fifo => Some((0, s.to_string())),
            Some(s) => {
                let date = match self.scan(Folder::Inbox)?.iter().find(|e| e.id == s) {
                    Some(e) => self.fifo_date(e),
                    None => {
                        let cache = self.dates.lock().unwrap_or_else(|p| p.into_inner());
                        cache.get(s).ok_or_else(|| invalid(s))?.date
                    }
                };
                Some((date, s.to_string()))
            }
        };
        let ordered = self.ordered(Folder::Inbox, opts)?;
        // Sorted by (date, ID), so the message after the seed is found by bisection.
        let next = match &seed_key {
            None => 0,
            Some((sd, sid)) => ordered.partition_point(|(date, e)| (*date, &e.id) <= (*sd, sid)),
        };
        ordered
            .get(next)
            .map(|(_, e)| e.id.clone())
            .ok_or_else(|| MapiError::new(MapiCode::NoMessages, "no more messages"))
    }

    /// What MAPIFindNext would return in turn, with header fields for `mapishim mailbox list`.
    pub fn list(&self, folder: Folder, opts: FindOptions) -> Result<Vec<Summary>> {
        let envelope = ReadOptions {
            envelope_only: true,
            ..Default::default()
        };
        Ok(self
            .ordered(folder, opts)?
            .iter()
            .map(|(_, e)| {
                let head = self.head(e).unwrap_or_default();
                // Envelope-only parsing writes nothing, so no attachment folder is needed.
                let (message, date) =
                    match read::parse(&head, envelope, &self.limits, Path::new("")) {
                        Ok((message, date, _)) => (message, date),
                        Err(_) => (ReadMessage::default(), None),
                    };
                Summary {
                    date_received: date.or_else(|| e.mtime_secs()).and_then(format_date),
                    flags: e.mapi_flags() | message.flags,
                    id: e.id.clone(),
                    folder: e.folder,
                    path: e.path.clone(),
                    size: e.len,
                    subject: message.subject,
                    originator: message.originator,
                }
            })
            .collect())
    }

    /// The file a message ID names now (it changes when flags do).
    pub fn path_of(&self, id: &str) -> Result<PathBuf> {
        Ok(self.lookup(id)?.path)
    }

    fn open(&self, id: &str) -> Result<(Entry, fs::File)> {
        // Another client may rename the file (new flags) between listing and opening.
        let mut last = None;
        for _ in 0..2 {
            let entry = self.lookup(id)?;
            match fsutil::open_regular(&entry.path) {
                Ok(file) => return Ok((entry, file)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => last = Some(e),
                Err(e) => return Err(open_error(&e, id)),
            }
        }
        Err(open_error(&last.expect("set in the loop"), id))
    }

    /// MAPIReadMail. Attachment files (and the body, with `body_as_file`) go to a fresh
    /// private folder under `attach_root`. Without `peek` an unread message is marked read
    /// afterwards (renamed into `cur/` with the `S` flag; its ID stays the same).
    pub fn read(&self, id: &str, opts: ReadOptions, attach_root: &Path) -> Result<ReadMessage> {
        let (entry, mut file) = self.open(id)?;
        let data = if opts.envelope_only {
            fsutil::read_head(&mut file, self.limits.max_header_bytes)
                .map_err(|e| MapiError::from_store_io(&e, "cannot read message"))?
        } else {
            fsutil::read_capped(&mut file, self.limits.max_message_bytes)?
        };
        drop(file);
        let (mut message, date, folder) = read::parse(&data, opts, &self.limits, attach_root)?;
        message.id = entry.id.clone();
        message.flags |= entry.mapi_flags();
        message.date_received = date.or_else(|| entry.mtime_secs()).and_then(format_date);
        message.attachment_dir = folder.keep();
        if !opts.peek && entry.unread() {
            if let Err(e) = self.mark_read(&entry) {
                tracing::warn!(id, error = %e, "cannot mark the message read");
            }
        }
        Ok(message)
    }

    fn mark_read(&self, entry: &Entry) -> io::Result<()> {
        let dir = self
            .folder_path(entry.folder)
            .expect("entries come from configured folders");
        let name = with_flag(entry, 'S').ok_or_else(|| io::Error::other("unknown info part"))?;
        let target = dir.join("cur").join(name);
        if target == entry.path {
            return Ok(());
        }
        // rename replaces silently; never clobber another message.
        if fs::symlink_metadata(&target).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists", target.display()),
            ));
        }
        fs::rename(&entry.path, &target)?;
        fsutil::sync_dir(&dir.join("cur"));
        if entry.in_new {
            fsutil::sync_dir(&dir.join("new"));
        }
        Ok(())
    }

    /// MAPISaveMail: writes `message` as a new message in `drafts` (the maildir when no
    /// drafts folder is configured) flagged seen and draft (`:2,DS` in `cur/`), or in place
    /// of the message `replace` names, which keeps its ID. Written in `tmp/`, fsync'd, then
    /// renamed. Returns the ID.
    pub fn save(&self, message: &Message, replace: Option<&str>) -> Result<String> {
        let (folder, target) = match replace.filter(|r| !r.is_empty()) {
            Some(id) => {
                let entry = self.lookup(id)?;
                (entry.folder, entry.path)
            }
            None => {
                let folder = if self.drafts.is_some() {
                    Folder::Drafts
                } else {
                    Folder::Inbox
                };
                let dir = self.folder_path(folder).expect("checked above");
                let name = format!("{}{INFO_SEPARATOR}2,DS", new_unique());
                (folder, dir.join("cur").join(name))
            }
        };
        let dir = self.folder_path(folder).expect("configured").to_path_buf();
        ensure_maildir(&dir)?;
        if replace.is_none_or(str::is_empty) && fs::symlink_metadata(&target).is_ok() {
            return Err(MapiError::failure(format!(
                "{} exists already",
                target.display()
            )));
        }
        write_atomically(&dir, &target, |out| {
            mime::write_message(message, BccHeader::Keep, out)
        })?;
        let name = target.file_name().expect("a file");
        Ok(message_id(folder, split_name(name).unique))
    }

    /// MAPIDeleteMail: moves the message to `trash` (same unique name and flags, in the same
    /// `cur/` or `new/`), or deletes it when no trash is configured or it is in the trash.
    pub fn delete(&self, id: &str) -> Result<()> {
        let entry = self.lookup(id)?;
        let dir = self.folder_path(entry.folder).expect("configured");
        let sub = if entry.in_new { "new" } else { "cur" };
        match &self.trash {
            Some(trash) if !same_folder(trash, dir) => {
                ensure_maildir(trash)?;
                let mut target = trash.join(sub).join(&entry.name);
                if fs::symlink_metadata(&target).is_ok() {
                    // The trash holds an older copy under this name: keep both.
                    let info = if entry.has_info {
                        format!("{INFO_SEPARATOR}2,{}", entry.flags)
                    } else {
                        String::new()
                    };
                    target = trash.join(sub).join(format!("{}{info}", new_unique()));
                }
                move_file(&entry.path, &target, trash)?;
                fsutil::sync_dir(&dir.join(sub));
            }
            _ => {
                fs::remove_file(&entry.path).map_err(|e| {
                    MapiError::from_store_io(&e, &format!("cannot delete {}", entry.path.display()))
                })?;
                fsutil::sync_dir(&dir.join(sub));
            }
        }
        Ok(())
    }
}

fn ensure_maildir(dir: &Path) -> Result<()> {
    for sub in ["cur", "new", "tmp"] {
        let path = dir.join(sub);
        mapishim_core::scratch::create_private_dir_all(&path).map_err(|e| {
            MapiError::from_store_io(&e, &format!("cannot create {}", path.display()))
        })?;
    }
    Ok(())
}

/// Removes the temporary file unless it was renamed into place.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = fs::remove_file(path);
        }
    }
}

/// Renders into `<maildir>/tmp/`, fsyncs, renames onto `target` (atomically replacing
/// what is there) and fsyncs the target folder.
fn write_atomically(
    maildir: &Path,
    target: &Path,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let temp_path = maildir.join("tmp").join(new_unique());
    let io_err = |what: &str, e: io::Error| {
        MapiError::from_store_io(&e, &format!("{what} {}", temp_path.display()))
    };
    let file = fsutil::create_new_private(&temp_path).map_err(|e| io_err("cannot create", e))?;
    let mut temp = TempFile(Some(temp_path.clone()));
    let mut writer = BufWriter::with_capacity(256 * 1024, file);
    render(&mut writer).map_err(|e| io_err("cannot write", e))?;
    let file = writer
        .into_inner()
        .map_err(|e| io_err("cannot write", e.into_error()))?;
    file.sync_all().map_err(|e| io_err("cannot flush", e))?;
    drop(file);
    fs::rename(&temp_path, target).map_err(|e| io_err("cannot rename", e))?;
    temp.0 = None;
    if let Some(parent) = target.parent() {
        fsutil::sync_dir(parent);
    }
    Ok(())
}

/// Moves a message file into another Maildir, copying through its `tmp/` when the two are
/// on different file systems.
fn move_file(from: &Path, to: &Path, to_maildir: &Path) -> Result<()> {
    let err = |e: io::Error| {
        MapiError::from_store_io(
            &e,
            &format!("cannot move {} to {}", from.display(), to.display()),
        )
    };
    match fs::rename(from, to) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
            let mut source = fsutil::open_regular(from).map_err(err)?;
            write_atomically(to_maildir, to, |out| io::copy(&mut source, out).map(drop))?;
            fs::remove_file(from).map_err(err)?;
        }
        Err(e) => return Err(err(e)),
    }
    if let Some(parent) = to.parent() {
        fsutil::sync_dir(parent);
    }
    Ok(())
}
