//! Where the configuration file is, and the per-user folders its defaults point at.
use super::{ConfigError, Settings};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub const CONFIG_ENV: &str = "MAPISHIM_CONFIG";
pub(crate) const APP_DIR: &str = "mapishim";

/// Where the configuration is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// Named by `MAPISHIM_CONFIG`: it must exist.
    Named(PathBuf),
    /// The platform default: it may be absent.
    Default(PathBuf),
    /// No home or config folder could be found: built-in defaults.
    BuiltIn,
}

impl ConfigSource {
    pub fn locate() -> Self {
        match std::env::var_os(CONFIG_ENV) {
            Some(p) if !p.is_empty() => ConfigSource::Named(PathBuf::from(p)),
            _ => match dirs::config_dir() {
                Some(dir) => ConfigSource::Default(dir.join(APP_DIR).join("config.toml")),
                None => ConfigSource::BuiltIn,
            },
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigSource::Named(p) | ConfigSource::Default(p) => Some(p),
            ConfigSource::BuiltIn => None,
        }
    }

    /// Changes when the file does: lets long-running callers pick up an edited file.
    pub fn fingerprint(&self) -> Option<(SystemTime, u64)> {
        file_stamp(self.path()?)
    }

    pub fn load(&self) -> Result<Settings, ConfigError> {
        let Some(path) = self.path() else {
            return Settings::from_toml("", None);
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Settings::from_toml(&text, Some(path)),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && matches!(self, ConfigSource::Default(_)) =>
            {
                Settings::from_toml("", None)
            }
            Err(e) => Err(ConfigError {
                path: Some(path.to_path_buf()),
                line: None,
                key: None,
                message: format!("cannot read: {e}"),
            }),
        }
    }
}

/// Modification time and size: what changes when a file is edited.
pub fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The platform's per-user data folder for mapishim (outbox, logs).
pub fn data_dir() -> Option<PathBuf> {
    dirs::data_local_dir().map(|d| d.join(APP_DIR))
}

pub fn default_log_file() -> Option<PathBuf> {
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .map(|d| d.join(APP_DIR).join("mapishim.log"))
}
