//! `[imap]`: the account the `drafts` composer stores dialog requests in, and where
//! `save_sent` copies delivered mail. The token and password sources are those of `[smtp]`.
use super::provider::Provider;
use super::smtp::{
    PasswordSource, Security, SmtpAuth, ca_file, host_or_preset, is_loopback, no_password,
    password_source, token_command,
};
use super::{ConfigError, Ctx, DEFAULT_TIMEOUT_SECS};
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

/// `[imap] provider`: webmail services with their IMAP server and the page that shows
/// their drafts (the `drafts` composer's `open` default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ImapProvider {
    #[serde(rename = "gmail")]
    Gmail,
    #[serde(rename = "microsoft365")]
    Microsoft365,
    #[serde(rename = "outlook.com")]
    OutlookCom,
    #[serde(rename = "fastmail")]
    Fastmail,
    #[serde(rename = "icloud")]
    Icloud,
    #[serde(rename = "yahoo")]
    Yahoo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImapPreset {
    pub name: &'static str,
    pub host: &'static str,
    pub port: u16,
    /// Opened after the upload: the provider's drafts folder in the browser.
    pub open: &'static str,
    /// The `[oauth2]` preset whose endpoints its tokens come from, if any.
    pub oauth2: Option<Provider>,
}

/// Every preset uses implicit TLS on 993. None turns `save_sent` on: Gmail and Outlook file
/// SMTP submissions in Sent themselves, and the others are unchecked (docs/webmail.md).
pub const IMAP_PRESETS: &[(ImapProvider, ImapPreset)] = &[
    (
        ImapProvider::Gmail,
        ImapPreset {
            name: "gmail",
            host: "imap.gmail.com",
            port: 993,
            open: "https://mail.google.com/mail/u/0/#drafts",
            oauth2: Some(Provider::Gmail),
        },
    ),
    (
        ImapProvider::Microsoft365,
        ImapPreset {
            name: "microsoft365",
            host: "outlook.office365.com",
            port: 993,
            open: "https://outlook.office.com/mail/drafts",
            oauth2: Some(Provider::Microsoft365),
        },
    ),
    (
        ImapProvider::OutlookCom,
        ImapPreset {
            name: "outlook.com",
            host: "outlook.office365.com",
            port: 993,
            open: "https://outlook.live.com/mail/0/drafts",
            oauth2: Some(Provider::OutlookCom),
        },
    ),
    (
        ImapProvider::Fastmail,
        ImapPreset {
            name: "fastmail",
            host: "imap.fastmail.com",
            port: 993,
            open: "https://app.fastmail.com/mail/Drafts",
            oauth2: None,
        },
    ),
    (
        ImapProvider::Icloud,
        ImapPreset {
            name: "icloud",
            host: "imap.mail.me.com",
            port: 993,
            open: "https://www.icloud.com/mail/",
            oauth2: None,
        },
    ),
    (
        ImapProvider::Yahoo,
        ImapPreset {
            name: "yahoo",
            host: "imap.mail.yahoo.com",
            port: 993,
            open: "https://mail.yahoo.com/d/folders/3",
            oauth2: None,
        },
    ),
];

impl ImapProvider {
    pub fn preset(self) -> &'static ImapPreset {
        &IMAP_PRESETS
            .iter()
            .find(|(p, _)| *p == self)
            .expect("every IMAP provider has a preset")
            .1
    }

    pub fn name(self) -> &'static str {
        self.preset().name
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub auth: SmtpAuth,
    pub password: Option<PasswordSource>,
    pub oauth2_token_command: Option<Vec<String>>,
    pub ca_file: Option<PathBuf>,
    /// `None`: the `\Drafts` special-use mailbox, else "Drafts".
    pub drafts_folder: Option<String>,
    pub save_sent: bool,
    pub timeout_secs: u64,
    pub provider: Option<ImapProvider>,
}

impl ImapSettings {
    /// The `open` URL of the preset, if any.
    pub fn preset_open(&self) -> Option<&'static str> {
        self.provider.map(|p| p.preset().open)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ImapSection {
    provider: Option<ImapProvider>,
    host: Option<Spanned<String>>,
    port: Option<u16>,
    security: Option<Spanned<Security>>,
    username: Option<Spanned<String>>,
    auth: Option<Spanned<SmtpAuth>>,
    password_env: Option<String>,
    password_command: Option<Vec<String>>,
    password: Option<Spanned<String>>,
    oauth2_token_command: Option<Spanned<Vec<String>>>,
    ca_file: Option<Spanned<PathBuf>>,
    drafts_folder: Option<String>,
    #[serde(default)]
    save_sent: bool,
    timeout_secs: Option<u64>,
    #[serde(default)]
    allow_insecure: bool,
}

impl ImapSection {
    /// Whether `[oauth2]` must supply the tokens (a token `auth` without a command).
    pub(super) fn needs_oauth2(&self) -> bool {
        self.auth
            .as_ref()
            .is_some_and(|a| a.get_ref().uses_tokens())
            && self.oauth2_token_command.is_none()
    }

    pub(super) fn validate(
        &self,
        ctx: &Ctx<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<ImapSettings, ConfigError> {
        let preset = self.provider.map(ImapProvider::preset);
        let host = self.host(preset, ctx)?;
        let security = self
            .security
            .as_ref()
            .map_or(Security::Tls, |s| *s.get_ref());
        if security == Security::None && !is_loopback(&host) && !self.allow_insecure {
            let message = format!(
                "security = \"none\" sends the password and the mail unencrypted to {host}; allowed only for loopback hosts unless allow_insecure = true"
            );
            return Err(match (&self.security, &self.host) {
                (Some(s), _) => ctx.at(s, "imap.security", message),
                (None, Some(h)) => ctx.at(h, "imap.security", message),
                _ => ctx.error(None, Some("imap.security"), message),
            });
        }
        let Some(username) = &self.username else {
            return Err(ctx.error(
                None,
                Some("imap.username"),
                "missing: the account to log in as",
            ));
        };
        let auth = self.auth.as_ref().map(|a| *a.get_ref()).unwrap_or_default();
        let password = password_source(
            "imap",
            self.password_env.as_ref(),
            self.password_command.as_ref(),
            self.password.as_ref(),
            ctx,
            warnings,
        )?;
        self.check_auth(auth, password.as_ref(), username, ctx)?;
        let drafts_folder = self.drafts_folder(ctx)?;
        Ok(ImapSettings {
            port: self.port.unwrap_or(match security {
                Security::Tls => 993,
                _ => 143,
            }),
            host,
            security,
            username: Some(username.get_ref().clone()),
            auth,
            password,
            oauth2_token_command: self
                .oauth2_token_command
                .as_ref()
                .map(|c| c.get_ref().clone()),
            ca_file: self
                .ca_file
                .as_ref()
                .map(|p| ca_file(p, "imap.ca_file", ctx))
                .transpose()?,
            drafts_folder,
            save_sent: self.save_sent,
            timeout_secs: self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).max(1),
            provider: self.provider,
        })
    }
    /// `host`, or the provider's.
    fn host(&self, preset: Option<&ImapPreset>, ctx: &Ctx<'_>) -> Result<String, ConfigError> {
        host_or_preset(
            self.host.as_ref(),
            preset.map(|p| p.host),
            "imap",
            "\"gmail\" | \"microsoft365\" | \"outlook.com\" | \"fastmail\" | \"icloud\" | \"yahoo\"",
            ctx,
        )
    }

    /// A token command needs a token `auth`; a token `auth` takes no password, any other needs one.
    fn check_auth(
        &self,
        auth: SmtpAuth,
        password: Option<&PasswordSource>,
        username: &Spanned<String>,
        ctx: &Ctx<'_>,
    ) -> Result<(), ConfigError> {
        token_command(self.oauth2_token_command.as_ref(), auth, "imap", ctx)?;
        if let Some(a) = self.auth.as_ref().filter(|a| a.get_ref().uses_tokens()) {
            no_password(a, auth, password, "imap", ctx)?;
        } else if password.is_none() {
            return Err(ctx.at(
                username,
                "imap.password",
                "missing: give password_env, password_command or password, or a token auth",
            ));
        }
        Ok(())
    }

    /// `drafts_folder`, trimmed; "" means discover it.
    fn drafts_folder(&self, ctx: &Ctx<'_>) -> Result<Option<String>, ConfigError> {
        let drafts_folder = self
            .drafts_folder
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty());
        if let Some(folder) = drafts_folder
            && folder
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\\')
        {
            return Err(ctx.error(
                None,
                Some("imap.drafts_folder"),
                "control characters, quotes and backslashes are not allowed in a mailbox name",
            ));
        }
        Ok(drafts_folder.map(str::to_string))
    }
}
