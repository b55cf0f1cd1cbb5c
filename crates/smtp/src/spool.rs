//! The spool: messages that could not go out yet wait in the outbox folder as complete `.eml`
//! files (Bcc kept), and are delivered later by `mapishim outbox flush` or opportunistically.
//!
//! A file is removed only after the server's final 250. A lock file per message keeps two
//! processes from delivering the same file; the lock dies with its process, so a crash at
//! any point leaves the message in place.
use crate::{Failure, SmtpBackend};
use fd_lock::RwLock;
use std::fs::{self, OpenOptions};
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
    let _ = fs::create_dir_all(&failed);
    let target = failed.join(path.file_name().unwrap_or_default());
    match fs::rename(path, &target) {
        Ok(()) => mapishim_outbox::write_reason(&target, reason),
        Err(e) => tracing::error!(path = %path.display(), "cannot move to failed/: {e}"),
    }
}

pub fn flush(
    backend: &SmtpBackend,
    deadline: Instant,
    mut on_event: impl FnMut(FlushEvent),
) -> FlushSummary {
    let files = pending(&backend.spool);
    let mut summary = FlushSummary {
        remaining: files.len(),
        ..Default::default()
    };
    for path in files {
        if Instant::now() >= deadline {
            break;
        }
        let lock_path = path.with_extension("lock");
        let Ok(lock_file) = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
        else {
            continue;
        };
        let mut lock = RwLock::new(lock_file);
        let Ok(_guard) = lock.try_write() else {
            on_event(FlushEvent::Busy(path.clone()));
            continue;
        };
        // Another process may have delivered it between our listing and our lock.
        let Ok(raw) = fs::read(&path) else {
            summary.remaining -= 1;
            continue;
        };
        let Some((from, recipients)) = envelope(&raw) else {
            let reason = "unreadable message: no From or no recipients".to_string();
            move_to_failed(&path, &reason);
            summary.failed += 1;
            summary.remaining -= 1;
            on_event(FlushEvent::Failed(path.clone(), reason));
            continue;
        };
        let rcpts: Vec<&str> = recipients.iter().map(String::as_str).collect();
        match backend.deliver(&from, &rcpts, &without_bcc(&raw)) {
            Ok(accepted) => {
                if !accepted.rejected.is_empty() {
                    let dir = backend.spool.join(mapishim_outbox::FAILED);
                    let reason = rejection_reason(&accepted.rejected);
                    let _ = mapishim_outbox::store_failed(&dir, |out| out.write_all(&raw), &reason);
                }
                if let Err(e) = fs::remove_file(&path) {
                    tracing::error!(path = %path.display(), "delivered but cannot remove from the spool: {e}");
                }
                summary.delivered += 1;
                summary.remaining -= 1;
                on_event(FlushEvent::Delivered(path.clone()));
            }
            Err(Failure::AllRejected(rejected)) => {
                let reason = rejection_reason(&rejected);
                move_to_failed(&path, &reason);
                summary.failed += 1;
                summary.remaining -= 1;
                on_event(FlushEvent::Failed(path.clone(), reason));
            }
            Err(Failure::Permanent(reason) | Failure::NoSmtpUtf8(reason)) => {
                move_to_failed(&path, &reason);
                summary.failed += 1;
                summary.remaining -= 1;
                on_event(FlushEvent::Failed(path.clone(), reason));
            }
            Err(Failure::Transient(why) | Failure::Tls(why) | Failure::Auth(why)) => {
                // The server or the configuration is the problem, not this message: stop.
                on_event(FlushEvent::Deferred(path.clone(), why));
                drop(_guard);
                let _ = fs::remove_file(&lock_path);
                break;
            }
        }
        drop(_guard);
        let _ = fs::remove_file(&lock_path);
    }
    summary
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
    fn envelope_includes_bcc_once() {
        let raw = b"From: A <a@x.org>\r\nTo: <b@x.org>\r\nCc: <B@x.org>, <c@x.org>\r\nBcc: <d@x.org>\r\n\r\nbody";
        let (from, rcpts) = envelope(raw).unwrap();
        assert_eq!(from, "a@x.org");
        assert_eq!(rcpts, ["b@x.org", "c@x.org", "d@x.org"]);
    }
}
