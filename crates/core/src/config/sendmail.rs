//! `[sendmail]`: the local mail submission program.
use super::{ConfigError, Ctx, DEFAULT_TIMEOUT_SECS};
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

pub const DEFAULT_SENDMAIL: &str = "/usr/sbin/sendmail";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendmailSettings {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub timeout_secs: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SendmailSection {
    program: Option<Spanned<PathBuf>>,
    #[serde(default)]
    args: Vec<String>,
    timeout_secs: Option<u64>,
}

/// `needed`: the backend or a route uses sendmail, which works without a section.
pub(super) fn validate(
    section: Option<&SendmailSection>,
    needed: bool,
    ctx: &Ctx<'_>,
) -> Result<Option<SendmailSettings>, ConfigError> {
    if section.is_none() && !needed {
        return Ok(None);
    }
    let default = SendmailSection::default();
    let section = section.unwrap_or(&default);
    Ok(Some(SendmailSettings {
        program: section
            .program
            .as_ref()
            .map(|p| ctx.resolve(p))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SENDMAIL)),
        args: section.args.clone(),
        timeout_secs: section.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).max(1),
    }))
}
