//! The spool: messages that could not go out yet wait in the outbox folder as complete `.eml`
//! files (Bcc kept), and are delivered later by `mapishim outbox flush` or opportunistically,
//! through the backend that spooled them (a [`Courier`]: SMTP, Microsoft Graph).
//!
//! A file is removed only after the courier confirmed delivery. Two processes never deliver
//! the same file: each locks the message file itself (no side lock file to clean up, so none
//! can be orphaned or unlinked under another process's lock), and after acquiring the lock
//! checks that the path still names the file it opened, since the holder before it removes
//! or moves the message before letting go. The lock dies with its process, so a crash at any
//! point leaves the message in place.
use crate::{FAILED, Outbox, store_failed, sweep_all, write_reason};
use fd_lock::RwLock;
use mapishim_core::files::{self, Links};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why a spooled message was not delivered.
#[derive(Debug)]
pub enum Undelivered {
    /// Refused for good (or unreadable): it moves to `failed/` with this reason.
    Refused(String),
    /// The service or the configuration is the problem, not this message: the flush stops
    /// and the message waits.
    Later(String),
}

/// Delivers spooled messages: the backend that spooled them.
pub trait Courier {
    /// Delivers one stored message (its bytes as stored, Bcc header included). `Ok` holds
    /// the recipients refused one by one (`address`, `why`); the others got it.
    fn deliver_stored(&self, raw: &[u8]) -> Result<Vec<(String, String)>, Undelivered>;
}

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

/// A bounded attempt to empty the spool (after a delivery, and at MAPILogon): never longer
/// than `timeout` in total, and nothing at all when the spool is empty.
pub fn flush_pending(spool: &Path, courier: &dyn Courier, timeout: Duration, occasion: &str) {
    if pending(spool).is_empty() {
        return;
    }
    let summary = flush(spool, courier, Instant::now() + timeout, |_| {});
    tracing::info!(
        delivered = summary.delivered,
        remaining = summary.remaining,
        "spool flushed {occasion}"
    );
}

/// Complete messages waiting in the spool, oldest first.
pub fn pending(dir: &Path) -> Vec<PathBuf> {
    Outbox::new(dir).list().unwrap_or_default()
}

pub fn rejection_reason(rejected: &[(String, String)]) -> String {
    rejected
        .iter()
        .map(|(rcpt, why)| format!("{rcpt}: {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn move_to_failed(path: &Path, reason: &str) {
    let failed = path.parent().unwrap_or(Path::new(".")).join(FAILED);
    if let Err(e) = files::create_private_dir_all(&failed) {
        tracing::error!(path = %failed.display(), "cannot create failed/: {e}");
    }
    let target = failed.join(path.file_name().unwrap_or_default());
    match fs::rename(path, &target) {
        Ok(()) => write_reason(&target, reason),
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

/// Delivers what waits in `spool` through `courier`, oldest first, until `deadline`.
pub fn flush(
    spool: &Path,
    courier: &dyn Courier,
    deadline: Instant,
    mut on_event: impl FnMut(FlushEvent),
) -> FlushSummary {
    sweep_all(spool);
    remove_legacy_locks(spool);
    let files = pending(spool);
    let mut summary = FlushSummary::default();
    let mut handled = 0;
    for path in &files {
        if Instant::now() >= deadline {
            break;
        }
        match flush_one(spool, courier, path, &mut on_event) {
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

fn flush_one(
    spool: &Path,
    courier: &dyn Courier,
    path: &Path,
    on_event: &mut impl FnMut(FlushEvent),
) -> Outcome {
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
    // The lock is held until the file is removed or moved, so the next holder sees it gone.
    match courier.deliver_stored(&raw) {
        Ok(rejected) => {
            if !rejected.is_empty() {
                let dir = spool.join(FAILED);
                let reason = rejection_reason(&rejected);
                let _ = store_failed(&dir, |out| out.write_all(&raw), &reason);
            }
            if let Err(e) = fs::remove_file(path) {
                tracing::error!(path = %path.display(), "delivered but cannot remove from the spool: {e}");
            }
            on_event(FlushEvent::Delivered(path.to_path_buf()));
            Outcome::Delivered
        }
        Err(Undelivered::Refused(reason)) => fail(reason, on_event),
        Err(Undelivered::Later(why)) => {
            on_event(FlushEvent::Deferred(path.to_path_buf(), why));
            Outcome::Stop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
