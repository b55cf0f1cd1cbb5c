//! `[outbox]`: the folder the outbox backend writes to, also the SMTP spool.
use super::source::data_dir;
use super::{ConfigError, Ctx};
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OutboxSection {
    dir: Option<Spanned<PathBuf>>,
}

impl OutboxSection {
    pub fn validate(&self, ctx: &Ctx<'_>) -> Result<PathBuf, ConfigError> {
        match &self.dir {
            Some(dir) => Ok(ctx.resolve(dir)),
            None => data_dir().map(|d| d.join("outbox")).ok_or_else(|| {
                ctx.error(
                    None,
                    Some("outbox.dir"),
                    "no per-user data folder on this system; set [outbox] dir",
                )
            }),
        }
    }
}
