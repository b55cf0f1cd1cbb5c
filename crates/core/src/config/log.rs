//! `[log]`: where the log goes and how much it says.
use super::source::default_log_file;
use super::{ConfigError, Ctx};
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

/// Overrides `[log] level` for one process, for diagnosis without editing the file.
pub const LOG_LEVEL_ENV: &str = "MAPISHIM_LOG";
pub const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LogSection {
    file: Option<Spanned<PathBuf>>,
    level: Option<Spanned<String>>,
}

impl LogSection {
    /// The log file (the per-user default when absent) and the level.
    pub fn validate(&self, ctx: &Ctx<'_>) -> Result<(Option<PathBuf>, String), ConfigError> {
        let level = match &self.level {
            Some(level) => {
                let l = level.get_ref().to_ascii_lowercase();
                if !LOG_LEVELS.contains(&l.as_str()) {
                    return Err(ctx.at(
                        level,
                        "log.level",
                        format!(
                            "unknown level {:?}; use one of {}",
                            level.get_ref(),
                            LOG_LEVELS.join(", ")
                        ),
                    ));
                }
                l
            }
            None => "info".to_string(),
        };
        let file = self
            .file
            .as_ref()
            .map(|p| ctx.resolve(p))
            .or_else(default_log_file);
        Ok((file, level))
    }
}
