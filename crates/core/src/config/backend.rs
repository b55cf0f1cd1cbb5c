//! `backend`: which delivery path sends the mail. The engine's registry builds each one.
use super::{ConfigError, Ctx, Settings};
use serde::Deserialize;

/// A new backend adds a variant here and a row in [`BACKENDS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    #[default]
    Outbox,
    Smtp,
    Sendmail,
    Forward,
    Plugin,
    Graph,
}

/// What the configuration knows about one backend.
pub struct BackendSpec {
    pub kind: BackendKind,
    /// The `backend` value, also used in logs.
    pub name: &'static str,
    /// The section that configures it.
    pub section: &'static str,
    /// Whether the settings hold what it needs (its section, or defaults that suffice).
    pub configured: fn(&Settings) -> bool,
    /// Hands the message on for delivery; cannot keep a message without recipients
    /// (docs/decisions.md §1).
    pub transmits: bool,
}

pub const BACKENDS: &[BackendSpec] = &[
    BackendSpec {
        kind: BackendKind::Outbox,
        name: "outbox",
        section: "outbox",
        configured: |_| true,
        transmits: false,
    },
    BackendSpec {
        kind: BackendKind::Smtp,
        name: "smtp",
        section: "smtp",
        configured: |s| s.smtp.is_some(),
        transmits: true,
    },
    BackendSpec {
        kind: BackendKind::Sendmail,
        name: "sendmail",
        section: "sendmail",
        configured: |_| true,
        transmits: true,
    },
    BackendSpec {
        kind: BackendKind::Forward,
        name: "forward",
        section: "forward",
        configured: |s| s.forward.is_some(),
        transmits: false,
    },
    BackendSpec {
        kind: BackendKind::Plugin,
        name: "plugin",
        section: "plugin",
        configured: |s| s.plugin.is_some(),
        transmits: false,
    },
    BackendSpec {
        kind: BackendKind::Graph,
        name: "graph",
        section: "graph",
        // Its defaults suffice; the tokens' source is checked with [oauth2].
        configured: |s| s.graph.is_some(),
        transmits: true,
    },
];

impl BackendKind {
    pub fn spec(self) -> &'static BackendSpec {
        BACKENDS
            .iter()
            .find(|spec| spec.kind == self)
            .expect("every BackendKind has a row in BACKENDS")
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// See [`BackendSpec::transmits`].
    pub fn transmits(self) -> bool {
        self.spec().transmits
    }

    pub(super) fn is_configured(self, settings: &Settings) -> bool {
        (self.spec().configured)(settings)
    }
}

/// `backend = "…"` names a backend whose section is there.
pub(super) fn validate(settings: &Settings, ctx: &Ctx<'_>) -> Result<(), ConfigError> {
    let spec = settings.backend.spec();
    if (spec.configured)(settings) {
        return Ok(());
    }
    Err(ctx.error(
        None,
        Some(spec.name),
        format!(
            "backend = \"{}\" needs a [{}] section with `library`",
            spec.name, spec.section
        ),
    ))
}
