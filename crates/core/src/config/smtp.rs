//! `[smtp]`: the server the smtp backend (and `outbox flush`) delivers to.
use super::provider::{Preset, Provider};
use super::{ConfigError, Ctx, DEFAULT_TIMEOUT_SECS};
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use toml::Spanned;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    #[default]
    Starttls,
    Tls,
    None,
}

/// Where the SMTP password comes from; it is read only when a connection needs it.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordSource {
    Env(String),
    Command(Vec<String>),
    Plain(String),
}

impl PasswordSource {
    /// The password: as written, from the environment, or what `run` returns for the
    /// command (the caller starts it with its bound). The error names the source.
    pub fn read(
        &self,
        run: impl FnOnce(&[String]) -> Result<String, String>,
    ) -> Result<String, String> {
        match self {
            PasswordSource::Plain(p) => Ok(p.clone()),
            PasswordSource::Env(var) => std::env::var(var)
                .map_err(|_| format!("password_env: environment variable {var} is not set")),
            PasswordSource::Command(cmd) => run(cmd),
        }
    }
}

impl fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordSource::Env(v) => write!(f, "environment variable {v}"),
            PasswordSource::Command(c) => write!(
                f,
                "command {:?}",
                c.first().map(String::as_str).unwrap_or("")
            ),
            PasswordSource::Plain(_) => write!(f, "plain `password` key (hidden)"),
        }
    }
}

/// `auth`: how the client proves who it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpAuth {
    /// SASL PLAIN or LOGIN with the password.
    #[default]
    Password,
    /// SASL XOAUTH2 with an OAuth2 access token (Google, Microsoft).
    Xoauth2,
    /// SASL OAUTHBEARER (RFC 7628) with an OAuth2 access token.
    Oauthbearer,
}

impl SmtpAuth {
    pub fn name(self) -> &'static str {
        match self {
            SmtpAuth::Password => "password",
            SmtpAuth::Xoauth2 => "xoauth2",
            SmtpAuth::Oauthbearer => "oauthbearer",
        }
    }

    pub fn uses_tokens(self) -> bool {
        self != SmtpAuth::Password
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<PasswordSource>,
    pub ca_file: Option<PathBuf>,
    pub timeout_secs: u64,
    /// The preset the server and `[oauth2]` defaults came from.
    pub provider: Option<Provider>,
    pub auth: SmtpAuth,
    /// With a token `auth`: the program that prints the access token. `None`: the
    /// built-in sign-in of `[oauth2]` (`Settings::oauth2`).
    pub oauth2_token_command: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SmtpSection {
    pub(super) provider: Option<Provider>,
    host: Option<Spanned<String>>,
    port: Option<u16>,
    security: Option<Security>,
    username: Option<Spanned<String>>,
    auth: Option<Spanned<SmtpAuth>>,
    oauth2_token_command: Option<Spanned<Vec<String>>>,
    password_env: Option<String>,
    password_command: Option<Vec<String>>,
    password: Option<Spanned<String>>,
    ca_file: Option<Spanned<PathBuf>>,
    timeout_secs: Option<u64>,
    #[serde(default)]
    allow_insecure: bool,
}

/// The file's permission bits when users other than its owner may read it (Unix).
fn readable_by_others(path: &std::path::Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        // Windows: the per-user profile folder's ACL protects it (docs/configuration.md).
        let _ = path;
        None
    }
}

/// `ca_file` must hold at least one PEM certificate: otherwise TLS would fail later, with
/// no root to trust, and no hint why.
pub(super) fn ca_file(
    value: &Spanned<PathBuf>,
    key: &str,
    ctx: &Ctx<'_>,
) -> Result<PathBuf, ConfigError> {
    let path = ctx.resolve(value);
    let shown = path.display();
    let text = std::fs::read(&path)
        .map_err(|e| ctx.at(value, key, format!("cannot read {shown}: {e}")))?;
    if !text
        .windows(27)
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(ctx.at(
            value,
            key,
            format!("{shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
        ));
    }
    Ok(path)
}

pub(super) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `needed`: `backend = "smtp"`, which cannot do without the section.
pub(super) fn validate(
    section: Option<&SmtpSection>,
    needed: bool,
    ctx: &Ctx<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<SmtpSettings>, ConfigError> {
    match section {
        None if needed => Err(ctx.error(
            None,
            Some("smtp"),
            "backend = \"smtp\" needs an [smtp] section with `host`",
        )),
        None => Ok(None),
        Some(section) => section.validate(ctx, warnings).map(Some),
    }
}

impl SmtpSection {
    /// Whether `[oauth2]` must supply the tokens (a token `auth` without a command).
    pub(super) fn needs_oauth2(&self) -> bool {
        self.auth
            .as_ref()
            .is_some_and(|a| a.get_ref().uses_tokens())
            && self.oauth2_token_command.is_none()
    }

    fn validate(
        &self,
        ctx: &Ctx<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<SmtpSettings, ConfigError> {
        let preset = self.provider.map(Provider::preset);
        let host = self.host(preset, ctx)?;
        let security = self
            .security
            .or(preset.map(|p| p.security))
            .unwrap_or_default();
        // Where an error about the server as a whole is reported.
        let at_server = |key: &str, message: String| match (&self.host, &self.username) {
            (Some(h), _) => ctx.at(h, key, message),
            (None, Some(u)) => ctx.at(u, key, message),
            (None, None) => ctx.error(None, Some(key), message),
        };
        if security == Security::None && !is_loopback(&host) && !self.allow_insecure {
            return Err(at_server(
                "smtp.security",
                format!(
                    "security = \"none\" sends mail unencrypted to {host}; allowed only for loopback hosts unless allow_insecure = true"
                ),
            ));
        }
        if security == Security::None && self.username.is_some() {
            return Err(at_server(
                "smtp.username",
                "AUTH is never sent over an unencrypted connection: use starttls or tls".into(),
            ));
        }
        let auth = self.auth.as_ref().map(|a| *a.get_ref()).unwrap_or_default();
        let password = self.password(ctx, warnings)?;
        self.check_token_auth(auth, password.as_ref(), ctx)?;
        let port = self
            .port
            .or(preset.map(|p| p.smtp_port))
            .unwrap_or(match security {
                Security::Starttls => 587,
                Security::Tls => 465,
                Security::None => 25,
            });
        Ok(SmtpSettings {
            host,
            port,
            security,
            username: self.username.as_ref().map(|u| u.get_ref().clone()),
            password,
            ca_file: self
                .ca_file
                .as_ref()
                .map(|p| ca_file(p, "smtp.ca_file", ctx))
                .transpose()?,
            timeout_secs: self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).max(1),
            provider: self.provider,
            auth,
            oauth2_token_command: self
                .oauth2_token_command
                .as_ref()
                .map(|c| c.get_ref().clone()),
        })
    }

    /// `host`, or the provider's.
    fn host(&self, preset: Option<&Preset>, ctx: &Ctx<'_>) -> Result<String, ConfigError> {
        host_or_preset(
            self.host.as_ref(),
            preset.map(|p| p.smtp_host),
            "smtp",
            "\"microsoft365\" | \"outlook.com\" | \"gmail\"",
            ctx,
        )
    }

    /// A token command needs a token `auth`, and a token `auth` a username and no password.
    fn check_token_auth(
        &self,
        auth: SmtpAuth,
        password: Option<&PasswordSource>,
        ctx: &Ctx<'_>,
    ) -> Result<(), ConfigError> {
        token_command(self.oauth2_token_command.as_ref(), auth, "smtp", ctx)?;
        if let Some(a) = self.auth.as_ref().filter(|a| a.get_ref().uses_tokens()) {
            if self.username.is_none() {
                return Err(ctx.at(
                    a,
                    "smtp.username",
                    format!("auth = \"{}\" needs username (the mailbox)", auth.name()),
                ));
            }
            no_password(a, auth, password, "smtp", ctx)?;
        }
        Ok(())
    }

    /// At most one of `password_env`, `password_command`, `password`.
    fn password(
        &self,
        ctx: &Ctx<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Option<PasswordSource>, ConfigError> {
        password_source(
            "smtp",
            self.password_env.as_ref(),
            self.password_command.as_ref(),
            self.password.as_ref(),
            ctx,
            warnings,
        )
    }
}

/// At most one of `password_env`, `password_command`, `password` (of `[smtp]` or `[imap]`).
/// `host`, trimmed, else the provider's; `providers` lists the choices in the error.
pub(super) fn host_or_preset(
    host: Option<&Spanned<String>>,
    preset_host: Option<&str>,
    section: &str,
    providers: &str,
    ctx: &Ctx<'_>,
) -> Result<String, ConfigError> {
    let key = format!("{section}.host");
    match (host, preset_host) {
        (Some(h), _) => {
            let host = h.get_ref().trim().to_string();
            if host.is_empty() {
                return Err(ctx.at(h, &key, "empty host"));
            }
            Ok(host)
        }
        (None, Some(p)) => Ok(p.to_string()),
        (None, None) => Err(ctx.error(
            None,
            Some(&key),
            format!("missing: set host, or provider = {providers}"),
        )),
    }
}

/// `oauth2_token_command` needs a token `auth` and a program to start.
pub(super) fn token_command(
    command: Option<&Spanned<Vec<String>>>,
    auth: SmtpAuth,
    section: &str,
    ctx: &Ctx<'_>,
) -> Result<(), ConfigError> {
    let Some(command) = command else {
        return Ok(());
    };
    let key = format!("{section}.oauth2_token_command");
    if !auth.uses_tokens() {
        return Err(ctx.at(command, &key, "needs auth = \"xoauth2\" or \"oauthbearer\""));
    }
    if command.get_ref().is_empty() {
        return Err(ctx.at(command, &key, "empty command"));
    }
    Ok(())
}

/// A token `auth` (at `a`) takes no password.
pub(super) fn no_password(
    a: &Spanned<SmtpAuth>,
    auth: SmtpAuth,
    password: Option<&PasswordSource>,
    section: &str,
    ctx: &Ctx<'_>,
) -> Result<(), ConfigError> {
    if password.is_none() {
        return Ok(());
    }
    Err(ctx.at(
        a,
        &format!("{section}.auth"),
        format!(
            "auth = \"{}\" takes no password; remove password, password_env or password_command",
            auth.name()
        ),
    ))
}

pub(super) fn password_source(
    section: &str,
    password_env: Option<&String>,
    password_command: Option<&Vec<String>>,
    password: Option<&Spanned<String>>,
    ctx: &Ctx<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<PasswordSource>, ConfigError> {
    let given = [
        password_env.is_some(),
        password_command.is_some(),
        password.is_some(),
    ];
    if given.iter().filter(|s| **s).count() > 1 {
        return Err(ctx.error(
            None,
            Some(&format!("{section}.password")),
            "give one of password_env, password_command, password",
        ));
    }
    Ok(match (password_env, password_command, password) {
        (Some(v), _, _) => Some(PasswordSource::Env(v.clone())),
        (_, Some(c), _) if c.is_empty() => {
            return Err(ctx.error(
                None,
                Some(&format!("{section}.password_command")),
                "empty command",
            ));
        }
        (_, Some(c), _) => Some(PasswordSource::Command(c.clone())),
        (_, _, Some(p)) => {
            warnings.push(ctx.warning(
                p,
                &format!("{section}.password"),
                "a plain password in the file; prefer password_env or password_command",
            ));
            if let Some(mode) = ctx.path_of(p).and_then(readable_by_others) {
                warnings.push(ctx.warning(
                        p,
                        &format!("{section}.password"),
                        &format!(
                            "the file holding it is readable by other users (mode {mode:o}); chmod 600 it"
                        ),
                    ));
            }
            Some(PasswordSource::Plain(p.get_ref().clone()))
        }
        _ => None,
    })
}
