//! Logging to the configured file. Never to stdout or stderr: they belong to the host program.
use mapishim_core::config::{LOG_LEVEL_ENV, Settings, default_log_file};
use std::sync::{Mutex, OnceLock};
use tracing_subscriber::filter::LevelFilter;

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
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        else {
            return;
        };
        let subscriber = tracing_subscriber::fmt()
            .with_writer(Mutex::new(file))
            .with_ansi(false)
            .with_target(false)
            .with_thread_ids(true)
            .with_max_level(filter)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}
