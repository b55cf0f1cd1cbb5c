//! The outbox backend: each message becomes one `.eml` file.
//!
//! A file is written under a temporary name (never ending in `.eml`), flushed to disk, and
//! only then renamed, so any `.eml` in the folder is complete; success is reported after the
//! rename. Names are `YYYYMMDDTHHMMSSZ-<unique>.eml`, so a listing is in send order.
#![forbid(unsafe_code)]

use mapishim_core::mime::{self, BccHeader};
use mapishim_core::{Backend, Delivery, MapiCode, MapiError, Message, Result};
use std::fs::{self, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

pub const DRAFTS: &str = "drafts";
pub const FAILED: &str = "failed";
const TEMP_PREFIX: &str = ".tmp-";

/// A transmitting backend cannot send a message without recipients (DECISIONS.md §1): it is
/// kept in `<outbox>/drafts/` and the caller gets `MAPI_E_UNKNOWN_RECIPIENT`, or the store
/// error if even the draft could not be written.
pub fn refuse_without_recipients(outbox_dir: &Path, message: &Message) -> MapiError {
    let drafts = outbox_dir.join(DRAFTS);
    match store(&drafts, |out| {
        mime::write_message(message, BccHeader::Keep, out)
    }) {
        Ok(path) => {
            tracing::warn!(path = %path.display(), "no recipients: saved as a draft; configure [composer] to open dialog requests in a mail program");
            MapiError::new(
                MapiCode::UnknownRecipient,
                "no recipients to send to; saved as a draft",
            )
        }
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

pub fn write_reason(eml: &Path, reason: &str) {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let _ = fs::write(
        eml.with_extension("reason"),
        format!("time: {now}\nreason: {reason}\n"),
    );
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

/// Removes the temporary file unless the write completed.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes `render` into `dir/<stem>.eml` atomically and durably; returns the final path.
pub fn store(
    dir: &Path,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<PathBuf> {
    fs::create_dir_all(dir)
        .map_err(|e| MapiError::from_store_io(&e, &format!("cannot create {}", dir.display())))?;
    let stem = unique_stem(SystemTime::now());
    let mut temp = TempFile {
        path: dir.join(format!("{TEMP_PREFIX}{stem}")),
        keep: false,
    };
    let final_path = dir.join(format!("{stem}.eml"));
    let io = |what: &str| {
        let shown = temp.path.display().to_string();
        let what = what.to_string();
        move |e: std::io::Error| MapiError::from_store_io(&e, &format!("{what} {shown}"))
    };
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp.path)
        .map_err(io("cannot create"))?;
    let mut writer = BufWriter::with_capacity(256 * 1024, file);
    render(&mut writer).map_err(io("cannot write"))?;
    let file = writer
        .into_inner()
        .map_err(|e| io("cannot write")(e.into_error()))?;
    file.sync_all().map_err(io("cannot flush"))?;
    drop(file);
    fs::rename(&temp.path, &final_path).map_err(io("cannot rename"))?;
    temp.keep = true;
    sync_dir(dir);
    Ok(final_path)
}

/// Makes the rename itself durable. Windows has no directory handles for this; NTFS
/// journals the rename.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
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
}
