//! Staged attachment copies: one private folder per message, files under their display
//! names, removed after the retention period.
use mapishim_core::{MapiError, Message, Result};
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

/// Staged folders carry this prefix; cleanup touches nothing else.
const FOLDER_PREFIX: &str = "compose-";

/// Under the per-user cache folder (`~/.cache/mapishim/compose`, `%LOCALAPPDATA%\…`), so
/// other users cannot read what is staged.
pub fn default_staging_root() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("mapishim")
        .join("compose")
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
        let mut used = HashSet::new();
        let mut paths = Vec::with_capacity(message.attachments.len());
        for attachment in &message.attachments {
            let name = unique_name(&local_file_name(&attachment.file_name), &mut used);
            let path = folder.join(&name);
            let write = || -> std::io::Result<()> {
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)?;
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

    fn new_folder(&self) -> Result<PathBuf> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        create_private_dir_all(&self.root)
            .map_err(|e| MapiError::from_store_io(&e, &format!("{}", self.root.display())))?;
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        loop {
            let name = format!(
                "{FOLDER_PREFIX}{}-{:06}-{:x}-{}",
                stamp.as_secs(),
                stamp.subsec_micros(),
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            let folder = self.root.join(name);
            match create_private_dir(&folder) {
                Ok(()) => return Ok(folder),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(MapiError::from_store_io(
                        &e,
                        &format!("{}", folder.display()),
                    ));
                }
            }
        }
    }

    /// Removes staged folders older than the retention period. Best effort: a folder a
    /// composer still holds open on Windows is retried next time.
    pub fn remove_expired(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let expired = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > self.retention);
            let ours = entry
                .file_name()
                .to_string_lossy()
                .starts_with(FOLDER_PREFIX);
            if ours && expired && entry.file_type().is_ok_and(|t| t.is_dir()) {
                match fs::remove_dir_all(entry.path()) {
                    Ok(()) => {
                        tracing::debug!(folder = %entry.path().display(), "expired staging folder removed")
                    }
                    Err(e) => {
                        tracing::debug!(folder = %entry.path().display(), "staging folder kept: {e}")
                    }
                }
            }
        }
    }
}

/// Names Windows reserves for devices, whatever the extension (`con.txt` opens the console).
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// The display name as a file name any platform accepts. `file_name` is already bare
/// (see `mapishim_core::text::bare_file_name`); here device names and empties are handled.
pub fn local_file_name(file_name: &str) -> String {
    if file_name.is_empty() {
        return "attachment".into();
    }
    let stem = file_name.split('.').next().unwrap_or("").trim_end();
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        return format!("_{file_name}");
    }
    file_name.to_string()
}

/// `name`, or `name (2).ext`, … — unique ignoring case, as on Windows and macOS.
fn unique_name(name: &str, used: &mut HashSet<String>) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    };
    let mut candidate = name.to_string();
    let mut n = 2;
    while !used.insert(candidate.to_lowercase()) {
        candidate = format!("{stem} ({n}){ext}");
        n += 1;
    }
    candidate
}

#[cfg(unix)]
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().mode(0o700).create(path)
}

#[cfg(not(unix))]
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    // The per-user profile folder already keeps other users out on Windows.
    fs::create_dir(path)
}

fn create_private_dir_all(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    match create_private_dir(path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_safe() {
        let mut used = HashSet::new();
        assert_eq!(unique_name("a.pdf", &mut used), "a.pdf");
        assert_eq!(unique_name("A.PDF", &mut used), "A (2).PDF");
        assert_eq!(unique_name("a.pdf", &mut used), "a (3).pdf");
        assert_eq!(local_file_name("con.txt"), "_con.txt");
        assert_eq!(local_file_name("Com1"), "_Com1");
        assert_eq!(local_file_name("console.txt"), "console.txt");
        assert_eq!(local_file_name(""), "attachment");
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
