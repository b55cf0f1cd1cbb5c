//! The private temp folders that MAPIReadMail writes attachments into.
//!
//! Each read gets a fresh folder `read-XXXXXX` (mode 0700 on Unix) under the caller's
//! `attach_root`; files are created with `create_new`, so nothing is overwritten and no
//! symlink is followed. [`cleanup`] removes folders older than a retention period.
use crate::fsutil;
pub(crate) use mapishim_core::scratch::{self, NameSet};
use mapishim_core::{MapiCode, MapiError, Result};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Prefix of the per-read folders; [`cleanup`] touches nothing else.
pub const FOLDER_PREFIX: &str = "read-";

/// A fresh private folder for one read; removed again unless [`ReadFolder::keep`] is called.
pub(crate) struct ReadFolder {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
}

fn write_error(e: &io::Error, what: &str) -> MapiError {
    match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
            MapiError::new(MapiCode::DiskFull, format!("{what}: {e}"))
        }
        _ => MapiError::new(MapiCode::AttachmentWriteFailure, format!("{what}: {e}")),
    }
}

impl ReadFolder {
    pub fn new(root: &Path) -> Self {
        Self {
            dir: None,
            root: root.to_path_buf(),
        }
    }

    /// Created on the first file, so reads without attachments leave no folder behind.
    fn dir(&mut self) -> Result<&Path> {
        if self.dir.is_none() {
            scratch::create_private_dir_all(&self.root)
                .map_err(|e| write_error(&e, &format!("cannot create {}", self.root.display())))?;
            // A random, unused name; mode 0700 from the start (no window with wider rights).
            let mut builder = tempfile::Builder::new();
            builder.prefix(FOLDER_PREFIX);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                builder.permissions(fs::Permissions::from_mode(0o700));
            }
            let dir = builder.tempdir_in(&self.root).map_err(|e| {
                write_error(
                    &e,
                    &format!("cannot create a folder in {}", self.root.display()),
                )
            })?;
            self.dir = Some(dir);
        }
        Ok(self.dir.as_ref().expect("just set").path())
    }

    pub fn write(&mut self, name: &str, data: &[u8]) -> Result<PathBuf> {
        let path = self.dir()?.join(name);
        let mut file = fsutil::create_new_private(&path)
            .map_err(|e| write_error(&e, &format!("cannot create {}", path.display())))?;
        file.write_all(data)
            .map_err(|e| write_error(&e, &format!("cannot write {}", path.display())))?;
        Ok(path)
    }

    /// Keeps the folder for the caller; `None` when nothing was written.
    pub fn keep(self) -> Option<PathBuf> {
        self.dir.map(tempfile::TempDir::keep)
    }
}

/// Removes the `read-*` folders under `attach_root` last modified more than `retention`
/// ago; returns how many were removed.
pub fn cleanup(attach_root: &Path, retention: Duration) -> io::Result<usize> {
    scratch::remove_expired(attach_root, FOLDER_PREFIX, retention)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_safe_and_unique() {
        let mut names = NameSet::default();
        let got: Vec<String> = [
            Some("../../x"),
            Some("con.txt"),
            Some("a/b"),
            Some("bad\u{1}\r\nname.txt"),
            Some(""),
            None,
            Some("report.pdf"),
            Some("REPORT.pdf"),
            Some("report.pdf"),
            Some(".."),
            Some(".bashrc"),
            Some("LPT1"),
            Some("x:y*z?.doc"),
        ]
        .iter()
        .map(|n| names.unique(*n, "attachment.bin"))
        .collect();
        assert_eq!(
            got,
            [
                "x",
                "_con.txt",
                "b",
                "bad name.txt",
                "attachment.bin",
                "attachment (2).bin",
                "report.pdf",
                "REPORT (2).pdf",
                "report (3).pdf",
                "attachment (3).bin",
                "bashrc",
                "_LPT1",
                "x_y_z_.doc",
            ]
        );
        for name in &got {
            assert!(!name.contains(['/', '\\']) && !name.chars().any(char::is_control));
        }
        let long = names.unique(Some(&format!("{}.pdf", "é".repeat(400))), "a");
        assert!(long.len() <= scratch::MAX_NAME_BYTES && long.ends_with(".pdf"));
    }

    #[test]
    fn cleanup_removes_only_old_read_folders() {
        let root = tempfile::tempdir().unwrap();
        let mut folder = ReadFolder::new(root.path());
        folder.write("a.txt", b"x").unwrap();
        let kept = folder.keep().unwrap();
        fs::create_dir(root.path().join("other")).unwrap();
        assert_eq!(cleanup(root.path(), Duration::from_secs(3600)).unwrap(), 0);
        assert!(kept.exists());
        assert_eq!(cleanup(root.path(), Duration::ZERO).unwrap(), 1);
        assert!(!kept.exists());
        assert!(root.path().join("other").exists());
        assert_eq!(
            cleanup(&root.path().join("missing"), Duration::ZERO).unwrap(),
            0
        );
    }
}
