//! Staged attachment copies: one private folder per message, files under their display
//! names, removed after the retention period.
use mapishim_core::files;
use mapishim_core::scratch::{self, NameSet};
use mapishim_core::{MapiError, Message, Result};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Staged folders carry this prefix; cleanup touches nothing else.
const FOLDER_PREFIX: &str = "compose-";

/// Under the per-user cache folder, so that other users cannot read what is staged.
pub fn default_staging_root() -> PathBuf {
    scratch::user_cache_folder("compose")
}

pub struct Staging {
    root: PathBuf,
    retention: Duration,
}

impl Staging {
    pub fn new(root: PathBuf, retention_hours: u64) -> Self {
        Staging {
            root,
            retention: Duration::from_secs(retention_hours.saturating_mul(3600)),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Copies every attachment into a new private folder; returns the paths in order.
    pub fn stage(&self, message: &Message) -> Result<Vec<PathBuf>> {
        if message.attachments.is_empty() {
            return Ok(Vec::new());
        }
        let folder = self.new_folder()?;
        let mut names = NameSet::default();
        let mut paths = Vec::with_capacity(message.attachments.len());
        for attachment in &message.attachments {
            let path = folder.join(names.unique(Some(&attachment.file_name), "attachment"));
            let write = || -> std::io::Result<()> {
                let mut file = files::create_new_private(&path)?;
                file.write_all(&attachment.data)?;
                file.sync_all()
            };
            write().map_err(|e| {
                let _ = fs::remove_dir_all(&folder);
                MapiError::from_store_io(&e, &format!("staging {}", path.display()))
            })?;
            paths.push(path);
        }
        tracing::debug!(folder = %folder.display(), files = paths.len(), "attachments staged");
        Ok(paths)
    }

    /// A new folder with an unused random name, mode 0700 from the start.
    fn new_folder(&self) -> Result<PathBuf> {
        let failed =
            |e: std::io::Error| MapiError::from_store_io(&e, &self.root.display().to_string());
        // Kept: the composer reads it after we return; `remove_expired` removes it later.
        Ok(scratch::new_private_folder(&self.root, FOLDER_PREFIX)
            .map_err(failed)?
            .keep())
    }

    /// Removes staged folders older than the retention period. Best effort: a folder a
    /// composer still holds open on Windows is retried next time.
    pub fn remove_expired(&self) {
        match scratch::remove_expired(&self.root, FOLDER_PREFIX, self.retention) {
            Ok(removed) if removed > 0 => {
                tracing::debug!(removed, "expired staging folders removed")
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(root = %self.root.display(), "staging cleanup: {e}"),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_safe() {
        let mut names = NameSet::default();
        let mut unique = |name: &str| names.unique(Some(name), "attachment");
        assert_eq!(unique("a.pdf"), "a.pdf");
        assert_eq!(unique("A.PDF"), "A (2).PDF");
        assert_eq!(unique("a.pdf"), "a (3).pdf");
        assert_eq!(unique("con.txt"), "_con.txt");
        assert_eq!(unique("Com1"), "_Com1");
        assert_eq!(unique("console.txt"), "console.txt");
        assert_eq!(unique(""), "attachment");
    }

    #[test]
    fn expired_folders_go_and_others_stay() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::new(dir.path().join("compose"), 0);
        let message = mapishim_core::Message {
            attachments: vec![mapishim_core::Attachment {
                file_name: "x.txt".into(),
                content_type: "text/plain".into(),
                data: b"x".to_vec(),
                source: PathBuf::new(),
            }],
            ..test_message()
        };
        let staged = staging.stage(&message).unwrap();
        assert_eq!(fs::read(&staged[0]).unwrap(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&staged[0]), 0o600, "a staged copy is private");
            assert_eq!(mode(staged[0].parent().unwrap()), 0o700);
            assert_eq!(mode(staging.root()), 0o700);
        }
        fs::create_dir(staging.root().join("not-ours")).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        staging.remove_expired();
        assert!(!staged[0].exists());
        assert!(staging.root().join("not-ours").exists());
        let kept = Staging::new(dir.path().join("compose"), 1);
        let staged = kept.stage(&message).unwrap();
        kept.remove_expired();
        assert!(staged[0].exists());
    }

    pub(crate) fn test_message() -> Message {
        Message {
            from: mapishim_core::Mailbox {
                name: None,
                address: "me@example.org".into(),
            },
            to: vec![],
            cc: vec![],
            bcc: vec![],
            subject: String::new(),
            body: String::new(),
            attachments: vec![],
            receipt_requested: false,
            dialog: true,
            modeless: false,
            message_id: "x@example.org".into(),
            date: 0,
        }
    }
}
