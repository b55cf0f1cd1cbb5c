//! The private temp folders that MAPIReadMail writes attachments into.
//!
//! Each read gets a fresh folder `read-XXXXXX` (mode 0700 on Unix) under the caller's
//! `attach_root`; files are created with `create_new`, so nothing is overwritten and no
//! symlink is followed. [`cleanup`] removes folders older than a retention period.
use crate::fsutil;
use mapishim_abi as abi;
use mapishim_core::text::bare_file_name;
use mapishim_core::{MapiError, Result};
use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Prefix of the per-read folders; [`cleanup`] touches nothing else.
pub const FOLDER_PREFIX: &str = "read-";
/// In bytes: file systems count bytes (255), and a ` (n)` suffix must still fit.
const MAX_NAME_BYTES: usize = 180;

/// Names Windows maps to devices whatever the extension (`con.txt` opens the console).
fn is_windows_device(name: &str) -> bool {
    let stem = name
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_lowercase();
    if matches!(
        stem.as_str(),
        "con" | "prn" | "aux" | "nul" | "conin$" | "conout$"
    ) {
        return true;
    }
    match stem
        .strip_prefix("com")
        .or_else(|| stem.strip_prefix("lpt"))
    {
        Some(n) => {
            let mut c = n.chars();
            matches!(
                (c.next(), c.next()),
                (Some('0'..='9' | '¹' | '²' | '³'), None)
            )
        }
        None => false,
    }
}

/// File names for the attachments of one read: safe on every platform and unique in the
/// folder, compared case-insensitively (Windows and macOS folders ignore case).
#[derive(Default)]
pub(crate) struct NameSet {
    taken: HashSet<String>,
}

impl NameSet {
    /// `fallback` names an attachment whose own name is empty or unusable.
    pub fn unique(&mut self, wanted: Option<&str>, fallback: &str) -> String {
        let mut base = bare_file_name(wanted.unwrap_or(""));
        // A leading dot would hide the file and `..`-like names are meaningless.
        base = base.trim_start_matches('.').to_string();
        if base.is_empty() {
            base = fallback.to_string();
        }
        if is_windows_device(&base) {
            base.insert(0, '_');
        }
        let base = mapishim_core::text::truncate_file_name(&base, MAX_NAME_BYTES);
        let (stem, ext) = split_ext(&base);
        let mut candidate = format!("{stem}{ext}");
        let mut n = 2;
        while !self.taken.insert(candidate.to_lowercase()) {
            candidate = format!("{stem} ({n}){ext}");
            n += 1;
        }
        candidate
    }
}

fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= 16 => name.split_at(dot),
        _ => (name, ""),
    }
}

/// A fresh private folder for one read; removed again unless [`ReadFolder::keep`] is called.
pub(crate) struct ReadFolder {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
}

fn write_error(e: &io::Error, what: &str) -> MapiError {
    match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
            MapiError::new(abi::MAPI_E_DISK_FULL, format!("{what}: {e}"))
        }
        _ => MapiError::new(abi::MAPI_E_ATTACHMENT_WRITE_FAILURE, format!("{what}: {e}")),
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
            fsutil::create_private_dir_all(&self.root)
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
/// ago; returns how many were removed. Symlinks and other entries are left alone.
pub fn cleanup(attach_root: &Path, retention: Duration) -> io::Result<usize> {
    let entries = match fs::read_dir(attach_root) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let is_ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(FOLDER_PREFIX));
        // `DirEntry::metadata` does not follow symlinks.
        let Ok(meta) = entry.metadata() else { continue };
        if !is_ours || !meta.is_dir() {
            continue;
        }
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= retention);
        // remove_dir_all does not follow symlinks inside the folder.
        if old && fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
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
        assert!(long.len() <= MAX_NAME_BYTES && long.ends_with(".pdf"));
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
