//! Listing a folder: scanning `cur/` and `new/`, the cached listing and its sorted
//! views, and MAPIFindNext order.

use crate::id::{Folder, message_id, parse_id, split_name};
use crate::types::{CachedDate, Entry, FindOptions, ReadMessage, ReadOptions, Summary, invalid};
use crate::{Store, format_date, fsutil, read};
use mapishim_core::{MapiCode, MapiError, Result};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

pub(crate) struct Listing {
    stamp: FolderStamp,
    entries: Arc<Vec<Entry>>,
    /// Sorted views by (unread only, FIFO).
    ordered: HashMap<(bool, bool), SortedView>,
}

/// Messages with their sort date, in MAPIFindNext order.
pub(crate) type SortedView = Arc<Vec<(i64, Entry)>>;

pub(crate) type FolderStamp = (SystemTime, SystemTime);

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

impl Store {
    /// The messages of a folder by ID. Only regular files in `cur/` and `new/` whose names
    /// do not start with a dot count: symlinks, subfolders (Maildir++ folders live beside
    /// `cur/`, never inside) and special files are skipped. When a unique name is in both,
    /// `cur/` wins.
    pub(crate) fn scan_uncached(&self, folder: Folder) -> Result<Vec<Entry>> {
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
    pub(crate) fn scan(&self, folder: Folder) -> Result<Arc<Vec<Entry>>> {
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

    pub(crate) fn lookup(&self, id: &str) -> Result<Entry> {
        let folder = parse_id(id).ok_or_else(|| invalid(id))?;
        self.scan(folder)?
            .iter()
            .find(|e| e.id == id)
            .cloned()
            .ok_or_else(|| invalid(id))
    }

    /// Reads the header of a message, bounded; `None` when the file cannot be read.
    pub(crate) fn head(&self, entry: &Entry) -> Option<Vec<u8>> {
        let mut file = fsutil::open_regular(&entry.path).ok()?;
        fsutil::read_head(&mut file, self.limits.max_header_bytes).ok()
    }

    /// The FIFO sort date: the Date header, else the file time; cached per ID.
    pub(crate) fn fifo_date(&self, entry: &Entry) -> i64 {
        let cache = self.dates.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.get(&entry.id)
            && c.len == entry.len
            && c.mtime == entry.mtime
        {
            return c.date;
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
    pub(crate) fn ordered(&self, folder: Folder, opts: FindOptions) -> Result<SortedView> {
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
        if let Some(s) = seed
            && parse_id(s) != Some(Folder::Inbox)
        {
            return Err(invalid(s));
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
}
