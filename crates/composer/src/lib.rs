//! Opens `MAPI_DIALOG` requests in the user's own mail composer.
//!
//! Attachments are staged first: copied under their display names into a private folder
//! per message, because the composer reads them later, after the caller has deleted its
//! own files. Then the composer is started; the call returns once it has started
//! (`MAPI_DIALOG` also waits a moment to report a composer that fails at once).
//! The `drafts` kind (`drafts.rs`) stores the message as a webmail draft and opens the
//! webmail instead.
#![forbid(unsafe_code)]

mod command;
mod drafts;
mod stage;

use mapishim_core::config::{ComposerKind, ComposerSettings};
use mapishim_core::{Delivery, MapiError, Message, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub use command::{
    mailto_url, thunderbird_compose_argument, url_opener, xdg_email_arguments,
    xdg_email_url_arguments,
};
pub use drafts::{DraftsComposer, PushSummary, kept_drafts_dir, push};
pub use stage::{Staging, default_staging_root};

/// How long `MAPI_DIALOG` waits for a composer that exits at once with an error (for
/// example xdg-email without a configured mail client). A composer still running then has
/// started; `MAPI_DIALOG_MODELESS` does not wait at all.
const STARTUP_GRACE: Duration = Duration::from_millis(1500);
/// Bytes of a composer's error output kept for the log.
const STDERR_BYTES: u64 = 4096;

/// A composer kind resolved to the program that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub kind: ComposerKind,
    pub program: PathBuf,
    /// Run the program through Wine's `start /unix` (a host program seen from a Windows
    /// process under Wine).
    pub via_wine: bool,
}

pub struct Launcher {
    settings: ComposerSettings,
    staging: Staging,
}

impl Launcher {
    pub fn new(settings: ComposerSettings) -> Self {
        let staging = Staging::new(default_staging_root(), settings.retention_hours);
        Launcher { settings, staging }
    }

    pub fn with_staging(settings: ComposerSettings, staging: Staging) -> Self {
        Launcher { settings, staging }
    }

    pub fn kind(&self) -> ComposerKind {
        self.settings.kind
    }

    /// The program this configuration would start, or why there is none.
    pub fn resolve(&self) -> std::result::Result<Resolved, String> {
        command::resolve(self.settings.kind, self.settings.program.as_deref())
    }

    /// Opens `message` in the composer; `Delivery::Opened` once it has started.
    pub fn open(&self, message: &Message) -> Result<Delivery> {
        let resolved = self
            .resolve()
            .map_err(|why| MapiError::failure(format!("composer unavailable: {why}")))?;
        self.staging.remove_expired();
        let files = match resolved.kind {
            ComposerKind::Mailto => {
                if !message.attachments.is_empty() {
                    let names: Vec<&str> = message
                        .attachments
                        .iter()
                        .map(|a| a.file_name.as_str())
                        .collect();
                    tracing::warn!(
                        "mailto: URLs cannot carry attachments; not attached: {}",
                        names.join(", ")
                    );
                }
                Vec::new()
            }
            _ => self.staging.stage(message)?,
        };
        let mut command = command::build(&resolved, message, &files);
        // Error output goes to an unlinked temporary file, not a pipe: the mail client the
        // launcher starts inherits it and may live for hours; nobody has to drain it.
        let errors = tempfile::tempfile()
            .map_err(|e| MapiError::failure(format!("no temporary file for the composer: {e}")))?;
        let child_errors = errors
            .try_clone()
            .map_err(|e| MapiError::failure(format!("no temporary file for the composer: {e}")))?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(child_errors));
        hide_console(&mut command);
        let child = command.spawn().map_err(|e| {
            MapiError::failure(format!(
                "composer {} did not start: {e}",
                resolved.program.display()
            ))
        })?;
        tracing::info!(
            kind = resolved.kind.name(),
            program = %resolved.program.display(),
            attachments = files.len(),
            modeless = message.modeless,
            "composer started"
        );
        let early_exit = supervise(child, errors, resolved.kind.name());
        if !message.modeless
            && let Ok(Some(failure)) = early_exit.recv_timeout(STARTUP_GRACE)
        {
            return Err(MapiError::failure(failure));
        }
        Ok(Delivery::Opened)
    }
}

impl mapishim_core::DialogComposer for Launcher {
    fn name(&self) -> &'static str {
        self.kind().name()
    }

    fn open(&self, message: &Message) -> Result<Delivery> {
        Launcher::open(self, message)
    }

    fn check(&self) -> std::result::Result<String, String> {
        self.resolve().map(|found| {
            format!(
                "{} ({}{})",
                found.kind.name(),
                found.program.display(),
                if found.via_wine {
                    ", through Wine's start /unix"
                } else {
                    ""
                }
            )
        })
    }
}

/// Reaps the composer in the background, logging how it ended. The channel reports an
/// early failure (exit status and the end of its error output) to a `MAPI_DIALOG` call
/// still waiting.
fn supervise(mut child: Child, errors: File, kind: &'static str) -> mpsc::Receiver<Option<String>> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("mapishim-composer".into())
        .spawn(move || {
            let failure = match child.wait() {
                Ok(status) if status.success() => {
                    tracing::debug!(kind, "composer launcher exited");
                    None
                }
                Ok(status) => {
                    let why = format!("composer {kind} failed ({status}): {}", tail(errors));
                    tracing::error!("{why}");
                    Some(why)
                }
                Err(e) => {
                    tracing::warn!(kind, "composer could not be waited for: {e}");
                    None
                }
            };
            let _ = tx.send(failure);
        });
    if let Err(e) = spawned {
        tracing::warn!("no thread to watch the composer: {e}");
    }
    rx
}

/// The last lines of what the composer wrote to its error output, on one line.
fn tail(mut errors: File) -> String {
    let end = errors.seek(SeekFrom::End(0)).unwrap_or(0);
    let _ = errors.seek(SeekFrom::Start(end.saturating_sub(STDERR_BYTES)));
    let mut bytes = Vec::new();
    let _ = errors.take(STDERR_BYTES).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines.join(" | ")
}

#[cfg(windows)]
fn hide_console(command: &mut Command) {
    use std::os::windows::process::CommandExt;
    // start.exe and rundll32 are console-less helpers; no window should flash up.
    const CREATE_NO_WINDOW: u32 = 0x0800_0000;
    command.creation_flags(CREATE_NO_WINDOW);
}

#[cfg(not(windows))]
fn hide_console(_command: &mut Command) {}

/// Opens `url` with the platform's opener (see [`url_opener`]) and reaps it in the
/// background; an opener that fails is logged, never the caller's failure (the draft is
/// stored by then).
pub fn open_url(url: &str, program: Option<&Path>) -> std::result::Result<(), String> {
    let mut command = url_opener(url, program)?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    hide_console(&mut command);
    tracing::debug!(command = %command::command_line(&command), "opener command line");
    let child = command
        .spawn()
        .map_err(|e| format!("opener {:?} did not start: {e}", command.get_program()))?;
    let errors = tempfile::tempfile().map_err(|e| format!("no temporary file: {e}"))?;
    drop(supervise(child, errors, "opener"));
    Ok(())
}

/// Looks `name` up in `PATH` (with `.exe` on Windows). Hand-written: a dozen lines, where
/// the `which` crate would bring its own platform layers.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let candidate = Path::new(name);
    if candidate.components().count() > 1 {
        return candidate.is_file().then(|| candidate.to_path_buf());
    }
    let extensions: &[&str] = if cfg!(windows) { &["", ".exe"] } else { &[""] };
    std::env::split_paths(&std::env::var_os("PATH")?)
        .flat_map(|dir| {
            extensions
                .iter()
                .map(move |ext| dir.join(format!("{name}{ext}")))
        })
        .find(|p| p.is_file())
}
