//! `[forward]`: another Simple MAPI provider every call is passed to.
use super::Ctx;
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardSettings {
    /// Another Simple MAPI provider (`.dll`, `.so`, `.dylib`).
    pub library: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ForwardSection {
    library: Spanned<PathBuf>,
}

impl ForwardSection {
    pub fn validate(&self, ctx: &Ctx<'_>) -> ForwardSettings {
        ForwardSettings {
            library: ctx.resolve(&self.library),
        }
    }
}
