//! What changes a Maildir: marking read, MAPISaveMail, MAPIDeleteMail, and their
//! unique names, atomic writes and moves.

use crate::id::{self, Folder, INFO_SEPARATOR, MAX_ID_LEN, message_id, split_name};
use crate::types::Entry;
use crate::{Store, fsutil, same_folder};
use mapishim_core::mime::{self, BccHeader};
use mapishim_core::{MapiError, Message, Result};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

/// A Maildir unique name no other writer uses: `<secs>.M<usecs>P<pid>Q<n>.<host>`, short
/// enough to be its own ID (the host part is cut to ASCII letters, digits and `-`).
pub(crate) fn new_unique() -> String {
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
pub(crate) fn with_flag(entry: &Entry, flag: char) -> Option<OsString> {
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

impl Store {
    pub(crate) fn mark_read(&self, entry: &Entry) -> io::Result<()> {
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

pub(crate) fn ensure_maildir(dir: &Path) -> Result<()> {
    for sub in ["cur", "new", "tmp"] {
        let path = dir.join(sub);
        mapishim_core::files::create_private_dir_all(&path).map_err(|e| {
            MapiError::from_store_io(&e, &format!("cannot create {}", path.display()))
        })?;
    }
    Ok(())
}

/// Renders into `<maildir>/tmp/`, fsyncs, renames onto `target` (atomically replacing
/// what is there) and fsyncs the target folder.
pub(crate) fn write_atomically(
    maildir: &Path,
    target: &Path,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    mapishim_core::files::write_atomically(&maildir.join("tmp").join(new_unique()), target, render)
}

/// Moves a message file into another Maildir, copying through its `tmp/` when the two are
/// on different file systems.
pub(crate) fn move_file(from: &Path, to: &Path, to_maildir: &Path) -> Result<()> {
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
