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
mod listing;
mod read;
mod types;
mod writes;

pub use attach::cleanup as cleanup_attachments;
pub use id::{Folder, MAX_ID_LEN, MAX_LONG_ID_LEN};
pub use read::{BODY_FILE_NAME, format_date};
pub use types::{
    FindOptions, Limits, ReadAttachment, ReadMessage, ReadOptions, ReadRecipient, Summary,
};

use listing::Listing;
use mapishim_core::config::MailboxSettings;
use mapishim_core::{MapiError, Result};
use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use types::{CachedDate, Entry, open_error};

/// The configured Maildir folders; listing in `listing`, changes in `writes`, reading here.
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

pub(crate) fn same_folder(a: &Path, b: &Path) -> bool {
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
        if !opts.peek
            && entry.unread()
            && let Err(e) = self.mark_read(&entry)
        {
            tracing::warn!(id, error = %e, "cannot mark the message read");
        }
        Ok(message)
    }
}
