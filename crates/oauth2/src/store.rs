//! The token file: one JSON record (sealed with DPAPI on Windows), private, replaced
//! atomically. Refreshes happen under an exclusive lock on `<token_file>.lock`, and read
//! the file again first, so two processes refreshing at once never lose the newest
//! (rotated) refresh token.
use crate::{Error, Settings, now, protect};
use fd_lock::RwLock;
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What `mapishim auth login` stored.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token endpoint and client the tokens belong to: a changed configuration does not
    /// send one provider's token to another.
    pub token_url: String,
    pub client_id: String,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    /// Seconds since the Unix epoch.
    #[serde(default)]
    pub expires_at: Option<u64>,
    #[serde(default)]
    pub updated_at: u64,
}

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("account", &self.account)
            .field("scopes", &self.scopes)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "(hidden)"),
            )
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "(hidden)"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl TokenRecord {
    pub fn belongs_to(&self, settings: &Settings) -> bool {
        self.token_url == settings.token_url && self.client_id == settings.client_id
    }
}

/// `<per-user data folder>/tokens/<name>.json`.
pub fn default_token_file(name: &str) -> Option<PathBuf> {
    mapishim_core::config::data_dir().map(|d| d.join("tokens").join(format!("{name}.json")))
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Config(format!("token file {}: {e}", path.display()))
}

/// The stored record, `None` when there is no file.
pub fn read(path: &Path) -> Result<Option<TokenRecord>, Error> {
    let stored = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, e)),
    };
    let clear = protect::open(&stored).map_err(|e| {
        Error::LoginRequired(format!(
            "token file {} cannot be decrypted by this user ({e})",
            path.display()
        ))
    })?;
    serde_json::from_slice(&clear)
        .map(Some)
        .map_err(|_| Error::LoginRequired(format!("token file {} is damaged", path.display())))
}

/// Replaces the file atomically: a private temporary file in the same folder, synced, then
/// renamed over the old one.
pub fn write(path: &Path, record: &TokenRecord) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    mapishim_core::files::create_private_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let clear = serde_json::to_vec_pretty(record).map_err(|e| io_error(path, e))?;
    let sealed = protect::seal(&clear).map_err(|e| io_error(path, e))?;
    // tempfile creates the file 0600 on Unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-token-")
        .tempfile_in(dir)
        .map_err(|e| io_error(dir, e))?;
    tmp.write_all(&sealed).map_err(|e| io_error(path, e))?;
    tmp.as_file().sync_all().map_err(|e| io_error(path, e))?;
    tmp.persist(path).map_err(|e| io_error(path, e.error))?;
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Runs `f` holding the exclusive lock on `<path>.lock`, waiting at most `limit` for it.
pub fn locked<T>(
    path: &Path,
    limit: Duration,
    f: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let lock_path = lock_path(path);
    if let Some(dir) = lock_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        mapishim_core::files::create_private_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(&lock_path)
        .map_err(|e| io_error(&lock_path, e))?;
    let mut lock = RwLock::new(file);
    let deadline = Instant::now() + limit;
    loop {
        match lock.try_write() {
            Ok(_guard) => return f(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(Error::Unavailable(format!(
                    "token file {} is locked by another process for over {} s",
                    path.display(),
                    limit.as_secs()
                )));
            }
            Err(e) => return Err(io_error(&lock_path, e)),
        }
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

/// What `mapishim auth status` and `config check` show; no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub account: Option<String>,
    pub scopes: Vec<String>,
    pub has_refresh_token: bool,
    /// The stored access token's expiry (seconds since the Unix epoch).
    pub access_expires_at: Option<u64>,
    /// Stored for another token endpoint or client ID than the configuration names.
    pub other_client: bool,
}

impl Status {
    /// A send can get a token without signing in again (a refresh may be needed).
    pub fn usable(&self) -> bool {
        !self.other_client
            && (self.has_refresh_token || self.access_expires_at.is_some_and(|at| at > now()))
    }
}

pub fn status(settings: &Settings) -> Result<Option<Status>, Error> {
    Ok(read(&settings.token_file)?.map(|r| Status {
        other_client: !r.belongs_to(settings),
        account: r.account,
        scopes: r.scopes,
        has_refresh_token: r.refresh_token.is_some(),
        access_expires_at: r.access_token.as_ref().and(r.expires_at),
    }))
}

/// Deletes the stored tokens; `false` when there were none.
pub fn logout(settings: &Settings) -> Result<bool, Error> {
    let path = &settings.token_file;
    locked(path, settings.timeout, || match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error(path, e)),
    })
}
