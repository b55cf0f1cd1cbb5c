//! OAuth2 for mapishim: the sign-in flows `mapishim auth login` runs (device authorization,
//! RFC 8628; authorization code with PKCE and a loopback redirect, RFC 8252), the
//! refresh-token grant with rotation, private token storage shared safely between
//! processes, and [`TokenSource`], which the SMTP and Graph backends ask for a current
//! access token.
//!
//! Tokens never appear in `Debug` output, log lines or error messages.
#![forbid(unsafe_code)]

mod flows;
pub mod http;
mod protect;
mod store;

pub use flows::{BrowserLogin, DevicePrompt, browser_login, device_login, refresh};
pub use http::check_endpoint;
pub use store::{Status, TokenRecord, default_token_file, logout, status};

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An access token is refreshed when less than this remains.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The `[oauth2]` settings (presets applied) and the sign-in flow, from the configuration.
pub use mapishim_core::config::{OAuth2Flow as Flow, OAuth2Settings as Settings};

/// The client secret from the environment variable `client_secret_env` names.
fn client_secret(settings: &Settings) -> Result<Option<String>, Error> {
    match &settings.client_secret_env {
        None => Ok(None),
        Some(var) => std::env::var(var).map(Some).map_err(|_| {
            Error::Config(format!(
                "oauth2.client_secret_env: environment variable {var} is not set"
            ))
        }),
    }
}

/// Why no token could be had. Messages never contain a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No usable sign-in: nothing stored, the refresh token revoked or expired
    /// (`invalid_grant`), consent missing. The user must run `mapishim auth login`.
    LoginRequired(String),
    /// The configuration cannot work (a failing or silent `oauth2_token_command`, a plain
    /// `http://` endpoint that is not loopback, a missing client secret).
    Config(String),
    /// Network failure or a server error (5xx, 429): worth trying again later.
    Unavailable(String),
    /// The server refused the request for another reason, or broke the protocol.
    Refused(String),
}

impl Error {
    pub fn needs_login(&self) -> bool {
        matches!(self, Error::LoginRequired(_))
    }

    /// Temporary: the message may be spooled and retried.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::LoginRequired(why) => {
                write!(f, "{why}; sign in again with `mapishim auth login`")
            }
            Error::Config(why) | Error::Unavailable(why) | Error::Refused(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}

/// A bearer token and when it expires (seconds since the Unix epoch, when known).
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    secret: String,
    expires_at: Option<u64>,
}

impl AccessToken {
    pub fn new(secret: String, expires_at: Option<u64>) -> Self {
        AccessToken { secret, expires_at }
    }

    /// The token itself, for the `Authorization` header or a SASL message only.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// Usable for at least `REFRESH_MARGIN` (a token of unknown lifetime counts as fresh:
    /// the server's rejection then triggers the refresh).
    pub fn is_fresh(&self) -> bool {
        self.expires_at
            .is_none_or(|at| at >= now() + REFRESH_MARGIN.as_secs())
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"(hidden)")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

enum Kind {
    /// `oauth2_token_command`: a helper (pizauth, oama, …) that prints a current token and
    /// does its own refreshing.
    Command {
        command: Vec<String>,
        timeout: Duration,
    },
    /// The built-in sign-in: the token file `mapishim auth login` wrote.
    Stored(Settings),
}

/// Where a backend gets its access token. Cached in the process; shared by threads.
///
/// ```text
/// let token = source.access_token()?;            // before AUTH or an HTTP request
/// // … the server rejected it (SMTP 535/334 error, Graph 401):
/// let token = source.force_refresh(&token)?;     // then retry the operation once
/// ```
pub struct TokenSource {
    kind: Kind,
    cached: Mutex<Option<AccessToken>>,
}

impl TokenSource {
    pub fn command(command: Vec<String>, timeout: Duration) -> Self {
        Self::with_kind(Kind::Command { command, timeout })
    }

    pub fn stored(settings: Settings) -> Self {
        Self::with_kind(Kind::Stored(settings))
    }

    /// What a backend with a token `auth` uses: `command` when given (a helper such as
    /// pizauth), else the built-in sign-in of `[oauth2]`; `None` when neither is set.
    pub fn configured(
        command: Option<&[String]>,
        oauth2: Option<&Settings>,
        timeout: Duration,
    ) -> Option<Self> {
        match (command, oauth2) {
            (Some(command), _) => Some(Self::command(command.to_vec(), timeout)),
            (None, Some(settings)) => Some(Self::stored(settings.clone())),
            (None, None) => None,
        }
    }

    fn with_kind(kind: Kind) -> Self {
        TokenSource {
            kind,
            cached: Mutex::new(None),
        }
    }

    /// For `config check` and log lines: where tokens come from.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Command { command, .. } => format!("oauth2_token_command {command:?}"),
            Kind::Stored(s) => format!("token file {}", s.token_file.display()),
        }
    }

    /// A token valid for at least `REFRESH_MARGIN` when its lifetime is known: the cached
    /// one, or a refreshed one.
    pub fn access_token(&self) -> Result<AccessToken, Error> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(token) = cached.as_ref().filter(|t| t.is_fresh()) {
            return Ok(token.clone());
        }
        let token = self.fetch(None)?;
        *cached = Some(token.clone());
        Ok(token)
    }

    /// After the server rejected `rejected`: a different token, refreshed unless another
    /// thread or process already did. Call once per operation, then retry once.
    pub fn force_refresh(&self, rejected: &AccessToken) -> Result<AccessToken, Error> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(token) = cached.as_ref().filter(|t| *t != rejected && t.is_fresh()) {
            return Ok(token.clone());
        }
        *cached = None;
        let token = self.fetch(Some(rejected))?;
        *cached = Some(token.clone());
        Ok(token)
    }

    fn fetch(&self, rejected: Option<&AccessToken>) -> Result<AccessToken, Error> {
        match &self.kind {
            Kind::Command { command, timeout } => {
                mapishim_command::secret("oauth2_token_command", command, *timeout)
                    .map(|secret| AccessToken::new(secret, None))
                    .map_err(Error::Config)
            }
            Kind::Stored(settings) => flows::current_or_refreshed(settings, rejected),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn token_command_success_failure_empty_and_hang() {
        let limit = Duration::from_secs(2);
        let ok = TokenSource::command(sh("echo '  tok-1  '"), limit);
        assert_eq!(ok.access_token().unwrap().secret(), "tok-1");
        let failing = TokenSource::command(sh("echo nope >&2; exit 3"), limit);
        let e = failing.access_token().unwrap_err();
        assert!(
            matches!(e, Error::Config(_)) && e.to_string().contains("nope"),
            "{e}"
        );
        let empty = TokenSource::command(sh("true"), limit);
        assert!(
            empty
                .access_token()
                .unwrap_err()
                .to_string()
                .contains("printed nothing")
        );
        let started = std::time::Instant::now();
        let hanging = TokenSource::command(sh("sleep 20"), limit);
        let e = hanging.access_token().unwrap_err();
        assert!(started.elapsed() < limit + Duration::from_secs(1), "{e}");
        assert!(e.to_string().contains("did not finish"), "{e}");
    }

    #[test]
    fn a_rejected_command_token_runs_the_command_again() {
        let dir = tempfile::tempdir().unwrap();
        let counter = dir.path().join("n");
        let script = format!(
            "echo x >> '{0}'; echo tok-$(wc -l < '{0}')",
            counter.display()
        );
        let source = TokenSource::command(sh(&script), Duration::from_secs(5));
        let first = source.access_token().unwrap();
        assert_eq!(source.access_token().unwrap(), first, "cached");
        let second = source.force_refresh(&first).unwrap();
        assert_ne!(second.secret(), first.secret());
        assert!(format!("{second:?}").contains("hidden") && !format!("{second:?}").contains("tok"));
    }

    #[test]
    fn the_token_file_is_private_and_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens").join("a.json");
        let record = TokenRecord {
            token_url: "https://x/token".into(),
            client_id: "c".into(),
            account: Some("a@x.org".into()),
            scopes: vec!["s".into()],
            refresh_token: Some("rt-secret".into()),
            access_token: Some("at-secret".into()),
            expires_at: Some(now() + 3600),
            updated_at: now(),
        };
        store::write(&path, &record).unwrap();
        store::write(&path, &record).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(store::read(&path).unwrap().unwrap(), record);
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["a.json"], "no temporary file is left");
        assert!(!format!("{record:?}").contains("secret"));
    }
}
