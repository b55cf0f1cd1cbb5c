//! `[[route]]`: per-program overrides of `backend` and the composer kind.
use super::{BackendKind, ComposerKind, ConfigError, Ctx, Settings};
use serde::Deserialize;
use toml::Spanned;

/// One `[[route]]`: what a calling program whose file name matches `app` uses instead.
#[derive(Debug, Clone)]
pub struct Route {
    pub app: glob::Pattern,
    pub backend: Option<BackendKind>,
    pub composer: Option<ComposerKind>,
}

impl Route {
    /// Case-insensitive glob match on the executable's file name.
    pub fn matches(&self, app: &str) -> bool {
        let options = glob::MatchOptions {
            case_sensitive: false,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        self.app.matches_with(app, options)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RouteSection {
    app: Spanned<String>,
    backend: Option<Spanned<BackendKind>>,
    composer: Option<ComposerKind>,
}

impl RouteSection {
    pub fn backend(&self) -> Option<BackendKind> {
        self.backend.as_ref().map(|b| *b.get_ref())
    }

    /// Checked against the other sections: a route's backend must be configured too.
    pub fn validate(&self, settings: &Settings, ctx: &Ctx<'_>) -> Result<Route, ConfigError> {
        let app = glob::Pattern::new(self.app.get_ref())
            .map_err(|e| ctx.at(&self.app, "route.app", format!("bad pattern: {e}")))?;
        if let Some(kind) = &self.backend
            && !kind.get_ref().is_configured(settings)
        {
            let name = kind.get_ref().name();
            return Err(ctx.at(
                kind,
                "route.backend",
                format!("backend \"{name}\" needs a [{name}] section"),
            ));
        }
        if self.backend.is_none() && self.composer.is_none() {
            return Err(ctx.at(
                &self.app,
                "route",
                "a route needs `backend`, `composer` or both",
            ));
        }
        Ok(Route {
            app,
            backend: self.backend(),
            composer: self.composer,
        })
    }
}
