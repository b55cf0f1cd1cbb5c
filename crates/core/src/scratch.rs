//! Private scratch folders: the staged copies a composer reads and the attachment files
//! `MAPIReadMail` returns. Both live under the per-user cache folder, get names safe on
//! every platform, and are removed after a retention period.
use crate::text::{bare_file_name, truncate_file_name};
use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// In bytes: file systems count bytes (255), and a ` (n)` suffix must still fit.
pub const MAX_NAME_BYTES: usize = 180;

/// `<user cache>/mapishim/<name>` (`~/.cache/…`, `%LOCALAPPDATA%\…`): private to the user.
pub fn user_cache_folder(name: &str) -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("mapishim")
        .join(name)
}

/// A new folder with a random unused name under `root` (created private if missing), mode
/// 0700 from the start: no window in which others could read it. Removed when dropped
/// unless kept.
pub fn new_private_folder(root: &Path, prefix: &str) -> io::Result<tempfile::TempDir> {
    crate::files::create_private_dir_all(root)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o700));
    }
    builder.tempdir_in(root)
}

/// Names Windows maps to devices whatever the extension (`con.txt` opens the console).
pub fn is_windows_device(name: &str) -> bool {
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
pub struct NameSet {
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
        let base = truncate_file_name(&base, MAX_NAME_BYTES);
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

/// Removes the `<prefix>*` folders under `root` last modified more than `retention` ago;
/// returns how many were removed. Symlinks and other entries are left alone.
pub fn remove_expired(root: &Path, prefix: &str, retention: Duration) -> io::Result<usize> {
    let entries = match fs::read_dir(root) {
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
            .is_some_and(|n| n.starts_with(prefix));
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
