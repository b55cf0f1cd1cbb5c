//! One entry per backend and per composer kind: how each is built from the settings and
//! what `config check` says about it. The configuration side (name, section, schema) is in
//! `mapishim_core::config`; adding a backend is a crate, a section module there, and one
//! entry here (see the module doc of `mapishim_core::config`).
use mapishim_composer::Launcher;
use mapishim_core::config::{
    BackendKind, ComposerKind, ComposerSettings, DraftsVia, Settings, WEBLINK,
};
use mapishim_core::{Backend, DialogComposer, DraftStore};

/// What `config check` reports about a backend beyond the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A `label: text` line of the report.
    Line(&'static str, String),
    /// A problem that does not stop mail.
    Warning(String),
}

pub struct BackendEntry {
    pub kind: BackendKind,
    /// Checks that need more than the file: programs and libraries on disk.
    pub check: fn(&Settings) -> Vec<Finding>,
    /// Builds it; loading a library can fail, and the error names the file.
    pub build: fn(&Settings) -> Result<Box<dyn Backend>, String>,
    /// It refuses calls back into mapishim from its own foreign code itself; otherwise the
    /// engine refuses them while the backend runs (`reentry.rs`).
    pub guards_reentry: bool,
}

pub static BACKENDS: &[BackendEntry] = &[
    BackendEntry {
        kind: BackendKind::Outbox,
        check: |_| Vec::new(),
        build: |s| Ok(Box::new(mapishim_outbox::Outbox::new(s.outbox_dir.clone()))),
        guards_reentry: false,
    },
    BackendEntry {
        kind: BackendKind::Smtp,
        // `config check` reports [smtp] whatever the backend: `outbox flush` uses it too.
        check: |_| Vec::new(),
        build: |s| {
            let smtp = smtp_backend(s).ok_or_else(|| missing(s))?;
            // `[imap] save_sent`: a copy of each delivered message in the Sent mailbox.
            Ok(match s.imap.as_ref().filter(|i| i.save_sent) {
                Some(imap) => Box::new(mapishim_imap::SentCopy::new(smtp, imap, s.oauth2.as_ref())),
                None => Box::new(smtp),
            })
        },
        guards_reentry: false,
    },
    BackendEntry {
        kind: BackendKind::Sendmail,
        check: check_sendmail,
        build: |s| {
            Ok(Box::new(mapishim_sendmail::SendmailBackend::new(
                s.sendmail.clone().ok_or_else(|| missing(s))?,
                s.outbox_dir.clone(),
            )))
        },
        guards_reentry: false,
    },
    BackendEntry {
        kind: BackendKind::Forward,
        check: |s| library_line("forward to", s.forward.as_ref().map(|f| &f.library)),
        build: |s| {
            let forward = s.forward.as_ref().ok_or_else(|| missing(s))?;
            Ok(Box::new(mapishim_forward::ForwardBackend::load(
                forward, s.decoder,
            )?))
        },
        guards_reentry: true,
    },
    BackendEntry {
        kind: BackendKind::Plugin,
        check: |s| library_line("plugin", s.plugin.as_ref().map(|p| &p.library)),
        build: |s| {
            let plugin = s.plugin.as_ref().ok_or_else(|| missing(s))?;
            Ok(Box::new(mapishim_plugin_host::PluginBackend::load(plugin)?))
        },
        guards_reentry: false,
    },
    BackendEntry {
        kind: BackendKind::Graph,
        check: check_graph,
        build: |s| Ok(Box::new(graph_backend(s).ok_or_else(|| missing(s))?)),
        guards_reentry: false,
    },
];

pub struct ComposerEntry {
    pub kinds: &'static [ComposerKind],
    /// The whole configuration too: the drafts composer needs `[imap]` and the outbox.
    pub build: fn(&ComposerSettings, &Settings) -> Box<dyn DialogComposer>,
}

pub static COMPOSERS: &[ComposerEntry] = &[
    ComposerEntry {
        kinds: &[
            ComposerKind::XdgEmail,
            ComposerKind::Thunderbird,
            ComposerKind::Mailto,
        ],
        build: |c, _| Box::new(Launcher::new(c.clone())),
    },
    ComposerEntry {
        kinds: &[ComposerKind::Auto],
        build: |c, _| auto_composer(c),
    },
    ComposerEntry {
        kinds: &[ComposerKind::Drafts],
        build: |c, s| Box::new(drafts_composer(c, s)),
    },
    ComposerEntry {
        kinds: &[ComposerKind::Window],
        build: |_, _| Box::new(mapishim_window::ComposeWindow),
    },
];

/// `kind = "auto"` (docs/decisions.md §2): on Windows with no mail program registered, the
/// built-in window; otherwise the first of xdg-email, Thunderbird, mailto.
fn auto_composer(composer: &ComposerSettings) -> Box<dyn DialogComposer> {
    if cfg!(windows) {
        match mapishim_window::registered_mail_program() {
            None => {
                tracing::debug!("kind = \"auto\": no mail program registered, the compose window");
                return Box::new(mapishim_window::ComposeWindow);
            }
            Some(client) => {
                tracing::debug!(%client, "kind = \"auto\": a mail program is registered")
            }
        }
    }
    Box::new(Launcher::new(composer.clone()))
}

pub fn backend_entry(kind: BackendKind) -> &'static BackendEntry {
    BACKENDS
        .iter()
        .find(|e| e.kind == kind)
        .expect("every BackendKind has a registry entry")
}

/// The composer for `[composer]`; `None` for a kind no entry builds (`none`).
pub fn build_composer(
    composer: &ComposerSettings,
    settings: &Settings,
) -> Option<Box<dyn DialogComposer>> {
    COMPOSERS
        .iter()
        .find(|e| e.kinds.contains(&composer.kind))
        .map(|e| (e.build)(composer, settings))
}

/// The `drafts` composer over `[imap]` or Microsoft Graph (validation guarantees the
/// section `via` names).
pub fn drafts_composer(
    composer: &ComposerSettings,
    settings: &Settings,
) -> mapishim_composer::DraftsComposer {
    let store = draft_store(settings, composer.via)
        .expect("kind = \"drafts\" is validated to have the section of its via");
    // Graph gives the draft's own link; IMAP presets name their webmail's drafts page.
    let default_open = match composer.via {
        DraftsVia::Graph => Some(WEBLINK),
        DraftsVia::Imap => settings.imap.as_ref().and_then(|i| i.preset_open()),
    };
    mapishim_composer::DraftsComposer::new(
        composer,
        store,
        default_open,
        settings.outbox_dir.clone(),
    )
}

/// Where drafts go: the `[imap]` account's Drafts mailbox, or Graph; for the composer and
/// `drafts push`.
pub fn draft_store(settings: &Settings, via: DraftsVia) -> Option<Box<dyn DraftStore>> {
    match via {
        DraftsVia::Imap => {
            let imap = settings.imap.as_ref()?;
            Some(Box::new(mapishim_imap::ImapDrafts::new(
                imap,
                settings.oauth2.as_ref(),
            )))
        }
        DraftsVia::Graph => graph_backend(settings).map(|g| Box::new(g) as Box<_>),
    }
}

/// The `[imap]` account, for `drafts push` and `config check --connect`.
pub fn imap_account(settings: &Settings) -> Option<mapishim_imap::Account> {
    let imap = settings.imap.clone()?;
    Some(mapishim_imap::Account::new(imap, settings.oauth2.as_ref()))
}

/// The SMTP backend of a configuration, when it has an `[smtp]` section; its spool is the
/// outbox folder.
pub fn smtp_backend(settings: &Settings) -> Option<mapishim_smtp::SmtpBackend> {
    let smtp = settings.smtp.clone()?;
    Some(
        mapishim_smtp::SmtpBackend::new(smtp, settings.outbox_dir.clone(), settings.on_failure)
            .with_oauth2(settings.oauth2.as_ref()),
    )
}

pub fn graph_backend(settings: &Settings) -> Option<mapishim_graph::GraphBackend> {
    Some(mapishim_graph::GraphBackend::new(
        settings.graph.clone()?,
        settings.oauth2.as_ref(),
        settings.outbox_dir.clone(),
        settings.on_failure,
    ))
}

/// What `mapishim outbox flush` delivers through: Graph with `backend = "graph"`, else the
/// `[smtp]` server (which serves the spool whatever the backend).
pub fn spool_courier(settings: &Settings) -> Option<Box<dyn mapishim_outbox::spool::Courier>> {
    if settings.backend == BackendKind::Graph {
        return graph_backend(settings).map(|g| Box::new(g) as Box<_>);
    }
    smtp_backend(settings).map(|s| Box::new(s) as Box<_>)
}

fn missing(settings: &Settings) -> String {
    let spec = settings.backend.spec();
    format!("backend = \"{}\" without [{}]", spec.name, spec.section)
}

fn check_graph(settings: &Settings) -> Vec<Finding> {
    let (Some(graph), Some(backend)) = (&settings.graph, graph_backend(settings)) else {
        return Vec::new();
    };
    vec![Finding::Line(
        "graph",
        format!(
            "{} (preset {}), token from {}, {} Sent Items, timeout {} s, on failure: {:?}",
            graph.endpoint,
            graph.provider.name(),
            backend.token_source(),
            if graph.save_to_sent {
                "copy in"
            } else {
                "no copy in"
            },
            graph.timeout_secs,
            settings.on_failure
        ),
    )]
}

fn check_sendmail(settings: &Settings) -> Vec<Finding> {
    let Some(sendmail) = &settings.sendmail else {
        return Vec::new();
    };
    let mut findings = vec![Finding::Line(
        "sendmail",
        format!(
            "{} {} (timeout {} s)",
            sendmail.program.display(),
            sendmail.args.join(" "),
            sendmail.timeout_secs
        ),
    )];
    if !sendmail.program.is_file() {
        findings.push(Finding::Warning(format!(
            "sendmail program {} not found; sends will fail",
            sendmail.program.display()
        )));
    }
    findings
}

/// The runtime was built, so the library loaded.
fn library_line(label: &'static str, library: Option<&std::path::PathBuf>) -> Vec<Finding> {
    library
        .map(|l| Finding::Line(label, format!("{} (loaded)", l.display())))
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapishim_core::config::{BACKENDS as SPECS, COMPOSER_KINDS};

    #[test]
    fn every_backend_and_composer_kind_has_one_entry() {
        for spec in SPECS {
            let entries = BACKENDS.iter().filter(|e| e.kind == spec.kind).count();
            assert_eq!(entries, 1, "backend {}", spec.name);
        }
        for (kind, name) in COMPOSER_KINDS {
            let entries = COMPOSERS.iter().filter(|e| e.kinds.contains(kind)).count();
            let expected = usize::from(*kind != ComposerKind::None);
            assert_eq!(entries, expected, "composer kind {name}");
        }
    }
}
