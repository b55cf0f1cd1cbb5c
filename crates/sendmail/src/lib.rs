//! The sendmail backend: pipes each message to a sendmail-compatible program (Postfix's or
//! Exim's `sendmail`, msmtp, …).
//!
//! The command is `<program> <args…> -i -f <from> -- <recipient>…`: explicit envelope
//! recipients (To, Cc and Bcc), and a message without a Bcc header, so the hidden
//! recipients never appear in what is delivered whatever the MTA does with headers. `-i`
//! keeps a line with a single dot from ending the message early; `--` keeps an address
//! that starts with `-` from being read as an option.
#![forbid(unsafe_code)]

use mapishim_core::config::SendmailSettings;
use mapishim_core::mime::{self, BccHeader};
use mapishim_core::{Backend, Delivery, MapiCode, MapiError, Message, Result};
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Error output kept for the log and the failure reason.
const MAX_STDERR: usize = 4096;

pub struct SendmailBackend {
    settings: SendmailSettings,
    outbox_dir: PathBuf,
}

impl SendmailBackend {
    /// `outbox_dir` receives drafts of recipient-less requests (docs/decisions.md §1) and
    /// copies of messages the program refused (`failed/`).
    pub fn new(settings: SendmailSettings, outbox_dir: PathBuf) -> Self {
        SendmailBackend {
            settings,
            outbox_dir,
        }
    }

    /// The full command line for `message`, for logs and tests.
    pub fn command(&self, message: &Message) -> Command {
        let mut command = Command::new(&self.settings.program);
        command
            .args(&self.settings.args)
            .args(["-i", "-f", &message.from.address, "--"])
            .args(message.envelope_recipients());
        command
    }

    fn pipe(&self, message: &Message) -> std::result::Result<(), String> {
        // The message reaches the program's stdin from an unlinked temporary file, not a
        // pipe: a program that exits before reading everything would make a pipe write
        // raise SIGPIPE, which kills the host process (a library cannot ignore it).
        let input = message_file(message).map_err(|e| {
            format!(
                "cannot stage the message for {}: {e}",
                self.settings.program.display()
            )
        })?;
        let timeout = Duration::from_secs(self.settings.timeout_secs);
        let program = self.settings.program.display();
        let done = mapishim_command::run(&mut self.command(message), Stdio::from(input), timeout)
            .map_err(|e| format!("{program}: {e}"))?;
        let mut output = done.stderr;
        output.extend_from_slice(&done.stdout);
        let start = output.len().saturating_sub(MAX_STDERR);
        let output = mapishim_command::one_line(&output[start..]);
        match done.status {
            status if !status.success() => Err(format!(
                "{program} failed ({status}): {}",
                if output.is_empty() {
                    "no error output"
                } else {
                    &output
                }
            )),
            _ => {
                if !output.is_empty() {
                    tracing::info!("sendmail said: {output}");
                }
                Ok(())
            }
        }
    }
}

/// The rendered message (no Bcc header) in an unlinked temporary file, rewound.
fn message_file(message: &Message) -> std::io::Result<std::fs::File> {
    let mut file = tempfile::tempfile()?;
    let mut out = std::io::BufWriter::new(&mut file);
    mime::write_message(message, BccHeader::Omit, &mut out)?;
    out.flush()?;
    drop(out);
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

impl Backend for SendmailBackend {
    fn name(&self) -> &'static str {
        "sendmail"
    }

    fn send(&self, message: &Message) -> Result<Delivery> {
        if message.envelope_recipients().is_empty() {
            return Err(mapishim_outbox::refuse_without_recipients(
                &self.outbox_dir,
                message,
            ));
        }
        match self.pipe(message) {
            Ok(()) => {
                tracing::info!(
                    program = %self.settings.program.display(),
                    recipients = message.envelope_recipients().len(),
                    "handed to sendmail"
                );
                Ok(Delivery::Sent)
            }
            Err(reason) => {
                mapishim_outbox::keep_failed(&self.outbox_dir, message, &reason);
                Err(MapiError::new(
                    MapiCode::Failure,
                    format!("sendmail refused the message: {reason}"),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)] // only the tests that run a shell use it
    use mapishim_abi as abi;
    use mapishim_core::Mailbox;

    fn message() -> Message {
        let mb = |a: &str| Mailbox {
            name: None,
            address: a.into(),
        };
        Message {
            from: mb("me@example.org"),
            to: vec![mb("-to@example.org")],
            cc: vec![mb("cc@example.org")],
            bcc: vec![mb("bcc@example.org"), mb("CC@example.org")],
            subject: "s".into(),
            body: "b\r\n.\r\nafter the dot\r\n".into(),
            attachments: vec![],
            receipt_requested: false,
            dialog: false,
            modeless: false,
            message_id: "id@example.org".into(),
            date: 0,
        }
    }

    fn backend(dir: &std::path::Path, program: &str, args: &[&str]) -> SendmailBackend {
        SendmailBackend::new(
            SendmailSettings {
                program: program.into(),
                args: args.iter().map(|s| s.to_string()).collect(),
                timeout_secs: 1,
            },
            dir.to_path_buf(),
        )
    }

    #[test]
    fn envelope_recipients_follow_the_options() {
        let b = backend(
            std::path::Path::new("/x"),
            "/usr/sbin/sendmail",
            &["-C", "cfg"],
        );
        let command = b.command(&message());
        let args: Vec<_> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "-C",
                "cfg",
                "-i",
                "-f",
                "me@example.org",
                "--",
                "-to@example.org",
                "cc@example.org",
                "bcc@example.org"
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn failures_keep_a_copy_and_report_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let b = backend(
            dir.path(),
            "/bin/sh",
            &["-c", "echo 'no relay' >&2; exit 75", "sh"],
        );
        let err = b.send(&message()).unwrap_err();
        assert_eq!(err.code(), abi::MAPI_E_FAILURE);
        assert!(
            err.detail().contains("no relay") && err.detail().contains("75"),
            "{err}"
        );
        let failed: Vec<_> = std::fs::read_dir(dir.path().join("failed"))
            .unwrap()
            .collect();
        assert_eq!(failed.len(), 2, "the .eml and its .reason");

        let slow = backend(dir.path(), "/bin/sh", &["-c", "sleep 30", "sh"]);
        let err = slow.send(&message()).unwrap_err();
        assert!(err.detail().contains("did not finish"), "{err}");

        let missing = backend(dir.path(), "/nonexistent/sendmail", &[]);
        assert!(
            missing
                .send(&message())
                .unwrap_err()
                .detail()
                .contains("cannot start")
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_program_gets_the_message_without_bcc() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("got.eml");
        let script = format!("cat > '{}'", out.display());
        let b = backend(dir.path(), "/bin/sh", &["-c", &script, "sh"]);
        assert_eq!(b.send(&message()).unwrap(), Delivery::Sent);
        let got = std::fs::read_to_string(&out).unwrap();
        assert!(!got.contains("bcc@example.org"));
        assert!(
            got.contains("\r\n.\r\nafter the dot"),
            "sendmail -i takes the dot line as text"
        );
    }
}
