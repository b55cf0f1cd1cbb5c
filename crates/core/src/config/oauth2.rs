//! `[oauth2]`: the built-in sign-in (`mapishim auth login`) for accounts that take OAuth2
//! bearer tokens (`[smtp] auth = "xoauth2" | "oauthbearer"`, `backend = "graph"`).
use super::provider::{Preset, Provider};
use super::{ConfigError, Ctx};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OAuth2Flow {
    /// RFC 8628 device authorization; Microsoft's default.
    Device,
    /// Authorization code + PKCE with a loopback redirect; required by Google.
    Browser,
}

/// The client ID `mapishim config init` writes when none was given.
pub const PLACEHOLDER_CLIENT_ID: &str = "00000000-0000-0000-0000-000000000000";

/// `[oauth2]` with the provider's preset applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Settings {
    pub client_id: String,
    /// Name of the environment variable holding the client secret (Google's installed
    /// apps have one); never the secret itself.
    pub client_secret_env: Option<String>,
    pub flow: OAuth2Flow,
    pub scopes: Vec<String>,
    pub device_authorization_url: Option<String>,
    pub authorization_url: Option<String>,
    pub token_url: String,
    pub token_file: PathBuf,
    /// Extra trusted roots (the `ca_file` of the section that uses the tokens).
    pub ca_file: Option<PathBuf>,
    /// Bound for each HTTP request and for waiting on the token file's lock.
    pub timeout: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OAuth2Section {
    client_id: Option<Spanned<String>>,
    tenant: Option<Spanned<String>>,
    flow: Option<Spanned<OAuth2Flow>>,
    client_secret_env: Option<String>,
    scopes: Option<Spanned<Vec<String>>>,
    device_authorization_url: Option<Spanned<String>>,
    authorization_url: Option<Spanned<String>>,
    token_url: Option<Spanned<String>>,
    token_file: Option<Spanned<PathBuf>>,
}

/// What the section that uses the tokens contributes.
pub struct Use<'a> {
    /// The section (`smtp`, `imap`, `graph`) whose `oauth2_token_command` is the other way.
    pub section: &'static str,
    pub provider: Option<Provider>,
    /// Microsoft Graph rather than SMTP: the preset's Graph scopes.
    pub graph: bool,
    /// The account (SMTP user name, sender): names the default token file.
    pub account: Option<&'a str>,
    pub ca_file: Option<PathBuf>,
    pub timeout_secs: u64,
}

/// Plain `http://` only for loopback hosts (tests, local helpers), as `security = "none"`
/// is for SMTP.
pub fn check_endpoint(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not a URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if super::smtp::is_loopback(host) => Ok(()),
        "http" => Err("plain http:// is accepted for loopback hosts only; use https://".into()),
        other => Err(format!("unsupported scheme {other:?}")),
    }
}

/// The default token file: per user, named after the account.
fn default_token_file(account: Option<&str>) -> Option<PathBuf> {
    let name: String = account
        .unwrap_or("default")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    super::data_dir().map(|d| d.join("tokens").join(format!("{name}.json")))
}

/// `client_id`: required, not empty; the placeholder is a warning.
fn client_id(
    section: &OAuth2Section,
    ctx: &Ctx<'_>,
    warnings: &mut Vec<String>,
) -> Result<String, ConfigError> {
    let Some(client_id) = &section.client_id else {
        return Err(ctx.error(
            None,
            Some("oauth2.client_id"),
            "missing: the application (client) ID of your app registration (docs/accounts.md)",
        ));
    };
    let client_id_text = client_id.get_ref().trim().to_string();
    if client_id_text.is_empty() {
        return Err(ctx.at(client_id, "oauth2.client_id", "empty client_id"));
    }
    if client_id_text == PLACEHOLDER_CLIENT_ID {
        warnings.push(ctx.warning(
            client_id,
            "oauth2.client_id",
            "still the placeholder: register an app and put its client ID here (docs/accounts.md)",
        ));
    }
    Ok(client_id_text)
}

/// `tenant` (Microsoft only), else the preset's, else `common`.
fn tenant(
    section: &OAuth2Section,
    provider: Option<Provider>,
    preset: Option<&Preset>,
    ctx: &Ctx<'_>,
) -> Result<String, ConfigError> {
    if let (Some(tenant), Some(p)) = (&section.tenant, provider)
        && !p.is_microsoft()
    {
        return Err(ctx.at(
            tenant,
            "oauth2.tenant",
            format!(
                "tenant applies to Microsoft accounts only, not {}",
                p.name()
            ),
        ));
    }
    let tenant = section
        .tenant
        .as_ref()
        .map(|t| t.get_ref().trim().to_string())
        .or_else(|| preset.and_then(|p| p.default_tenant).map(str::to_string))
        .unwrap_or_else(|| "common".into());
    if tenant.is_empty()
        || !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    {
        let span = section
            .tenant
            .as_ref()
            .expect("only a written tenant can be wrong");
        return Err(ctx.at(
            span,
            "oauth2.tenant",
            "a tenant ID, domain, organizations, consumers or common",
        ));
    }
    Ok(tenant)
}

/// `flow`, else the preset's, else device; the flow's endpoint must be known.
fn flow(
    section: &OAuth2Section,
    using: &Use<'_>,
    preset: Option<&Preset>,
    device_authorization_url: &Option<String>,
    authorization_url: &Option<String>,
    ctx: &Ctx<'_>,
) -> Result<OAuth2Flow, ConfigError> {
    let flow = section
        .flow
        .as_ref()
        .map(|f| *f.get_ref())
        .or(preset.map(|p| p.flow))
        .unwrap_or(OAuth2Flow::Device);
    match flow {
        OAuth2Flow::Device if device_authorization_url.is_none() => {
            let message = if using.provider == Some(Provider::Gmail) {
                "Google does not allow the device flow for mail; use flow = \"browser\""
            } else {
                "flow = \"device\" needs device_authorization_url"
            };
            return Err(match &section.flow {
                Some(f) => ctx.at(f, "oauth2.flow", message),
                None => ctx.error(None, Some("oauth2.device_authorization_url"), message),
            });
        }
        OAuth2Flow::Browser if authorization_url.is_none() => {
            let message = "flow = \"browser\" needs authorization_url";
            return Err(match &section.flow {
                Some(f) => ctx.at(f, "oauth2.flow", message),
                None => ctx.error(None, Some("oauth2.authorization_url"), message),
            });
        }
        _ => {}
    }
    Ok(flow)
}

/// `scopes`, else the preset's for SMTP or Graph; never none.
fn scopes(
    section: &OAuth2Section,
    using: &Use<'_>,
    preset: Option<&Preset>,
    ctx: &Ctx<'_>,
) -> Result<Vec<String>, ConfigError> {
    Ok(match &section.scopes {
        Some(s) if s.get_ref().is_empty() => {
            return Err(ctx.at(s, "oauth2.scopes", "no scope: a token would allow nothing"));
        }
        Some(s) => s.get_ref().clone(),
        None => {
            let preset_scopes = preset.map(|p| {
                if using.graph {
                    p.graph_scopes
                } else {
                    p.smtp_scopes
                }
            });
            match preset_scopes {
                Some(list) if !list.is_empty() => list.iter().map(|s| s.to_string()).collect(),
                _ => {
                    return Err(ctx.error(
                        None,
                        Some("oauth2.scopes"),
                        "missing: the scopes to ask for (presets fill them)",
                    ));
                }
            }
        }
    })
}

/// `section` is required: the caller checked that tokens come from the built-in sign-in.
pub(super) fn validate(
    section: Option<&OAuth2Section>,
    using: &Use<'_>,
    ctx: &Ctx<'_>,
    warnings: &mut Vec<String>,
) -> Result<OAuth2Settings, ConfigError> {
    let Some(section) = section else {
        return Err(ctx.error(
            None,
            Some("oauth2"),
            format!(
                "OAuth2 tokens need an [oauth2] section with client_id (or [{}] oauth2_token_command)",
                using.section
            ),
        ));
    };
    let preset = using.provider.map(Provider::preset);
    let client_id_text = client_id(section, ctx, warnings)?;
    let tenant = tenant(section, using.provider, preset, ctx)?;
    let from_preset = |url: Option<&str>| url.map(|u| u.replace("{tenant}", &tenant));
    let url = |key: &str,
               value: &Option<Spanned<String>>,
               preset_value: Option<&str>|
     -> Result<Option<String>, ConfigError> {
        match value {
            Some(v) => {
                let text = v.get_ref().trim().to_string();
                check_endpoint(&text).map_err(|e| ctx.at(v, &format!("oauth2.{key}"), e))?;
                Ok(Some(text))
            }
            None => Ok(from_preset(preset_value)),
        }
    };
    let device_authorization_url = url(
        "device_authorization_url",
        &section.device_authorization_url,
        preset.and_then(|p| p.device_authorization_url),
    )?;
    let authorization_url = url(
        "authorization_url",
        &section.authorization_url,
        preset.map(|p| p.authorization_url),
    )?;
    let token_url =
        url("token_url", &section.token_url, preset.map(|p| p.token_url))?.ok_or_else(|| {
            ctx.error(
                None,
                Some("oauth2.token_url"),
                "missing: set token_url, or [smtp] provider for a preset",
            )
        })?;
    let flow = flow(
        section,
        using,
        preset,
        &device_authorization_url,
        &authorization_url,
        ctx,
    )?;
    let scopes = scopes(section, using, preset, ctx)?;
    let token_file = match &section.token_file {
        Some(p) => ctx.resolve(p),
        None => default_token_file(using.account).ok_or_else(|| {
            ctx.error(
                None,
                Some("oauth2.token_file"),
                "no per-user data folder on this system: set token_file",
            )
        })?,
    };
    Ok(OAuth2Settings {
        client_id: client_id_text,
        client_secret_env: section.client_secret_env.clone(),
        flow,
        scopes,
        device_authorization_url,
        authorization_url,
        token_url,
        token_file,
        ca_file: using.ca_file.clone(),
        timeout: Duration::from_secs(using.timeout_secs.max(1)),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{OAuth2Flow, Provider, Security, Settings, SmtpAuth};

    fn parse(text: &str) -> Result<Settings, crate::config::ConfigError> {
        Settings::from_toml(text, None)
    }

    const M365: &str = "backend = \"smtp\"\n[smtp]\nprovider = \"microsoft365\"\nusername = \"a@contoso.com\"\nauth = \"xoauth2\"\n";

    #[test]
    fn presets_fill_the_server_and_the_endpoints() {
        let s = parse(&format!(
            "{M365}[oauth2]\nclient_id = \"id\"\ntenant = \"contoso.com\"\n"
        ))
        .unwrap();
        let smtp = s.smtp.unwrap();
        assert_eq!(
            (smtp.host.as_str(), smtp.port, smtp.security),
            ("smtp.office365.com", 587, Security::Starttls)
        );
        assert_eq!(smtp.auth, SmtpAuth::Xoauth2);
        assert_eq!(smtp.provider, Some(Provider::Microsoft365));
        let o = s.oauth2.unwrap();
        assert_eq!(o.flow, OAuth2Flow::Device);
        assert_eq!(
            o.token_url,
            "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token"
        );
        assert_eq!(
            o.scopes,
            ["https://outlook.office.com/SMTP.Send", "offline_access"]
        );
        assert!(o.token_file.ends_with("tokens/a@contoso.com.json"));

        let g = parse("backend = \"smtp\"\n[smtp]\nprovider = \"gmail\"\nusername = \"a@gmail.com\"\nauth = \"oauthbearer\"\n[oauth2]\nclient_id = \"id\"\n").unwrap();
        let o = g.oauth2.unwrap();
        assert_eq!(
            (o.flow, o.scopes.as_slice()),
            (
                OAuth2Flow::Browser,
                ["https://mail.google.com/".to_string()].as_slice()
            )
        );
        assert_eq!(o.device_authorization_url, None);
        let consumer = parse("backend = \"smtp\"\n[smtp]\nprovider = \"outlook.com\"\nusername = \"a@outlook.com\"\nauth = \"xoauth2\"\n[oauth2]\nclient_id = \"id\"\n").unwrap();
        assert_eq!(consumer.smtp.unwrap().host, "smtp-mail.outlook.com");
        assert!(consumer.oauth2.unwrap().token_url.contains("/consumers/"));
    }

    #[test]
    fn explicit_keys_win_over_the_preset() {
        let s = parse(&format!(
            "{M365}host = \"127.0.0.1\"\nport = 2525\n[oauth2]\nclient_id = \"id\"\nscopes = [\"x\"]\ntoken_url = \"http://127.0.0.1:9/token\"\nflow = \"browser\"\n"
        ))
        .unwrap();
        assert_eq!(
            (
                s.smtp.as_ref().unwrap().host.as_str(),
                s.smtp.as_ref().unwrap().port
            ),
            ("127.0.0.1", 2525)
        );
        let o = s.oauth2.unwrap();
        assert_eq!(
            (o.token_url.as_str(), o.scopes.as_slice(), o.flow),
            (
                "http://127.0.0.1:9/token",
                ["x".to_string()].as_slice(),
                OAuth2Flow::Browser
            )
        );
    }

    #[test]
    fn refusals_name_the_key() {
        let key = |text: &str| parse(text).unwrap_err().key;
        // Plain http only to loopback.
        assert_eq!(key(&format!("{M365}[oauth2]\nclient_id = \"id\"\ntoken_url = \"http://login.example.org/token\"\n")).as_deref(), Some("oauth2.token_url"));
        assert_eq!(
            key(&format!("{M365}[oauth2]\ntenant = \"x\"\n")).as_deref(),
            Some("oauth2.client_id")
        );
        assert_eq!(key(M365).as_deref(), Some("oauth2"));
        assert_eq!(
            key(&format!(
                "{M365}password_env = \"P\"\n[oauth2]\nclient_id = \"i\"\n"
            ))
            .as_deref(),
            Some("smtp.auth")
        );
        assert_eq!(key("backend = \"smtp\"\n[smtp]\nprovider = \"gmail\"\nauth = \"xoauth2\"\noauth2_token_command = [\"x\"]\n").as_deref(), Some("smtp.username"));
        assert_eq!(
            key("backend = \"smtp\"\n[smtp]\nhost = \"h\"\noauth2_token_command = [\"x\"]\n")
                .as_deref(),
            Some("smtp.oauth2_token_command")
        );
        assert_eq!(key("backend = \"smtp\"\n[smtp]\nprovider = \"gmail\"\nusername = \"a@gmail.com\"\nauth = \"xoauth2\"\n[oauth2]\nclient_id = \"i\"\nflow = \"device\"\n").as_deref(), Some("oauth2.flow"));
        assert!(parse("backend = \"smtp\"\n[smtp]\nprovider = \"yahoo\"\n").is_err());
        assert_eq!(
            key("backend = \"smtp\"\n[smtp]\nusername = \"u\"\n").as_deref(),
            Some("smtp.host")
        );
    }

    #[test]
    fn a_token_command_needs_no_oauth2_section() {
        let s = parse("backend = \"smtp\"\n[smtp]\nprovider = \"microsoft365\"\nusername = \"a@x.org\"\nauth = \"xoauth2\"\noauth2_token_command = [\"pizauth\", \"show\", \"x\"]\n").unwrap();
        assert!(s.oauth2.is_none());
        assert_eq!(
            s.smtp.unwrap().oauth2_token_command.unwrap(),
            ["pizauth", "show", "x"]
        );
    }
}
