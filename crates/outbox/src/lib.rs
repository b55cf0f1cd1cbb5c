//! The outbox backend: each message becomes one `.eml` file.
//!
//! A file is written under a temporary name (never ending in `.eml`), flushed to disk, and
//! only then renamed, so any `.eml` in the folder is complete; success is reported after the
//! rename. Names are `YYYYMMDDTHHMMSSZ-<unique>.eml`, so a listing is in send order.
#![forbid(unsafe_code)]

pub mod spool;

use mapishim_core::files::{self, TEMP_PREFIX};
use mapishim_core::mime::{self, BccHeader};
use mapishim_core::{Backend, Delivery, MapiCode, MapiError, Message, Result};
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

pub const DRAFTS: &str = "drafts";
pub const FAILED: &str = "failed";

/// A transmitting backend cannot send a message without recipients (docs/decisions.md §1): it is
/// kept in `<outbox>/drafts/` and the caller gets `MAPI_E_UNKNOWN_RECIPIENT`, or the store
/// error if even the draft could not be written.
pub fn refuse_without_recipients(outbox_dir: &Path, message: &Message) -> MapiError {
    let drafts = outbox_dir.join(DRAFTS);
    match store(&drafts, |out| {
        mime::write_message(message, BccHeader::Keep, out)
    }) {
        Ok(path) => MapiError::new(
            MapiCode::UnknownRecipient,
            format!(
                "no recipients to send to; saved as a draft in {}; configure [composer] to open dialog requests in a mail program",
                path.display()
            ),
        ),
        Err(e) => e,
    }
}

/// Keeps a copy in `failed/` with `<name>.reason` beside it: the reason and the time.
pub fn store_failed(
    dir: &Path,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    reason: &str,
) -> Result<PathBuf> {
    let path = store(dir, render)?;
    write_reason(&path, reason);
    Ok(path)
}

/// Writes `<name>.reason` beside a failed copy, privately and atomically like the copy.
pub fn write_reason(eml: &Path, reason: &str) {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let target = eml.with_extension("reason");
    let stem = eml.file_stem().unwrap_or_default().to_string_lossy();
    let temp = eml.with_file_name(format!("{TEMP_PREFIX}{stem}.reason"));
    let text = format!("time: {now}\nreason: {reason}\n");
    if let Err(e) = files::write_atomically(&temp, &target, |out| out.write_all(text.as_bytes())) {
        tracing::error!(path = %target.display(), "cannot write the reason file: {e}");
    }
}

/// A message a transmitting backend could not deliver: kept in `<outbox>/failed/` (Bcc
/// included) so that nothing is lost, and logged.
pub fn keep_failed(outbox_dir: &Path, message: &Message, reason: &str) {
    let dir = outbox_dir.join(FAILED);
    match store_failed(
        &dir,
        |out| mime::write_message(message, BccHeader::Keep, out),
        reason,
    ) {
        Ok(path) => tracing::warn!(path = %path.display(), "failed copy kept: {reason}"),
        Err(e) => tracing::error!("could not keep a failed copy ({reason}): {e}"),
    }
}

pub struct Outbox {
    dir: PathBuf,
}

/// A name no other writer uses: time stamp for ordering, then micro-seconds, process and a
/// per-process counter for uniqueness.
pub fn unique_stem(now: SystemTime) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let utc = time::OffsetDateTime::from(now);
    let stamp = utc
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "00000000T000000Z".into());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{stamp}-{:06}-{:x}-{count:04x}",
        utc.microsecond(),
        std::process::id()
    )
}

/// Writes `render` into `dir/<stem>.eml` atomically and durably; returns the final path.
/// The folder is created private on first use, and old crash leftovers in it are swept.
pub fn store(
    dir: &Path,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<PathBuf> {
    sweep_now_and_then(dir);
    let stem = unique_stem(SystemTime::now());
    let final_path = dir.join(format!("{stem}.eml"));
    files::write_atomically_making_folder(
        &dir.join(format!("{TEMP_PREFIX}{stem}")),
        &final_path,
        render,
    )?;
    Ok(final_path)
}

/// How often one process looks for crash leftovers in a folder it writes to: once at the
/// first write, then at most this often, so that a burst of sends pays one listing.
const SWEEP_INTERVAL: Duration = Duration::from_secs(600);

fn sweep_now_and_then(dir: &Path) {
    static LAST: Mutex<Option<HashMap<PathBuf, Instant>>> = Mutex::new(None);
    {
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        let last = last.get_or_insert_with(HashMap::new);
        let now = Instant::now();
        if last
            .get(dir)
            .is_some_and(|at| now.duration_since(*at) < SWEEP_INTERVAL)
        {
            return;
        }
        last.insert(dir.to_path_buf(), now);
    }
    sweep(dir);
}

/// Removes the temporary files a killed process left in `dir` (older than an hour).
pub fn sweep(dir: &Path) {
    for left in files::sweep_temporaries(dir, files::TEMP_MAX_AGE) {
        tracing::warn!(path = %left.path.display(), bytes = left.bytes, "removed a temporary file left by an interrupted write");
    }
}

fn folders(outbox_dir: &Path) -> [PathBuf; 3] {
    [
        outbox_dir.to_path_buf(),
        outbox_dir.join(DRAFTS),
        outbox_dir.join(FAILED),
    ]
}

/// Sweeps the outbox (or spool) and its `drafts/` and `failed/` folders.
pub fn sweep_all(outbox_dir: &Path) {
    folders(outbox_dir).iter().for_each(|d| sweep(d));
}

/// Temporary files in the outbox and its `drafts/` and `failed/` folders: writes in
/// progress, or leftovers of a process killed mid-write if older than an hour.
pub fn temporaries(outbox_dir: &Path) -> Vec<files::Leftover> {
    folders(outbox_dir)
        .iter()
        .flat_map(|d| files::temporaries(d))
        .collect()
}

impl Outbox {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The complete messages waiting in the outbox, oldest first.
    pub fn list(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = match fs::read_dir(&self.dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "eml"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        files.sort();
        Ok(files)
    }
}

impl Backend for Outbox {
    fn name(&self) -> &'static str {
        "outbox"
    }

    fn send(&self, message: &Message) -> Result<Delivery> {
        // The stored copy keeps Bcc so that it can be delivered later.
        let path = store(&self.dir, |out| {
            mime::write_message(message, BccHeader::Keep, out)
        })?;
        tracing::info!(path = %path.display(), recipients = message.recipient_count(), attachments = message.attachments.len(), "message stored in outbox");
        Ok(Delivery::Stored(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapishim_core::Mailbox;

    fn message() -> Message {
        Message {
            from: Mailbox {
                name: None,
                address: "a@example.org".into(),
            },
            to: vec![Mailbox {
                name: None,
                address: "b@example.org".into(),
            }],
            cc: vec![],
            bcc: vec![Mailbox {
                name: None,
                address: "c@example.org".into(),
            }],
            subject: "s".into(),
            body: "b\r\n".into(),
            attachments: vec![],
            receipt_requested: false,
            dialog: false,
            modeless: false,
            message_id: "x@example.org".into(),
            date: 0,
        }
    }

    #[test]
    fn stores_complete_files_in_send_order() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("nested/outbox"));
        let mut paths = Vec::new();
        for _ in 0..3 {
            match outbox.send(&message()).unwrap() {
                Delivery::Stored(p) => paths.push(p),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(outbox.list().unwrap(), paths);
        let name = paths[0].file_name().unwrap().to_str().unwrap();
        assert!(
            name.len() > 17 && name.as_bytes()[8] == b'T' && name.as_bytes()[15] == b'Z',
            "{name}"
        );
        let bytes = fs::read(&paths[0]).unwrap();
        let parsed = mail_parser::MessageParser::new().parse(&bytes).unwrap();
        assert_eq!(
            parsed.bcc().unwrap().first().unwrap().address(),
            Some("c@example.org")
        );
        assert_eq!(
            fs::read_dir(outbox.dir()).unwrap().count(),
            3,
            "no temporary files left"
        );
    }

    #[test]
    fn a_folder_removed_between_sends_is_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("a/outbox"));
        outbox.send(&message()).unwrap();
        fs::remove_dir_all(dir.path().join("a")).unwrap();
        let Delivery::Stored(path) = outbox.send(&message()).unwrap() else {
            panic!("not stored")
        };
        assert!(path.is_file());
        #[cfg(unix)]
        assert_eq!(mode(outbox.dir()), 0o700);
    }

    #[test]
    fn failed_writes_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let err = store(dir.path(), |out| {
            out.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        })
        .unwrap_err();
        assert_eq!(err.code(), 2);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn outbox_drafts_failed_and_reasons_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("new/outbox");
        let Delivery::Stored(stored) = Outbox::new(&root).send(&message()).unwrap() else {
            panic!("not stored")
        };
        assert_eq!(mode(&stored), 0o600);
        assert_eq!(mode(&root), 0o700);
        assert_eq!(
            mode(root.parent().unwrap()),
            0o700,
            "parents created on first use"
        );
        refuse_without_recipients(&root, &message());
        let [draft] = &Outbox::new(root.join(DRAFTS)).list().unwrap()[..] else {
            panic!("one draft")
        };
        assert_eq!(mode(draft), 0o600);
        assert_eq!(mode(&root.join(DRAFTS)), 0o700);
        keep_failed(&root, &message(), "550 no");
        let [failed] = &Outbox::new(root.join(FAILED)).list().unwrap()[..] else {
            panic!("one failed copy")
        };
        assert_eq!(mode(failed), 0o600);
        assert_eq!(mode(&root.join(FAILED)), 0o700);
        let reason = failed.with_extension("reason");
        assert_eq!(mode(&reason), 0o600);
        assert!(
            fs::read_to_string(&reason)
                .unwrap()
                .contains("reason: 550 no\n")
        );
        assert!(temporaries(&root).is_empty());
    }

    #[test]
    fn the_first_write_sweeps_old_leftovers_only() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join(".tmp-20260101T000000Z-killed");
        let fresh = dir.path().join(".tmp-20260101T000000Z-writing");
        fs::write(&old, "partial").unwrap();
        fs::write(&fresh, "partial").unwrap();
        fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(2 * 3600))
            .unwrap();
        assert_eq!(temporaries(dir.path()).len(), 2);
        Outbox::new(dir.path()).send(&message()).unwrap();
        assert!(!old.exists(), "a leftover older than an hour is removed");
        assert!(fresh.exists(), "a write in progress is not");
        assert_eq!(temporaries(dir.path())[0].path, fresh);
    }
}
