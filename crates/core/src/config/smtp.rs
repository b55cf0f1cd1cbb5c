//! `[smtp]`: the server the smtp backend (and `outbox flush`) delivers to.
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<PasswordSource>,
    pub ca_file: Option<PathBuf>,
    pub timeout_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SmtpSection {
    host: Spanned<String>,
    port: Option<u16>,
    #[serde(default)]
    security: Security,
    username: Option<String>,
    password_env: Option<String>,
    password_command: Option<Vec<String>>,
    password: Option<Spanned<String>>,
    ca_file: Option<PathBuf>,
    timeout_secs: Option<u64>,
    #[serde(default)]
    allow_insecure: bool,
}

fn is_loopback(host: &str) -> bool {
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
    fn validate(
        &self,
        ctx: &Ctx<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<SmtpSettings, ConfigError> {
        let host = self.host.get_ref().trim().to_string();
        if host.is_empty() {
            return Err(ctx.at(&self.host, "smtp.host", "empty host"));
        }
        if self.security == Security::None && !is_loopback(&host) && !self.allow_insecure {
            return Err(ctx.at(
                &self.host,
                "smtp.security",
                format!(
                    "security = \"none\" sends mail unencrypted to {host}; allowed only for loopback hosts unless allow_insecure = true"
                ),
            ));
        }
        if self.security == Security::None && self.username.is_some() {
            return Err(ctx.at(
                &self.host,
                "smtp.username",
                "AUTH is never sent over an unencrypted connection: use starttls or tls",
            ));
        }
        let password = self.password(ctx, warnings)?;
        let port = self.port.unwrap_or(match self.security {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        });
        Ok(SmtpSettings {
            host,
            port,
            security: self.security,
            username: self.username.clone(),
            password,
            ca_file: self.ca_file.as_deref().map(|p| ctx.resolve(p)),
            timeout_secs: self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).max(1),
        })
    }

    /// At most one of `password_env`, `password_command`, `password`.
    fn password(
        &self,
        ctx: &Ctx<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Option<PasswordSource>, ConfigError> {
        let given = [
            self.password_env.is_some(),
            self.password_command.is_some(),
            self.password.is_some(),
        ];
        if given.iter().filter(|s| **s).count() > 1 {
            return Err(ctx.at(
                &self.host,
                "smtp.password",
                "give one of password_env, password_command, password",
            ));
        }
        Ok(
            match (&self.password_env, &self.password_command, &self.password) {
                (Some(v), _, _) => Some(PasswordSource::Env(v.clone())),
                (_, Some(c), _) if c.is_empty() => {
                    return Err(ctx.at(&self.host, "smtp.password_command", "empty command"));
                }
                (_, Some(c), _) => Some(PasswordSource::Command(c.clone())),
                (_, _, Some(p)) => {
                    warnings.push(ctx.warning(
                        p,
                        "smtp.password",
                        "a plain password in the file; prefer password_env or password_command",
                    ));
                    Some(PasswordSource::Plain(p.get_ref().clone()))
                }
                _ => None,
            },
        )
    }
}
