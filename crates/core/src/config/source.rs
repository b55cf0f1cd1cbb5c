//! Where the configuration files are, and the per-user folders their defaults point at.
//!
//! The order is docs/decisions.md §10: `MAPISHIM_CONFIG` alone; else the machine file (or
//! the file the Windows policy value `ConfigFile` names in its place) with the user's file
//! read on top of it, key by key.
use super::error::Layer;
use super::{ConfigError, Settings};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub const CONFIG_ENV: &str = "MAPISHIM_CONFIG";
pub(crate) const APP_DIR: &str = "mapishim";

/// Where a key's value came from, as `config check` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The file `MAPISHIM_CONFIG` names, which replaces every other file.
    Named,
    /// The file the Windows policy value `ConfigFile` names, in the machine file's place.
    Policy,
    /// The machine-wide file (`/etc/mapishim/config.toml`, `%ProgramData%\mapishim\…`).
    Machine,
    /// The user's own file.
    User,
    /// Set by no file: the built-in default.
    Default,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Named => "MAPISHIM_CONFIG",
            Origin::Policy => "policy",
            Origin::Machine => "machine",
            Origin::User => "user",
            Origin::Default => "default",
        }
    }

    /// Files an administrator or the caller named must exist; the platform's may be absent.
    fn required(self) -> bool {
        matches!(self, Origin::Named | Origin::Policy)
    }

    /// Only files an administrator controls may hold `locked`.
    pub(crate) fn may_lock(self) -> bool {
        !matches!(self, Origin::User)
    }
}

/// One configuration file and why it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub origin: Origin,
    pub path: PathBuf,
    /// For a policy file: the registry value that named it.
    pub named_by: Option<String>,
}

/// The configuration files, lowest first; the later file's keys win.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSource {
    pub files: Vec<ConfigFile>,
}

impl ConfigSource {
    pub fn locate() -> Self {
        if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
            return ConfigSource::named(PathBuf::from(p));
        }
        let mut files: Vec<ConfigFile> = super::policy::config_file()
            .or_else(|| machine_file().map(|path| file(Origin::Machine, path)))
            .into_iter()
            .collect();
        if let Some(dir) = dirs::config_dir() {
            files.push(file(Origin::User, dir.join(APP_DIR).join("config.toml")));
        }
        ConfigSource { files }
    }

    /// `path` alone, as `MAPISHIM_CONFIG` names it: it must exist.
    pub fn named(path: PathBuf) -> Self {
        ConfigSource {
            files: vec![file(Origin::Named, path)],
        }
    }

    /// The file of the user's own (or the one `MAPISHIM_CONFIG` names): the one
    /// `config init` writes.
    pub fn path(&self) -> Option<&Path> {
        self.files
            .iter()
            .find(|f| matches!(f.origin, Origin::Named | Origin::User))
            .map(|f| f.path.as_path())
    }

    /// Changes when a file does: lets long-running callers pick up an edited file.
    pub fn fingerprint(&self) -> Vec<Option<(SystemTime, u64)>> {
        self.files.iter().map(|f| file_stamp(&f.path)).collect()
    }

    /// Reads every file that exists and merges them.
    pub fn load(&self) -> Result<Settings, ConfigError> {
        let mut read = Vec::new();
        for f in &self.files {
            match std::fs::read_to_string(&f.path) {
                Ok(text) => read.push((f, text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !f.origin.required() => {}
                Err(e) => {
                    return Err(ConfigError {
                        path: Some(f.path.clone()),
                        line: None,
                        key: None,
                        message: format!("cannot read: {e}"),
                    });
                }
            }
        }
        let mut base = 0;
        let layers: Vec<Layer<'_>> = read
            .iter()
            .map(|(f, text)| {
                let layer = Layer {
                    origin: f.origin,
                    path: Some(f.path.as_path()),
                    text,
                    base,
                };
                // One byte apart, so that no span of one file touches the next one's.
                base += text.len() + 1;
                layer
            })
            .collect();
        Settings::from_layers(&layers)
    }
}

fn file(origin: Origin, path: PathBuf) -> ConfigFile {
    ConfigFile {
        origin,
        path,
        named_by: None,
    }
}

/// The machine-wide file of this platform.
pub fn machine_file() -> Option<PathBuf> {
    if cfg!(windows) {
        super::policy::program_data().map(|d| d.join(APP_DIR).join("config.toml"))
    } else if cfg!(target_os = "macos") {
        Some(PathBuf::from(
            "/Library/Application Support/mapishim/config.toml",
        ))
    } else {
        Some(PathBuf::from("/etc/mapishim/config.toml"))
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
