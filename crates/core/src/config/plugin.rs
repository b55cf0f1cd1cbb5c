//! `[plugin]`: a backend in a shared library of its own (include/mapishim_plugin.h).
use super::Ctx;
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

#[derive(Debug, Clone, PartialEq)]
pub struct PluginSettings {
    pub library: PathBuf,
    /// Passed to the plugin as TOML text.
    pub options: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PluginSection {
    library: Spanned<PathBuf>,
    #[serde(default)]
    options: toml::Table,
}

impl PluginSection {
    pub fn validate(&self, ctx: &Ctx<'_>) -> PluginSettings {
        PluginSettings {
            library: ctx.resolve(&self.library),
            options: self.options.clone(),
        }
    }
}
