//! `[smtp] provider`: presets for the big mail services. A preset fills the server
//! (host, port, security) and the `[oauth2]` endpoints, scopes and flow; every key written
//! in the file wins over it.
use super::Security;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Provider {
    #[serde(rename = "microsoft365")]
    Microsoft365,
    #[serde(rename = "outlook.com")]
    OutlookCom,
    #[serde(rename = "gmail")]
    Gmail,
}

/// What a preset fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    pub smtp_host: &'static str,
    pub smtp_port: u16,
    pub security: Security,
    /// `{tenant}` is replaced by `[oauth2] tenant`.
    pub device_authorization_url: Option<&'static str>,
    pub authorization_url: &'static str,
    pub token_url: &'static str,
    pub smtp_scopes: &'static [&'static str],
    /// Microsoft Graph's `Mail.Send` and `Mail.ReadWrite` (`backend = "graph"`, drafts through
    /// Graph); empty where Graph does not apply.
    pub graph_scopes: &'static [&'static str],
    pub flow: super::OAuth2Flow,
    pub default_tenant: Option<&'static str>,
}

const MICROSOFT_DEVICE: &str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode";
const MICROSOFT_AUTHORIZE: &str =
    "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize";
const MICROSOFT_TOKEN: &str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token";
const MICROSOFT_SMTP_SCOPES: &[&str] = &["https://outlook.office.com/SMTP.Send", "offline_access"];
/// `Mail.ReadWrite` too: the backend creates a draft for a message over one request's 4 MB or
/// one kept out of Sent Items, and the drafts composer creates drafts; `Mail.Send` only sends.
const MICROSOFT_GRAPH_SCOPES: &[&str] = &[
    "https://graph.microsoft.com/Mail.Send",
    "https://graph.microsoft.com/Mail.ReadWrite",
    "offline_access",
];

pub const PRESETS: &[(Provider, Preset)] = &[
    (
        Provider::Microsoft365,
        Preset {
            name: "microsoft365",
            smtp_host: "smtp.office365.com",
            smtp_port: 587,
            security: Security::Starttls,
            device_authorization_url: Some(MICROSOFT_DEVICE),
            authorization_url: MICROSOFT_AUTHORIZE,
            token_url: MICROSOFT_TOKEN,
            smtp_scopes: MICROSOFT_SMTP_SCOPES,
            graph_scopes: MICROSOFT_GRAPH_SCOPES,
            flow: super::OAuth2Flow::Device,
            default_tenant: Some("common"),
        },
    ),
    (
        Provider::OutlookCom,
        Preset {
            name: "outlook.com",
            smtp_host: "smtp-mail.outlook.com",
            smtp_port: 587,
            security: Security::Starttls,
            device_authorization_url: Some(MICROSOFT_DEVICE),
            authorization_url: MICROSOFT_AUTHORIZE,
            token_url: MICROSOFT_TOKEN,
            smtp_scopes: MICROSOFT_SMTP_SCOPES,
            graph_scopes: MICROSOFT_GRAPH_SCOPES,
            flow: super::OAuth2Flow::Device,
            // Personal Microsoft accounts sign in through the `consumers` tenant.
            default_tenant: Some("consumers"),
        },
    ),
    (
        Provider::Gmail,
        Preset {
            name: "gmail",
            smtp_host: "smtp.gmail.com",
            smtp_port: 587,
            security: Security::Starttls,
            // Google's device flow does not allow the mail scope.
            device_authorization_url: None,
            authorization_url: "https://accounts.google.com/o/oauth2/v2/auth",
            token_url: "https://oauth2.googleapis.com/token",
            smtp_scopes: &["https://mail.google.com/"],
            graph_scopes: &[],
            flow: super::OAuth2Flow::Browser,
            default_tenant: None,
        },
    ),
];

impl Provider {
    pub fn preset(self) -> &'static Preset {
        &PRESETS
            .iter()
            .find(|(p, _)| *p == self)
            .expect("every provider has a preset")
            .1
    }

    pub fn name(self) -> &'static str {
        self.preset().name
    }

    /// `--provider` values of `mapishim config init`.
    pub fn from_name(name: &str) -> Option<Provider> {
        PRESETS
            .iter()
            .find(|(_, p)| p.name.eq_ignore_ascii_case(name))
            .map(|(p, _)| *p)
    }

    pub fn is_microsoft(self) -> bool {
        matches!(self, Provider::Microsoft365 | Provider::OutlookCom)
    }
}
