//! `[graph]`: Microsoft Graph (`backend = "graph"`), sending with `POST /me/sendMail` as the
//! signed-in user. Its tokens come from `oauth2_token_command` or the `[oauth2]` sign-in.
use super::provider::Provider;
use super::{ConfigError, Ctx, DEFAULT_TIMEOUT_SECS};
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

/// The Graph service root when the file names none.
pub const DEFAULT_GRAPH_ENDPOINT: &str = "https://graph.microsoft.com/v1.0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphSettings {
    /// The service root, without a trailing `/`.
    pub endpoint: String,
    /// Keep a copy in Sent Items (Exchange's default).
    pub save_to_sent: bool,
    /// The preset whose `[oauth2]` endpoints and Graph scopes apply.
    pub provider: Provider,
    pub oauth2_token_command: Option<Vec<String>>,
    pub ca_file: Option<PathBuf>,
    /// Bound for each request, and for waiting on `Retry-After` in total.
    pub timeout_secs: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GraphSection {
    endpoint: Option<Spanned<String>>,
    save_to_sent: Option<bool>,
    provider: Option<Spanned<Provider>>,
    oauth2_token_command: Option<Spanned<Vec<String>>>,
    ca_file: Option<Spanned<PathBuf>>,
    timeout_secs: Option<u64>,
}

/// `[graph]`, or its defaults when `backend = "graph"` (or a route) uses it without one.
pub(super) fn validate(
    section: Option<&GraphSection>,
    used: bool,
    ctx: &Ctx<'_>,
) -> Result<Option<GraphSettings>, ConfigError> {
    let section = match section {
        Some(s) => s,
        None if used => &GraphSection::default(),
        None => return Ok(None),
    };
    let endpoint = match &section.endpoint {
        Some(e) => {
            let text = e.get_ref().trim().trim_end_matches('/').to_string();
            super::check_endpoint(&text).map_err(|why| ctx.at(e, "graph.endpoint", why))?;
            text
        }
        None => DEFAULT_GRAPH_ENDPOINT.to_string(),
    };
    let provider = match &section.provider {
        Some(p) if *p.get_ref() == Provider::Gmail => {
            return Err(ctx.at(
                p,
                "graph.provider",
                "Gmail has no Microsoft Graph; use backend = \"smtp\" with provider = \"gmail\"",
            ));
        }
        Some(p) => *p.get_ref(),
        None => Provider::Microsoft365,
    };
    let oauth2_token_command = match &section.oauth2_token_command {
        Some(c) if c.get_ref().is_empty() => {
            return Err(ctx.at(c, "graph.oauth2_token_command", "empty command"));
        }
        Some(c) => Some(c.get_ref().clone()),
        None => None,
    };
    let ca_file = section
        .ca_file
        .as_ref()
        .map(|c| super::smtp::ca_file(c, "graph.ca_file", ctx))
        .transpose()?;
    Ok(Some(GraphSettings {
        endpoint,
        save_to_sent: section.save_to_sent.unwrap_or(true),
        provider,
        oauth2_token_command,
        ca_file,
        timeout_secs: section.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
    }))
}
