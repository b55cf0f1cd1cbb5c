//! Configuration: a TOML file whose key names are a public interface (docs/configuration.md).
//!
//! The file comes from `MAPISHIM_CONFIG`, else the machine file (or the one the Windows
//! policy names) with the user's file merged on top, key by key ([`layers`]). Missing
//! platform files mean built-in defaults; a file that was named but is missing, or any
//! problem inside a file, is an error that names the file, the line and the key
//! (`file:line: key `name`: message`, built by [`ConfigError`]).
//!
//! One module per section. Each holds the section's schema (a `serde` struct with
//! `deny_unknown_fields`, whose field order is the order error messages list keys in), the
//! validated settings type it produces, and a `validate` that turns one into the other.
//! [`Settings::from_toml`] only calls them, in a fixed order.
//!
//! - **A key in an existing section**: a field in that module's `…Section` (wrap it in
//!   `Spanned` when its value can be wrong, so the error names its line), the matching
//!   field in its settings type, and the check in its `validate`. Document it in
//!   docs/configuration.md.
//! - **A new section** (`[graph]`, say): a module `graph.rs` with `GraphSection`,
//!   `GraphSettings` and `validate`; one field in [`FileConfig`] and one in [`Settings`];
//!   one line in [`Settings::from_toml`].
//! - **A new backend**: the section as above, a variant in [`BackendKind`] and a row in
//!   [`BACKENDS`] (its name, its section, whether it is configured); then its crate and one
//!   entry in the engine's backend registry (`crates/engine/src/registry.rs`), which builds
//!   it and says what `config check` prints about it.
//! - **A new composer kind**: a variant in [`ComposerKind`], a row in [`COMPOSER_KINDS`],
//!   and one entry in the engine's composer registry.
// No function here passes 80 lines (crates/core/clippy.toml): one per section keeps each short.
#![deny(clippy::too_many_lines)]
mod addressbook;
mod backend;
mod composer;
mod error;
mod forward;
mod graph;
mod imap;
mod layers;
mod log;
mod mailbox;
mod oauth2;
mod outbox;
mod plugin;
mod policy;
mod provider;
mod route;
mod sendmail;
mod smtp;
mod source;
mod top;

#[cfg(test)]
mod layer_tests;
#[cfg(test)]
mod tests;

pub use backend::{BACKENDS, BackendKind, BackendSpec};
pub use composer::{
    COMPOSER_KINDS, ComposerKind, ComposerSettings, DEFAULT_RETENTION_HOURS, DraftsVia, WEBLINK,
    window_unavailable,
};
pub use error::ConfigError;
pub use forward::ForwardSettings;
pub use graph::{DEFAULT_GRAPH_ENDPOINT, GraphSettings};
pub use imap::{IMAP_PRESETS, ImapPreset, ImapProvider, ImapSettings};
pub use layers::{KeySource, LockedOverride};
pub use log::{LOG_LEVEL_ENV, LOG_LEVELS};
pub use mailbox::MailboxSettings;
pub use oauth2::{OAuth2Flow, OAuth2Settings, PLACEHOLDER_CLIENT_ID, check_endpoint};
pub use plugin::PluginSettings;
pub use policy::{POLICY_KEY, POLICY_VALUE, expand_env};
pub use provider::{PRESETS, Preset, Provider};
pub use route::Route;
pub use sendmail::{DEFAULT_SENDMAIL, SendmailSettings};
pub use smtp::{PasswordSource, Security, SmtpAuth, SmtpSettings};
pub use source::{
    CONFIG_ENV, ConfigFile, ConfigSource, Origin, data_dir, default_log_file, file_stamp,
    machine_file,
};
pub use top::OnFailure;

pub(crate) use error::{Ctx, Layer};

use crate::Mailbox;
use crate::text::TextDecoder;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Network and program timeouts when the file sets none (docs/decisions.md §6).
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// The top-level keys and sections of [`FileConfig`], in its order: what `locked` may name
/// and what `config check` reports as defaults when no file sets them.
pub const TOP_KEYS: &[&str] = &[
    "backend",
    "from",
    "ansi_codepage",
    "outbox",
    "addressbook",
    "log",
    "on_failure",
    "smtp",
    "imap",
    "graph",
    "oauth2",
    "composer",
    "sendmail",
    "forward",
    "plugin",
    "route",
    "mailbox",
];

/// The whole file: top-level keys, then one field per section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    backend: BackendKind,
    from: Option<Spanned<String>>,
    ansi_codepage: Option<Spanned<String>>,
    #[serde(default)]
    outbox: outbox::OutboxSection,
    #[serde(default)]
    addressbook: addressbook::AddressBookSection,
    #[serde(default)]
    log: log::LogSection,
    on_failure: Option<OnFailure>,
    smtp: Option<smtp::SmtpSection>,
    imap: Option<imap::ImapSection>,
    graph: Option<graph::GraphSection>,
    oauth2: Option<oauth2::OAuth2Section>,
    composer: Option<composer::ComposerSection>,
    sendmail: Option<sendmail::SendmailSection>,
    forward: Option<forward::ForwardSection>,
    plugin: Option<plugin::PluginSection>,
    #[serde(default)]
    route: Vec<route::RouteSection>,
    mailbox: Option<mailbox::MailboxSection>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file it came from; `None` for built-in defaults.
    pub path: Option<PathBuf>,
    pub backend: BackendKind,
    pub from: Option<Mailbox>,
    pub decoder: TextDecoder,
    pub outbox_dir: PathBuf,
    pub vcards: Vec<PathBuf>,
    pub log_file: Option<PathBuf>,
    pub log_level: String,
    pub on_failure: OnFailure,
    pub smtp: Option<SmtpSettings>,
    /// `[imap]`: the `drafts` composer's account and `save_sent`.
    pub imap: Option<ImapSettings>,
    /// `[oauth2]` with presets applied, when the tokens come from the built-in sign-in.
    pub oauth2: Option<OAuth2Settings>,
    /// `[graph]`: Microsoft Graph; its defaults when `backend = "graph"` has no section.
    pub graph: Option<GraphSettings>,
    pub composer: Option<ComposerSettings>,
    pub sendmail: Option<SendmailSettings>,
    pub forward: Option<ForwardSettings>,
    pub plugin: Option<PluginSettings>,
    pub routes: Vec<Route>,
    pub mailbox: Option<MailboxSettings>,
    /// The `app` pattern of the route [`Settings::for_app`] applied.
    pub matched_route: Option<String>,
    /// Problems that do not stop mail but that `config check` reports.
    pub warnings: Vec<String>,
    /// Where every effective key came from, file keys first, then the defaults.
    pub key_sources: Vec<KeySource>,
    /// The machine file's `locked` names.
    pub locked: Vec<String>,
    /// The user's keys that `locked` refused (logged once per load by the engine).
    pub locked_overrides: Vec<LockedOverride>,
}

fn parse(table: Spanned<toml::de::DeTable<'_>>, ctx: &Ctx<'_>) -> Result<FileConfig, ConfigError> {
    FileConfig::deserialize(toml::de::Deserializer::from(table))
        .map_err(|e| layers::parse_error(ctx, 0, &e))
}

/// `[oauth2]` as the section that needs tokens uses it: `[smtp]` first, else `[imap]`.
fn oauth2_for(
    file: &FileConfig,
    graph: Option<&GraphSettings>,
    from: Option<&Mailbox>,
    smtp: Option<&SmtpSettings>,
    imap: Option<&ImapSettings>,
    ctx: &Ctx<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<OAuth2Settings>, ConfigError> {
    // Graph first: with backend = "graph", its scopes are the ones to ask for.
    if let Some(graph) = graph.filter(|g| g.oauth2_token_command.is_none()) {
        return Ok(Some(oauth2::validate(
            file.oauth2.as_ref(),
            &oauth2::Use {
                section: "graph",
                provider: Some(graph.provider),
                graph: true,
                account: from.map(|f| f.address.as_str()),
                ca_file: graph.ca_file.clone(),
                timeout_secs: graph.timeout_secs,
            },
            ctx,
            warnings,
        )?));
    }
    Ok(match (&file.smtp, smtp) {
        (Some(section), Some(smtp)) if section.needs_oauth2() => Some(oauth2::validate(
            file.oauth2.as_ref(),
            &oauth2::Use {
                section: "smtp",
                provider: smtp.provider,
                graph: false,
                account: smtp.username.as_deref(),
                ca_file: smtp.ca_file.clone(),
                timeout_secs: smtp.timeout_secs,
            },
            ctx,
            warnings,
        )?),
        _ => match (&file.imap, imap) {
            // [imap] alone with the built-in sign-in: the tokens of its preset's endpoints.
            (Some(section), Some(imap)) if section.needs_oauth2() => Some(oauth2::validate(
                file.oauth2.as_ref(),
                &oauth2::Use {
                    section: "imap",
                    provider: imap.provider.and_then(|p| p.preset().oauth2),
                    graph: false,
                    account: imap.username.as_deref(),
                    ca_file: imap.ca_file.clone(),
                    timeout_secs: imap.timeout_secs,
                },
                ctx,
                warnings,
            )?),
            _ => {
                if file.oauth2.is_some() {
                    warnings.push(
                        "[oauth2] is unused: it serves [smtp] auth = \"xoauth2\" or \"oauthbearer\" without oauth2_token_command".into(),
                    );
                }
                None
            }
        },
    })
}

/// `[composer]`; the drafts kind over IMAP needs the `[imap]` account (over Graph,
/// `[graph]` is filled with its defaults when absent).
fn composer_for(
    file: &FileConfig,
    imap: Option<&ImapSettings>,
    ctx: &Ctx<'_>,
) -> Result<Option<ComposerSettings>, ConfigError> {
    let composer = file
        .composer
        .as_ref()
        .map(|c| c.validate(ctx))
        .transpose()?;
    if composer
        .as_ref()
        .is_some_and(|c| c.drafts_via() == Some(DraftsVia::Imap))
        && imap.is_none()
    {
        return Err(ctx.error(
                None,
                Some("imap"),
                "[composer] kind = \"drafts\" needs an [imap] section (the account whose Drafts folder gets the message)",
            ));
    }
    Ok(composer)
}

impl Settings {
    /// One file, the user's, alone.
    pub fn from_toml(text: &str, path: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::from_layers(&[Layer {
            origin: Origin::User,
            path,
            text,
            base: 0,
        }])
    }

    /// The files merged, lowest first, then validated as one.
    pub(crate) fn from_layers(layers: &[Layer<'_>]) -> Result<Settings, ConfigError> {
        let ctx = Ctx { layers };
        let merged = layers::merge(&ctx)?;
        let file = parse(merged.table, &ctx)?;
        let mut settings = Settings::from_file(&file, &ctx)?;
        settings.path = layers
            .iter()
            .rfind(|l| matches!(l.origin, Origin::User | Origin::Named))
            .and_then(|l| l.path)
            .map(Path::to_path_buf);
        settings.key_sources = merged.sources;
        settings.locked = merged.locked;
        settings.locked_overrides = merged.overrides;
        Ok(settings)
    }

    fn from_file(file: &FileConfig, ctx: &Ctx<'_>) -> Result<Settings, ConfigError> {
        let ctx = *ctx;
        let mut warnings = Vec::new();
        let from = top::from(file.from.as_ref(), &ctx)?;
        let decoder = top::decoder(file.ansi_codepage.as_ref(), &ctx)?;
        let (log_file, log_level) = file.log.validate(&ctx)?;
        let outbox_dir = file.outbox.validate(&ctx)?;
        let smtp = smtp::validate(
            file.smtp.as_ref(),
            file.backend == BackendKind::Smtp,
            &ctx,
            &mut warnings,
        )?;
        let imap = file
            .imap
            .as_ref()
            .map(|i| i.validate(&ctx, &mut warnings))
            .transpose()?;
        let uses = |kind: BackendKind| {
            file.backend == kind || file.route.iter().any(|r| r.backend() == Some(kind))
        };
        let composer = composer_for(file, imap.as_ref(), &ctx)?;
        let graph_drafts = composer
            .as_ref()
            .is_some_and(|c| c.drafts_via() == Some(DraftsVia::Graph));
        let graph = graph::validate(
            file.graph.as_ref(),
            uses(BackendKind::Graph) || graph_drafts,
            &ctx,
        )?;
        let oauth2 = oauth2_for(
            file,
            graph.as_ref(),
            from.as_ref(),
            smtp.as_ref(),
            imap.as_ref(),
            &ctx,
            &mut warnings,
        )?;
        let sendmail =
            sendmail::validate(file.sendmail.as_ref(), uses(BackendKind::Sendmail), &ctx)?;
        let mut settings = Settings {
            path: None,
            backend: file.backend,
            from,
            decoder,
            outbox_dir,
            vcards: file.addressbook.validate(&ctx),
            log_file,
            log_level,
            on_failure: file.on_failure.unwrap_or_default(),
            smtp,
            imap,
            oauth2,
            graph,
            composer,
            sendmail,
            forward: file.forward.as_ref().map(|f| f.validate(&ctx)),
            plugin: file.plugin.as_ref().map(|p| p.validate(&ctx)),
            routes: Vec::new(),
            mailbox: None,
            matched_route: None,
            warnings,
            key_sources: Vec::new(),
            locked: Vec::new(),
            locked_overrides: Vec::new(),
        };
        // Checks across sections, once every section is known.
        backend::validate(&settings, &ctx)?;
        settings.mailbox = file
            .mailbox
            .as_ref()
            .map(|m| m.validate(&ctx))
            .transpose()?;
        settings.routes = file
            .route
            .iter()
            .map(|r| r.validate(&settings, &ctx))
            .collect::<Result<_, _>>()?;
        Ok(settings)
    }

    /// The settings a program uses: the first `[[route]]` whose pattern matches its file
    /// name replaces `backend` and/or the composer kind.
    pub fn for_app(mut self, app: &str) -> Settings {
        let Some(route) = self.routes.iter().find(|r| r.matches(app)).cloned() else {
            return self;
        };
        if let Some(backend) = route.backend {
            self.backend = backend;
        }
        match route.composer {
            Some(ComposerKind::None) => self.composer = None,
            Some(kind) => {
                // The [composer] program override belongs to the kind it was written for.
                let same_kind = self.composer.as_ref().is_some_and(|c| c.kind == kind);
                let retention_hours = self
                    .composer
                    .as_ref()
                    .map_or(DEFAULT_RETENTION_HOURS, |c| c.retention_hours);
                let (open, via) = self
                    .composer
                    .as_ref()
                    .map_or((None, DraftsVia::Imap), |c| (c.open.clone(), c.via));
                let program = self
                    .composer
                    .take()
                    .filter(|_| same_kind)
                    .and_then(|c| c.program);
                self.composer = Some(ComposerSettings {
                    kind,
                    program,
                    retention_hours,
                    open,
                    via,
                });
            }
            None => {}
        }
        self.matched_route = Some(route.app.as_str().to_string());
        self
    }
}
