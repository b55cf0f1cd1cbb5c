//! Logging to the configured file. Never to stdout or stderr: they belong to the host program.
use mapishim_core::config::{LOG_LEVEL_ENV, Settings, default_log_file};
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Write};
use std::sync::{Mutex, MutexGuard, OnceLock};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The calling program's file name, for log lines and routing.
pub fn app_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "unknown".into())
    })
}

fn level(name: &str) -> LevelFilter {
    name.parse().unwrap_or(LevelFilter::INFO)
}

/// Installs the file logger once per process. Later configuration changes to `[log]` take
/// effect in the next process. If the host already installed a tracing subscriber, ours is
/// not installed and events go to theirs.
pub fn init_logging(settings: Option<&Settings>) {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let file_path = settings
            .and_then(|s| s.log_file.clone())
            .or_else(default_log_file);
        let configured = settings.map(|s| s.log_level.as_str()).unwrap_or("info");
        let filter = match std::env::var(LOG_LEVEL_ENV) {
            Ok(v) if !v.is_empty() => level(&v),
            _ => level(configured),
        };
        let Some(path) = file_path else { return };
        // Private like the mail it describes: 0600 in a 0700 folder created on first use.
        let Ok(file) = mapishim_core::files::open_append_private(&path) else {
            return;
        };
        let subscriber = tracing_subscriber::fmt()
            .with_writer(EscapingWriter(Mutex::new(file)))
            .with_ansi(false)
            .with_target(false)
            .with_thread_ids(true)
            .with_max_level(filter)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// The log file, written one event at a time with every control character escaped, so that
/// no field (a file name, a server reply, a caller's subject) can start a line of its own
/// or rewrite the terminal of whoever reads the log.
struct EscapingWriter(Mutex<File>);

impl<'a> MakeWriter<'a> for EscapingWriter {
    type Writer = EscapingLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        EscapingLine(self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

struct EscapingLine<'a>(MutexGuard<'a, File>);

impl Write for EscapingLine<'_> {
    /// The formatter hands over each event whole, ending in its one newline.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (line, end) = match text.strip_suffix('\n') {
            Some(line) => (line, "\n"),
            None => (&*text, ""),
        };
        let mut out = escape_controls(line).into_owned();
        out.push_str(end);
        self.0.write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Characters that break or reorder a line for a reader: C0 and C1 controls, DEL, Unicode
/// line and paragraph separators, and bidirectional controls.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped() {
        assert_eq!(escape_controls("plain C:\\x é"), "plain C:\\x é");
        assert_eq!(
            escape_controls("a\nb\rc\td\u{1b}[2Je\u{85}f\u{2028}g\u{202e}h\u{7f}"),
            "a\\nb\\rc\\td\\u{1b}[2Je\\u{85}f\\u{2028}g\\u{202e}h\\u{7f}"
        );
    }

    #[test]
    fn a_forged_line_stays_inside_its_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let writer = EscapingWriter(Mutex::new(File::create(&path).unwrap()));
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .finish();
        let forged = "x.txt\n2026-01-01T00:00:00.000000Z ERROR forged line";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(file = %forged, "cannot attach {forged}");
            tracing::info!("next");
        });
        let log = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{log}");
        assert!(!lines.iter().any(|l| l.starts_with("2026-01-01")), "{log}");
        assert!(
            lines[0].contains("x.txt\\n2026-01-01T00:00:00.000000Z ERROR forged line"),
            "{log}"
        );
    }
}
