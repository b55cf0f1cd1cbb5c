//! Runs an external program synchronously with a time limit (sendmail, `password_command`,
//! `oauth2_token_command`, …). A program that does not finish in time is stopped together
//! with everything it started (a shell's children, a keyring helper), so that no call into
//! the library can block longer than the configured `timeout_secs`.
//!
//! Unix: the program leads its own process group, and the group is killed. Windows: the
//! program is put in a job object, and the job is terminated.
#![forbid(unsafe_code)]

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long to wait for the pipes to close after the program exited: a background child it
/// left behind (queue runners do that) may keep them open.
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// Output kept per stream; more is read and dropped (the program must not block on a full
/// pipe).
pub const MAX_OUTPUT: usize = 64 * 1024;

/// A program that finished in time.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    /// At most `MAX_OUTPUT` bytes (the beginning).
    pub stdout: Vec<u8>,
    /// At most `MAX_OUTPUT` bytes (the end, where the reason usually is).
    pub stderr: Vec<u8>,
}

impl Finished {
    /// The error output as one line, for a log line or a failure reason.
    pub fn stderr_line(&self) -> String {
        one_line(&self.stderr)
    }
}

/// Control characters become spaces: output goes into single log lines.
pub fn one_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

#[derive(Debug)]
pub enum RunError {
    /// The program could not be started (not found, not executable).
    Start(std::io::Error),
    /// Still running after the limit; it and its descendants were stopped.
    TimedOut(Duration),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Start(e) => write!(f, "cannot start: {e}"),
            RunError::TimedOut(limit) => write!(
                f,
                "did not finish within {} s and was stopped",
                limit.as_secs()
            ),
        }
    }
}

impl std::error::Error for RunError {}

/// Runs `command` with `stdin`, collecting stdout and stderr, for at most `limit`.
pub fn run(command: &mut Command, stdin: Stdio, limit: Duration) -> Result<Finished, RunError> {
    command
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command.spawn().map_err(RunError::Start)?;
    let tree = tree::Tree::adopt(&child);
    let stdout = read_in_background(child.stdout.take(), false);
    let stderr = read_in_background(child.stderr.take(), true);
    let Some(status) = wait_with_timeout(&mut child, limit) else {
        tree.kill(&mut child);
        // The reader threads end when the last holder of the pipes is gone; they are not
        // waited for, so a process outside the tree holding a pipe cannot block us.
        return Err(RunError::TimedOut(limit));
    };
    let grace = Instant::now() + PIPE_GRACE;
    let take = |rx: mpsc::Receiver<Vec<u8>>| {
        rx.recv_timeout(grace.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    };
    Ok(Finished {
        status,
        stdout: take(stdout),
        stderr: take(stderr),
    })
}

/// The first line of what `command` prints, trimmed, within `limit`: a password or a token
/// from a helper (`password_command`, `oauth2_token_command`). A failure, a timeout or empty
/// output is an error naming `key`, never an empty secret. The output never appears in the
/// error.
pub fn secret(key: &str, command: &[String], limit: Duration) -> Result<String, String> {
    let Some((program, args)) = command.split_first() else {
        return Err(format!("{key} is empty"));
    };
    let done = run(Command::new(program).args(args), Stdio::null(), limit)
        .map_err(|e| format!("{key} {program:?}: {e}"))?;
    if !done.status.success() {
        let stderr = done.stderr_line();
        return Err(format!(
            "{key} {program:?} failed ({}){}",
            done.status,
            if stderr.is_empty() {
                String::new()
            } else {
                format!(": {stderr}")
            }
        ));
    }
    let text = String::from_utf8_lossy(&done.stdout);
    let secret = text.lines().next().unwrap_or("").trim();
    if secret.is_empty() {
        return Err(format!("{key} {program:?} printed nothing"));
    }
    Ok(secret.to_string())
}

fn read_in_background(
    stream: Option<impl Read + Send + 'static>,
    keep_tail: bool,
) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    let Some(mut stream) = stream else {
        let _ = tx.send(Vec::new());
        return rx;
    };
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > MAX_OUTPUT {
                        if keep_tail {
                            kept.drain(..kept.len() - MAX_OUTPUT);
                        } else {
                            kept.truncate(MAX_OUTPUT);
                        }
                    }
                }
            }
        }
        let _ = tx.send(kept);
    });
    rx
}

/// `None` when the limit passed first. Polling, because std has no timed wait.
fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            _ => return None,
        }
    }
}

#[cfg(unix)]
mod tree {
    use rustix::process::{Pid, Signal, kill_process_group};
    use std::process::Child;

    pub struct Tree;

    impl Tree {
        pub fn adopt(_child: &Child) -> Self {
            Tree
        }

        /// The child leads its process group (`process_group(0)`), so its pid is the group.
        pub fn kill(self, child: &mut Child) {
            let _ = kill_process_group(Pid::from_child(child), Signal::KILL);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(windows)]
use mapishim_ffi::windows as tree;

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn output_and_status() {
        let done = run(
            &mut sh("echo out; echo err >&2; exit 3"),
            Stdio::null(),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(done.status.code(), Some(3));
        assert_eq!(done.stdout, b"out\n");
        assert_eq!(done.stderr_line(), "err");
    }

    #[test]
    fn a_hanging_tree_is_stopped_within_the_limit() {
        let marker = std::env::temp_dir().join(format!("mapishim-command-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        // The grandchild would create the marker after 3 s if it survived the kill.
        let script = format!("(sleep 3; touch '{}') & sleep 20", marker.display());
        let started = Instant::now();
        let err = run(&mut sh(&script), Stdio::null(), Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, RunError::TimedOut(_)), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(3500));
        assert!(!marker.exists(), "the grandchild was stopped too");
    }

    #[test]
    fn secrets_are_trimmed_and_never_empty() {
        let cmd = |s: &str| vec!["/bin/sh".to_string(), "-c".into(), s.into()];
        let limit = Duration::from_secs(5);
        assert_eq!(
            secret("k", &cmd("printf '  tok\\n'; echo second"), limit).unwrap(),
            "tok"
        );
        let e = secret("k", &cmd("printf '\\n'"), limit).unwrap_err();
        assert!(e.contains("printed nothing"), "{e}");
        let e = secret("k", &cmd("echo hidden; echo why >&2; exit 2"), limit).unwrap_err();
        assert!(e.contains("why") && !e.contains("hidden"), "{e}");
    }

    #[test]
    fn a_missing_program_is_a_start_error() {
        let err = run(
            &mut Command::new("/nonexistent/x"),
            Stdio::null(),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(matches!(err, RunError::Start(_)));
    }
}
