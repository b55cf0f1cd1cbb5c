//! The spool: messages that could not go out yet wait in the outbox folder as complete `.eml`
//! files (Bcc kept), and are delivered later by `mapishim outbox flush` or opportunistically.
//!
//! A file is removed only after the server's final 250. Two processes never deliver the
//! same file: each locks the message file itself (no side lock file to clean up, so none
//! can be orphaned or unlinked under another process's lock), and after acquiring the lock
//! checks that the path still names the file it opened, since the holder before it removes
//! or moves the message before letting go. The lock dies with its process, so a crash at any
//! point leaves the message in place.
use crate::{Failure, SmtpBackend};
use fd_lock::RwLock;
use mapishim_core::files::{self, Links};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlushEvent {
    Delivered(PathBuf),
    /// Refused for good; moved to `failed/` with a reason file.
    Failed(PathBuf, String),
    /// Left in the spool: the server is not reachable now.
    Deferred(PathBuf, String),
    /// Another process is delivering it.
    Busy(PathBuf),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushSummary {
    pub delivered: usize,
    pub failed: usize,
    /// Being delivered by another process: not ours to report as waiting.
    pub busy: usize,
    /// Still waiting: the server was unreachable, or the deadline came first.
    pub remaining: usize,
}

/// Complete messages waiting in the spool, oldest first.
pub fn pending(dir: &Path) -> Vec<PathBuf> {
    mapishim_outbox::Outbox::new(dir).list().unwrap_or_default()
}

pub fn rejection_reason(rejected: &[(String, String)]) -> String {
    rejected
        .iter()
        .map(|(rcpt, why)| format!("{rcpt}: {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The envelope of a stored message: From, and To + Cc + Bcc (each once).
fn envelope(raw: &[u8]) -> Option<(String, Vec<String>)> {
    let parsed = mail_parser::MessageParser::new().parse_headers(raw)?;
    let from = parsed.from()?.first()?.address()?.to_string();
    let mut recipients: Vec<String> = Vec::new();
    for list in [parsed.to(), parsed.cc(), parsed.bcc()]
        .into_iter()
        .flatten()
    {
        for addr in list.iter().filter_map(|a| a.address()) {
            if !recipients.iter().any(|r| r.eq_ignore_ascii_case(addr)) {
                recipients.push(addr.to_string());
            }
        }
    }
    Some((from, recipients))
}

/// The stored bytes without the Bcc header (and its folded lines): what goes on the wire.
pub fn without_bcc(raw: &[u8]) -> Vec<u8> {
    let header_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(raw.len());
    let mut out = Vec::with_capacity(raw.len());
    let mut skipping = false;
    for line in raw[..header_end].split_inclusive(|b| *b == b'\n') {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continuation {
            skipping = line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"bcc:");
        }
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(&raw[header_end..]);
    out
}

fn move_to_failed(path: &Path, reason: &str) {
    let failed = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(mapishim_outbox::FAILED);
    if let Err(e) = files::create_private_dir_all(&failed) {
        tracing::error!(path = %failed.display(), "cannot create failed/: {e}");
    }
    let target = failed.join(path.file_name().unwrap_or_default());
    match fs::rename(path, &target) {
        Ok(()) => mapishim_outbox::write_reason(&target, reason),
        Err(e) => tracing::error!(path = %path.display(), "cannot move to failed/: {e}"),
    }
}

/// Earlier versions locked `<message>.lock` side files and could leave them behind;
/// none is created any more, so one untouched for an hour is an orphan.
fn remove_legacy_locks(dir: &Path) {
    for lock in files::files_named(dir, |name| name.ends_with(".lock")) {
        if lock.age >= files::TEMP_MAX_AGE {
            let _ = fs::remove_file(&lock.path);
        }
    }
}

/// What became of one listed message.
enum Outcome {
    Delivered,
    Failed,
    Busy,
    /// Another process delivered it (or moved it to `failed/`) after our listing.
    Gone,
    /// The server or the configuration is the problem, not this message: stop.
    Stop,
}

pub fn flush(
    backend: &SmtpBackend,
    deadline: Instant,
    mut on_event: impl FnMut(FlushEvent),
) -> FlushSummary {
    mapishim_outbox::sweep_all(&backend.spool);
    remove_legacy_locks(&backend.spool);
    let files = pending(&backend.spool);
    let mut summary = FlushSummary::default();
    let mut handled = 0;
    for path in &files {
        if Instant::now() >= deadline {
            break;
        }
        match flush_one(backend, path, &mut on_event) {
            Outcome::Delivered => summary.delivered += 1,
            Outcome::Failed => summary.failed += 1,
            Outcome::Busy => summary.busy += 1,
            Outcome::Gone => {}
            Outcome::Stop => break,
        }
        handled += 1;
    }
    summary.remaining = files.len() - handled;
    summary
}

fn flush_one(backend: &SmtpBackend, path: &Path, on_event: &mut impl FnMut(FlushEvent)) -> Outcome {
    let file = match files::open_regular(path, Links::Refuse) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Outcome::Gone,
        Err(e) => {
            // Not a message we can read (a symlink, a folder named *.eml): leave it alone.
            tracing::warn!(path = %path.display(), "skipped in the spool: {e}");
            return Outcome::Gone;
        }
    };
    // On Windows the lock (byte 0, mandatory there) also keeps other processes from reading
    // the message while it is delivered: `outbox list` shows it as unreadable meanwhile.
    let mut lock = RwLock::new(file);
    let Ok(mut guard) = lock.try_write() else {
        on_event(FlushEvent::Busy(path.to_path_buf()));
        return Outcome::Busy;
    };
    if !files::is_same_file(&guard, path) {
        return Outcome::Gone;
    }
    let mut raw = Vec::new();
    if let Err(e) = guard.read_to_end(&mut raw) {
        tracing::warn!(path = %path.display(), "cannot read a spooled message: {e}");
        return Outcome::Gone;
    }
    let fail = |reason: String, on_event: &mut dyn FnMut(FlushEvent)| {
        move_to_failed(path, &reason);
        on_event(FlushEvent::Failed(path.to_path_buf(), reason));
        Outcome::Failed
    };
    let Some((from, recipients)) = envelope(&raw) else {
        return fail(
            "unreadable message: no From or no recipients".into(),
            on_event,
        );
    };
    let rcpts: Vec<&str> = recipients.iter().map(String::as_str).collect();
    // The lock is held until the file is removed or moved, so the next holder sees it gone.
    match backend.deliver(&from, &rcpts, &without_bcc(&raw)) {
        Ok(accepted) => {
            if !accepted.rejected.is_empty() {
                let dir = backend.spool.join(mapishim_outbox::FAILED);
                let reason = rejection_reason(&accepted.rejected);
                let _ = mapishim_outbox::store_failed(&dir, |out| out.write_all(&raw), &reason);
            }
            if let Err(e) = fs::remove_file(path) {
                tracing::error!(path = %path.display(), "delivered but cannot remove from the spool: {e}");
            }
            on_event(FlushEvent::Delivered(path.to_path_buf()));
            Outcome::Delivered
        }
        Err(Failure::AllRejected(rejected)) => fail(rejection_reason(&rejected), on_event),
        Err(Failure::Permanent(reason) | Failure::NoSmtpUtf8(reason)) => fail(reason, on_event),
        Err(Failure::Transient(why) | Failure::Tls(why) | Failure::Auth(why)) => {
            on_event(FlushEvent::Deferred(path.to_path_buf(), why));
            Outcome::Stop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcc_is_removed_with_its_folded_lines() {
        let raw = b"From: <a@x.org>\r\nBcc: <b@x.org>,\r\n\t<c@x.org>\r\nSubject: s\r\n\r\nBcc: stays in the body\r\n";
        assert_eq!(
            without_bcc(raw),
            b"From: <a@x.org>\r\nSubject: s\r\n\r\nBcc: stays in the body\r\n"
        );
    }

    #[test]
    fn only_old_legacy_lock_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("20260101T000000Z-1.lock");
        let fresh = dir.path().join("20260101T000000Z-2.lock");
        let message = dir.path().join("20260101T000000Z-3.eml");
        for p in [&old, &fresh, &message] {
            fs::write(p, "").unwrap();
        }
        let hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        for p in [&old, &message] {
            let file = fs::File::options().write(true).open(p).unwrap();
            file.set_modified(hours_ago).unwrap();
        }
        remove_legacy_locks(dir.path());
        assert!(!old.exists() && fresh.exists() && message.exists());
    }

    #[test]
    fn envelope_includes_bcc_once() {
        let raw = b"From: A <a@x.org>\r\nTo: <b@x.org>\r\nCc: <B@x.org>, <c@x.org>\r\nBcc: <d@x.org>\r\n\r\nbody";
        let (from, rcpts) = envelope(raw).unwrap();
        assert_eq!(from, "a@x.org");
        assert_eq!(rcpts, ["b@x.org", "c@x.org", "d@x.org"]);
    }
}
