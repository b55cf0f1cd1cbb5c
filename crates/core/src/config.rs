//! Configuration: a TOML file whose key names are a public interface.
//!
//! The path comes from `MAPISHIM_CONFIG`, else the platform's config folder. A missing
//! default file means built-in defaults; a file that was named but is missing, or any
//! problem inside a file, is an error that names the file, the line and the key.
use crate::Mailbox;
use crate::address;
use crate::text::TextDecoder;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use toml::Spanned;

pub const CONFIG_ENV: &str = "MAPISHIM_CONFIG";
/// Overrides `[log] level` for one process, for diagnosis without editing the file.
pub const LOG_LEVEL_ENV: &str = "MAPISHIM_LOG";
const APP_DIR: &str = "mapishim";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    #[default]
    Outbox,
    Smtp,
    Sendmail,
    Forward,
    Plugin,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Outbox => "outbox",
            BackendKind::Smtp => "smtp",
            BackendKind::Sendmail => "sendmail",
            BackendKind::Forward => "forward",
            BackendKind::Plugin => "plugin",
        }
    }

    /// Backends that hand the message on for delivery; they cannot keep a message without
    /// recipients (DECISIONS.md §1).
    pub fn transmits(self) -> bool {
        matches!(self, BackendKind::Smtp | BackendKind::Sendmail)
    }
}

/// Which mail composer `MAPI_DIALOG` requests open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComposerKind {
    XdgEmail,
    Thunderbird,
    Mailto,
    /// The first available of xdg-email, Thunderbird, mailto (DECISIONS.md §2).
    Auto,
    /// Only in `[[route]]`: dialog requests of that program go to the backend.
    None,
}

impl ComposerKind {
    pub fn name(self) -> &'static str {
        match self {
            ComposerKind::XdgEmail => "xdg-email",
            ComposerKind::Thunderbird => "thunderbird",
            ComposerKind::Mailto => "mailto",
            ComposerKind::Auto => "auto",
            ComposerKind::None => "none",
        }
    }
}

/// How long staged attachment copies are kept for the composer, by default.
pub const DEFAULT_RETENTION_HOURS: u64 = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposerSettings {
    pub kind: ComposerKind,
    /// Overrides the executable the kind would use.
    pub program: Option<PathBuf>,
    /// Staged attachment folders older than this are removed.
    pub retention_hours: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendmailSettings {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub timeout_secs: u64,
}

pub const DEFAULT_SENDMAIL: &str = "/usr/sbin/sendmail";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardSettings {
    /// Another Simple MAPI provider (`.dll`, `.so`, `.dylib`).
    pub library: PathBuf,
}

/// `[mailbox]`: the Maildir store behind MAPIFindNext, MAPIReadMail, MAPISaveMail and
/// MAPIDeleteMail (see docs/mailbox.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxSettings {
    /// The Maildir (`cur/`, `new/`, `tmp/`) that MAPIFindNext walks; may be a Maildir++ folder.
    pub maildir: PathBuf,
    /// Where MAPISaveMail writes new messages; the maildir when absent.
    pub drafts: Option<PathBuf>,
    /// Where MAPIDeleteMail moves messages; they are deleted when absent.
    pub trash: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PluginSettings {
    pub library: PathBuf,
    /// Passed to the plugin as TOML text.
    pub options: toml::Table,
}

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

/// What a transmitting backend does when the server cannot be reached for now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Keep the message in the outbox (the spool) and report success.
    #[default]
    Spool,
    /// Report `MAPI_E_NETWORK_FAILURE`.
    Error,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    #[default]
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmtpSection {
    host: Spanned<String>,
    port: Option<u16>,
    #[serde(default)]
    security: Security,
    username: Option<String>,
    password_env: Option<String>,
    password_command: Option<Vec<String>>,
    password: Option<Spanned<String>>,
    ca_file: Option<PathBuf>,
    timeout_secs: Option<u64>,
    #[serde(default)]
    allow_insecure: bool,
}

/// Where the SMTP password comes from; it is read only when a connection needs it.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordSource {
    Env(String),
    Command(Vec<String>),
    Plain(String),
}

impl fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordSource::Env(v) => write!(f, "environment variable {v}"),
            PasswordSource::Command(c) => write!(
                f,
                "command {:?}",
                c.first().map(String::as_str).unwrap_or("")
            ),
            PasswordSource::Plain(_) => write!(f, "plain `password` key (hidden)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<PasswordSource>,
    pub ca_file: Option<PathBuf>,
    pub timeout_secs: u64,
}

pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    backend: BackendKind,
    from: Option<Spanned<String>>,
    ansi_codepage: Option<Spanned<String>>,
    #[serde(default)]
    outbox: OutboxSection,
    #[serde(default)]
    addressbook: AddressBookSection,
    #[serde(default)]
    log: LogSection,
    on_failure: Option<OnFailure>,
    smtp: Option<SmtpSection>,
    composer: Option<ComposerSection>,
    sendmail: Option<SendmailSection>,
    forward: Option<LibrarySection>,
    plugin: Option<PluginSection>,
    #[serde(default)]
    route: Vec<RouteSection>,
    mailbox: Option<MailboxSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MailboxSection {
    maildir: Spanned<PathBuf>,
    drafts: Option<Spanned<PathBuf>>,
    trash: Option<Spanned<PathBuf>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComposerSection {
    kind: Spanned<ComposerKind>,
    program: Option<PathBuf>,
    retention_hours: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendmailSection {
    program: Option<PathBuf>,
    #[serde(default)]
    args: Vec<String>,
    timeout_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LibrarySection {
    library: Spanned<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginSection {
    library: Spanned<PathBuf>,
    #[serde(default)]
    options: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSection {
    app: Spanned<String>,
    backend: Option<Spanned<BackendKind>>,
    composer: Option<ComposerKind>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboxSection {
    dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddressBookSection {
    #[serde(default)]
    vcard: Vec<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogSection {
    file: Option<PathBuf>,
    level: Option<Spanned<String>>,
}

pub const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: Option<PathBuf>,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}", p.display())?,
            None => write!(f, "configuration")?,
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Where the configuration is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// Named by `MAPISHIM_CONFIG`: it must exist.
    Named(PathBuf),
    /// The platform default: it may be absent.
    Default(PathBuf),
    /// No home or config folder could be found: built-in defaults.
    BuiltIn,
}

impl ConfigSource {
    pub fn locate() -> Self {
        match std::env::var_os(CONFIG_ENV) {
            Some(p) if !p.is_empty() => ConfigSource::Named(PathBuf::from(p)),
            _ => match dirs::config_dir() {
                Some(dir) => ConfigSource::Default(dir.join(APP_DIR).join("config.toml")),
                None => ConfigSource::BuiltIn,
            },
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigSource::Named(p) | ConfigSource::Default(p) => Some(p),
            ConfigSource::BuiltIn => None,
        }
    }

    /// Changes when the file does: lets long-running callers pick up an edited file.
    pub fn fingerprint(&self) -> Option<(SystemTime, u64)> {
        file_stamp(self.path()?)
    }

    pub fn load(&self) -> Result<Settings, ConfigError> {
        let Some(path) = self.path() else {
            return Settings::from_toml("", None);
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Settings::from_toml(&text, Some(path)),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && matches!(self, ConfigSource::Default(_)) =>
            {
                Settings::from_toml("", None)
            }
            Err(e) => Err(ConfigError {
                path: Some(path.to_path_buf()),
                line: None,
                key: None,
                message: format!("cannot read: {e}"),
            }),
        }
    }
}

/// Modification time and size: what changes when a file is edited.
pub fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

/// Relative paths in the file are relative to the file's folder; `~/` is the home folder.
fn resolve_path(p: &Path, base: Option<&Path>) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~") {
        if let Some(home) = dirs::home_dir() {
            return home.join(rest);
        }
    }
    match base {
        Some(base) if p.is_relative() => base.join(p),
        _ => p.to_path_buf(),
    }
}

/// The platform's per-user data folder for mapishim (outbox, logs).
pub fn data_dir() -> Option<PathBuf> {
    dirs::data_local_dir().map(|d| d.join(APP_DIR))
}

pub fn default_log_file() -> Option<PathBuf> {
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .map(|d| d.join(APP_DIR).join("mapishim.log"))
}

impl Settings {
    pub fn from_toml(text: &str, path: Option<&Path>) -> Result<Settings, ConfigError> {
        let error = |span: Option<std::ops::Range<usize>>, key: Option<&str>, message: String| {
            ConfigError {
                path: path.map(Path::to_path_buf),
                line: span.map(|s| line_of(text, s.start)),
                key: key.map(str::to_string),
                message,
            }
        };
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            let key = e.message().split('`').nth(1).map(str::to_string);
            ConfigError {
                key,
                ..error(e.span(), None, e.message().trim().to_string())
            }
        })?;
        let base = path.and_then(Path::parent);

        let from = match &file.from {
            Some(f) => Some(
                address::parse_mailbox(f.get_ref())
                    .map_err(|why| error(Some(f.span()), Some("from"), why))?,
            ),
            None => None,
        };
        let decoder = match &file.ansi_codepage {
            Some(label) => TextDecoder::from_label(label.get_ref()).ok_or_else(|| {
                error(
                    Some(label.span()),
                    Some("ansi_codepage"),
                    format!("unknown encoding {:?}", label.get_ref()),
                )
            })?,
            None => TextDecoder::default(),
        };
        let log_level = match &file.log.level {
            Some(level) => {
                let l = level.get_ref().to_ascii_lowercase();
                if !LOG_LEVELS.contains(&l.as_str()) {
                    return Err(error(
                        Some(level.span()),
                        Some("log.level"),
                        format!(
                            "unknown level {:?}; use one of {}",
                            level.get_ref(),
                            LOG_LEVELS.join(", ")
                        ),
                    ));
                }
                l
            }
            None => "info".to_string(),
        };
        let outbox_dir = match &file.outbox.dir {
            Some(dir) => resolve_path(dir, base),
            None => data_dir().map(|d| d.join("outbox")).ok_or_else(|| {
                error(
                    None,
                    Some("outbox.dir"),
                    "no per-user data folder on this system; set [outbox] dir".into(),
                )
            })?,
        };
        let mut warnings = Vec::new();
        let smtp = match &file.smtp {
            None if file.backend == BackendKind::Smtp => {
                return Err(error(
                    None,
                    Some("smtp"),
                    "backend = \"smtp\" needs an [smtp] section with `host`".into(),
                ));
            }
            None => None,
            Some(section) => {
                let host = section.host.get_ref().trim().to_string();
                let span = Some(section.host.span());
                if host.is_empty() {
                    return Err(error(span, Some("smtp.host"), "empty host".into()));
                }
                if section.security == Security::None
                    && !is_loopback(&host)
                    && !section.allow_insecure
                {
                    return Err(error(
                        span,
                        Some("smtp.security"),
                        format!(
                            "security = \"none\" sends mail unencrypted to {host}; allowed only for loopback hosts unless allow_insecure = true"
                        ),
                    ));
                }
                if section.security == Security::None && section.username.is_some() {
                    return Err(error(
                        span,
                        Some("smtp.username"),
                        "AUTH is never sent over an unencrypted connection: use starttls or tls"
                            .into(),
                    ));
                }
                let sources = [
                    section.password_env.is_some(),
                    section.password_command.is_some(),
                    section.password.is_some(),
                ];
                if sources.iter().filter(|s| **s).count() > 1 {
                    return Err(error(
                        span,
                        Some("smtp.password"),
                        "give one of password_env, password_command, password".into(),
                    ));
                }
                let password = match (
                    &section.password_env,
                    &section.password_command,
                    &section.password,
                ) {
                    (Some(v), _, _) => Some(PasswordSource::Env(v.clone())),
                    (_, Some(c), _) if c.is_empty() => {
                        return Err(error(
                            span,
                            Some("smtp.password_command"),
                            "empty command".into(),
                        ));
                    }
                    (_, Some(c), _) => Some(PasswordSource::Command(c.clone())),
                    (_, _, Some(p)) => {
                        warnings.push(format!(
                            "{}:{}: key `smtp.password`: a plain password in the file; prefer password_env or password_command",
                            path.map(|p| p.display().to_string()).unwrap_or_default(),
                            line_of(text, p.span().start)
                        ));
                        Some(PasswordSource::Plain(p.get_ref().clone()))
                    }
                    _ => None,
                };
                let port = section.port.unwrap_or(match section.security {
                    Security::Starttls => 587,
                    Security::Tls => 465,
                    Security::None => 25,
                });
                Some(SmtpSettings {
                    host,
                    port,
                    security: section.security,
                    username: section.username.clone(),
                    password,
                    ca_file: section.ca_file.as_deref().map(|p| resolve_path(p, base)),
                    timeout_secs: section.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).max(1),
                })
            }
        };
        let composer = file.composer.as_ref().map(|c| ComposerSettings {
            kind: *c.kind.get_ref(),
            // A leading `/` is kept as written: under Wine it names a host program
            // (xdg-email through `start /unix`), which no Windows path rule may touch.
            program: c.program.as_deref().map(|p| {
                if p.to_string_lossy().starts_with('/') {
                    p.to_path_buf()
                } else {
                    resolve_path(p, base)
                }
            }),
            retention_hours: c.retention_hours.unwrap_or(DEFAULT_RETENTION_HOURS),
        });
        if let Some(c) = &file.composer {
            if c.retention_hours == Some(0) {
                // Another call, or another program, may still be handing those files on.
                return Err(error(
                    None,
                    Some("composer.retention_hours"),
                    "must be at least 1: staged files must outlive the composer reading them"
                        .into(),
                ));
            }
        }
        if let Some(c) = &file.composer {
            if *c.kind.get_ref() == ComposerKind::None {
                return Err(error(
                    Some(c.kind.span()),
                    Some("composer.kind"),
                    "\"none\" is for [[route]] entries; remove [composer] instead".into(),
                ));
            }
        }
        let sendmail = match (&file.sendmail, file.backend) {
            (None, kind)
                if kind != BackendKind::Sendmail
                    && !file.route.iter().any(|r| {
                        r.backend.as_ref().map(|b| *b.get_ref()) == Some(BackendKind::Sendmail)
                    }) =>
            {
                None
            }
            (section, _) => {
                let default = SendmailSection::default();
                let section = section.as_ref().unwrap_or(&default);
                Some(SendmailSettings {
                    program: section
                        .program
                        .as_deref()
                        .map(|p| resolve_path(p, base))
                        .unwrap_or_else(|| PathBuf::from(DEFAULT_SENDMAIL)),
                    args: section.args.clone(),
                    timeout_secs: section.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).max(1),
                })
            }
        };
        let forward = file.forward.as_ref().map(|f| ForwardSettings {
            library: resolve_path(f.library.get_ref(), base),
        });
        let plugin = file.plugin.as_ref().map(|p| PluginSettings {
            library: resolve_path(p.library.get_ref(), base),
            options: p.options.clone(),
        });
        let has_section = |kind: BackendKind| match kind {
            BackendKind::Outbox | BackendKind::Sendmail => true,
            BackendKind::Smtp => smtp.is_some(),
            BackendKind::Forward => forward.is_some(),
            BackendKind::Plugin => plugin.is_some(),
        };
        if !has_section(file.backend) {
            let name = file.backend.name();
            return Err(error(
                None,
                Some(name),
                format!("backend = \"{name}\" needs a [{name}] section with `library`"),
            ));
        }
        let mailbox = match &file.mailbox {
            None => None,
            Some(section) => {
                let folder = |p: &Spanned<PathBuf>, key: &str| {
                    if p.get_ref().as_os_str().is_empty() {
                        Err(error(Some(p.span()), Some(key), "empty path".into()))
                    } else {
                        Ok(resolve_path(p.get_ref(), base))
                    }
                };
                Some(MailboxSettings {
                    maildir: folder(&section.maildir, "mailbox.maildir")?,
                    drafts: section
                        .drafts
                        .as_ref()
                        .map(|p| folder(p, "mailbox.drafts"))
                        .transpose()?,
                    trash: section
                        .trash
                        .as_ref()
                        .map(|p| folder(p, "mailbox.trash"))
                        .transpose()?,
                })
            }
        };
        let mut routes = Vec::new();
        for route in &file.route {
            let app = glob::Pattern::new(route.app.get_ref()).map_err(|e| {
                error(
                    Some(route.app.span()),
                    Some("route.app"),
                    format!("bad pattern: {e}"),
                )
            })?;
            if let Some(kind) = &route.backend {
                if !has_section(*kind.get_ref()) {
                    let name = kind.get_ref().name();
                    return Err(error(
                        Some(kind.span()),
                        Some("route.backend"),
                        format!("backend \"{name}\" needs a [{name}] section"),
                    ));
                }
            }
            if route.backend.is_none() && route.composer.is_none() {
                return Err(error(
                    Some(route.app.span()),
                    Some("route"),
                    "a route needs `backend`, `composer` or both".into(),
                ));
            }
            routes.push(Route {
                app,
                backend: route.backend.as_ref().map(|b| *b.get_ref()),
                composer: route.composer,
            });
        }
        Ok(Settings {
            on_failure: file.on_failure.unwrap_or_default(),
            smtp,
            composer,
            sendmail,
            forward,
            plugin,
            routes,
            mailbox,
            matched_route: None,
            warnings,
            path: path.map(Path::to_path_buf),
            backend: file.backend,
            from,
            decoder,
            outbox_dir,
            vcards: file
                .addressbook
                .vcard
                .iter()
                .map(|p| resolve_path(p, base))
                .collect(),
            log_file: file
                .log
                .file
                .as_deref()
                .map(|p| resolve_path(p, base))
                .or_else(default_log_file),
            log_level,
        })
    }
}

impl Settings {
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
                let program = self
                    .composer
                    .take()
                    .filter(|_| same_kind)
                    .and_then(|c| c.program);
                self.composer = Some(ComposerSettings {
                    kind,
                    program,
                    retention_hours,
                });
            }
            None => {}
        }
        self.matched_route = Some(route.app.as_str().to_string());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_example_parses() {
        let text = r#"
backend = "outbox"
from = "Name <addr@example.org>"
ansi_codepage = "windows-1252"
[outbox]
dir = "out"
[addressbook]
vcard = ["/path/contacts.vcf"]
[log]
file = "/tmp/mapishim.log"
level = "debug"
"#;
        let s = Settings::from_toml(text, Some(Path::new("/etc/mapishim/config.toml"))).unwrap();
        assert_eq!(s.outbox_dir, PathBuf::from("/etc/mapishim/out"));
        assert_eq!(s.from.unwrap().address, "addr@example.org");
        assert_eq!(s.decoder.ansi_name(), "windows-1252");
        assert_eq!(s.log_level, "debug");
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let text = "backend = \"outbox\"\n[outbox]\ndir = \"/x\"\ndirectory = \"/y\"\n";
        let e = Settings::from_toml(text, Some(Path::new("c.toml"))).unwrap_err();
        assert_eq!(e.line, Some(4));
        assert_eq!(e.key.as_deref(), Some("directory"));
        assert!(
            e.to_string().starts_with("c.toml:4: key `directory`"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = Settings::from_toml("\n\nfrom = \"not an address\"\n", None).unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("from")));
        let e = Settings::from_toml("ansi_codepage = \"klingon\"\n", None).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("ansi_codepage"));
        let e = Settings::from_toml("[log]\nlevel = \"loud\"\n", None).unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("log.level")));
        let e = Settings::from_toml("backend = \"carrier-pigeon\"\n", None).unwrap_err();
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn smtp_rules() {
        let ok = Settings::from_toml(
            "backend = \"smtp\"\n[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n",
            None,
        )
        .unwrap();
        assert_eq!(ok.smtp.unwrap().port, 25);
        let e = Settings::from_toml("backend = \"smtp\"\n", None).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("smtp"));
        let e = Settings::from_toml(
            "[smtp]\nhost = \"mail.example.org\"\nsecurity = \"none\"\n",
            None,
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("smtp.security"));
        let e = Settings::from_toml(
            "[smtp]\nhost = \"localhost\"\nsecurity = \"none\"\nusername = \"u\"\n",
            None,
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("smtp.username"));
        let s = Settings::from_toml(
            "[smtp]\nhost = \"mail.example.org\"\nusername = \"u\"\npassword = \"p\"\n",
            None,
        )
        .unwrap();
        assert_eq!(s.warnings.len(), 1);
        assert!(
            !format!("{:?}", s.smtp).contains("\"p\""),
            "passwords never reach Debug output"
        );
    }

    #[test]
    fn mailbox_section() {
        let text = "[mailbox]\nmaildir = \"Mail/INBOX\"\ntrash = \"/m/Trash\"\n";
        let s = Settings::from_toml(text, Some(Path::new("/etc/mapishim/config.toml"))).unwrap();
        let m = s.mailbox.unwrap();
        assert_eq!(m.maildir, PathBuf::from("/etc/mapishim/Mail/INBOX"));
        assert_eq!(m.drafts, None);
        assert_eq!(m.trash, Some(PathBuf::from("/m/Trash")));
        assert!(Settings::from_toml("", None).unwrap().mailbox.is_none());

        let e =
            Settings::from_toml("[mailbox]\nmaildir = \"/m\"\nsent = \"/s\"\n", None).unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("sent")));
        let e = Settings::from_toml("\n[mailbox]\ndrafts = \"/d\"\n", None).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("maildir"), "{e}");
        assert_eq!(e.line, Some(2), "{e}");
        let e =
            Settings::from_toml("[mailbox]\nmaildir = \"/m\"\ntrash = \"\"\n", None).unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("mailbox.trash")));
    }

    #[test]
    fn composer_and_routes() {
        let e = Settings::from_toml("[composer]\nkind = \"mailto\"\nretention_hours = 0\n", None)
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("composer.retention_hours"));
        let e = Settings::from_toml("[[route]]\napp = \"x*\"\nbackend = \"forward\"\n", None)
            .unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("route.backend")));
        let s = Settings::from_toml(
            "[composer]\nkind = \"thunderbird\"\nprogram = \"/opt/tb\"\n[[route]]\napp = \"SAGE*.exe\"\ncomposer = \"mailto\"\n[[route]]\napp = \"scan*\"\ncomposer = \"none\"\n",
            None,
        )
        .unwrap();
        let sage = s.clone().for_app("sage50.EXE");
        let composer = sage.composer.unwrap();
        assert_eq!(
            (composer.kind, composer.program),
            (ComposerKind::Mailto, None)
        );
        assert!(s.clone().for_app("scanner").composer.is_none());
        let other = s.for_app("writer.exe").composer.unwrap();
        assert_eq!(other.program, Some(PathBuf::from("/opt/tb")));
    }

    #[test]
    fn named_but_missing_file_is_an_error() {
        let missing = ConfigSource::Named(PathBuf::from("/nonexistent/mapishim.toml"));
        assert!(missing.load().is_err());
        let absent_default = ConfigSource::Default(PathBuf::from("/nonexistent/mapishim.toml"));
        assert!(absent_default.load().is_ok());
    }
}
