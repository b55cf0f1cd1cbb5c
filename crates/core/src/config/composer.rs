//! `[composer]`: which mail composer `MAPI_DIALOG` requests open.
use super::{ConfigError, Ctx};
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

/// Which mail composer `MAPI_DIALOG` requests open. A new kind adds a variant here, a row
/// in [`COMPOSER_KINDS`], and an entry in the engine's composer registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComposerKind {
    XdgEmail,
    Thunderbird,
    Mailto,
    /// The first available of xdg-email, Thunderbird, mailto (docs/decisions.md §2).
    Auto,
    /// Stores the message in the webmail's Drafts folder (`via`), then opens `open`.
    Drafts,
    /// The built-in Win32 compose window (`mapishim-window`); Windows and Wine only.
    Window,
    /// Only in `[[route]]`: dialog requests of that program go to the backend.
    None,
}

/// Every kind with its configuration name (the `kind` value).
pub const COMPOSER_KINDS: &[(ComposerKind, &str)] = &[
    (ComposerKind::XdgEmail, "xdg-email"),
    (ComposerKind::Thunderbird, "thunderbird"),
    (ComposerKind::Mailto, "mailto"),
    (ComposerKind::Auto, "auto"),
    (ComposerKind::Drafts, "drafts"),
    (ComposerKind::Window, "window"),
    (ComposerKind::None, "none"),
];

impl ComposerKind {
    pub fn name(self) -> &'static str {
        COMPOSER_KINDS
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("?", |(_, name)| name)
    }
}

/// Why `kind = "window"` cannot open here, with the alternatives; `None` on Windows.
pub fn window_unavailable() -> Option<&'static str> {
    (!cfg!(windows)).then_some(
        "kind = \"window\" is Windows-only (Windows programs, also under Wine); here use \"xdg-email\", \"thunderbird\", \"mailto\", \"auto\" or \"drafts\"",
    )
}

/// `[composer] via`: where the `drafts` kind stores the draft.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DraftsVia {
    /// `APPEND` to the `[imap]` account's Drafts mailbox.
    #[default]
    Imap,
    /// Microsoft Graph (`POST /me/messages`), with `[graph]` and its tokens.
    Graph,
}

/// In `open`: replaced by the new draft's `webLink` (via Graph).
pub const WEBLINK: &str = "{weblink}";

/// How long staged attachment copies are kept for the composer, by default.
pub const DEFAULT_RETENTION_HOURS: u64 = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposerSettings {
    pub kind: ComposerKind,
    /// Overrides the executable the kind would use.
    pub program: Option<PathBuf>,
    /// Staged attachment folders older than this are removed.
    pub retention_hours: u64,
    /// `drafts`: the URL opened after the upload (`{weblink}`: Graph's link to the draft);
    /// `None`: the `[imap]` preset's, or `{weblink}` via Graph; `""`: nothing is opened.
    pub open: Option<String>,
    /// `drafts`: where the draft goes.
    pub via: DraftsVia,
}

impl ComposerSettings {
    /// Where drafts go when the kind is `drafts`; `None` for every other kind.
    pub fn drafts_via(&self) -> Option<DraftsVia> {
        (self.kind == ComposerKind::Drafts).then_some(self.via)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ComposerSection {
    kind: Spanned<ComposerKind>,
    program: Option<Spanned<PathBuf>>,
    retention_hours: Option<u64>,
    open: Option<Spanned<String>>,
    via: Option<Spanned<DraftsVia>>,
}

impl ComposerSection {
    pub fn validate(&self, ctx: &Ctx<'_>) -> Result<ComposerSettings, ConfigError> {
        if self.retention_hours == Some(0) {
            // Another call, or another program, may still be handing those files on.
            return Err(ctx.error(
                None,
                Some("composer.retention_hours"),
                "must be at least 1: staged files must outlive the composer reading them",
            ));
        }
        if *self.kind.get_ref() == ComposerKind::None {
            return Err(ctx.at(
                &self.kind,
                "composer.kind",
                "\"none\" is for [[route]] entries; remove [composer] instead",
            ));
        }
        let drafts = *self.kind.get_ref() == ComposerKind::Drafts;
        for (given, key) in [
            (self.open.as_ref().map(Spanned::span), "composer.open"),
            (self.via.as_ref().map(Spanned::span), "composer.via"),
        ] {
            if let (Some(span), false) = (given, drafts) {
                return Err(ctx.error(Some(span), Some(key), "only for kind = \"drafts\""));
            }
        }
        let via = self.via.as_ref().map(|v| *v.get_ref()).unwrap_or_default();
        if let Some(open) = &self.open {
            let url = open.get_ref();
            // `{weblink}` stands for Graph's https:// link to the draft.
            let probe = url.replace(WEBLINK, "https://weblink");
            if probe.chars().any(char::is_control)
                || (!url.is_empty()
                    && !probe.starts_with("https://")
                    && !probe.starts_with("http://"))
            {
                return Err(ctx.at(
                    open,
                    "composer.open",
                    "an http:// or https:// URL without control characters, \"{weblink}\", or \"\" to open nothing",
                ));
            }
            if url.contains(WEBLINK) && via != DraftsVia::Graph {
                return Err(ctx.at(
                    open,
                    "composer.open",
                    "{weblink} is Microsoft Graph's link to the draft: only with via = \"graph\"",
                ));
            }
        }
        Ok(ComposerSettings {
            kind: *self.kind.get_ref(),
            // A leading `/` is kept as written: under Wine it names a host program
            // (xdg-email through `start /unix`), which no Windows path rule may touch.
            program: self.program.as_ref().map(|p| {
                if p.get_ref().to_string_lossy().starts_with('/') {
                    p.get_ref().clone()
                } else {
                    ctx.resolve(p)
                }
            }),
            retention_hours: self.retention_hours.unwrap_or(DEFAULT_RETENTION_HOURS),
            open: self.open.as_ref().map(|o| o.get_ref().clone()),
            via,
        })
    }
}
