//! `mapishim`: check the configuration, send a test message, resolve names, see the outbox.
#![forbid(unsafe_code)]

mod auth;
mod doctor;
mod drafts;
mod init;
mod machine;
mod register;

use clap::{CommandFactory, Parser, Subcommand};
use mapishim_core::config::{ConfigFile, ConfigSource, Origin, Settings};
use mapishim_core::{Delivery, RawAttachment, RawRecipient, RawText, SendRequest};
use mapishim_engine::Runtime;
use mapishim_engine::registry::{self, Finding};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mapishim",
    version,
    about = "Simple MAPI shim: configuration and diagnostics"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// OAuth2 sign-in for Microsoft 365, Outlook.com and Gmail accounts (docs/accounts.md).
    Auth {
        #[command(subcommand)]
        action: AuthAction,
    },
    /// Send a test message through the configured backend, exactly as MAPISendMail would.
    Send {
        /// Recipient (address, `Name <address>`, or a name from the address book); repeatable.
        #[arg(long)]
        to: Vec<String>,
        #[arg(long)]
        cc: Vec<String>,
        #[arg(long)]
        bcc: Vec<String>,
        #[arg(long, default_value = "mapishim test message")]
        subject: String,
        #[arg(
            long,
            default_value = "This is a test message sent by `mapishim send`."
        )]
        body: String,
        /// File to attach; repeatable.
        #[arg(long)]
        attach: Vec<PathBuf>,
    },
    /// Resolve a name against the address book, as MAPIResolveName does.
    Resolve { name: String },
    /// Outbox commands.
    Outbox {
        #[command(subcommand)]
        action: OutboxAction,
    },
    /// Webmail drafts kept in <outbox>/drafts/ after a failed upload (docs/webmail.md).
    Drafts {
        #[command(subcommand)]
        action: DraftsAction,
    },
    /// Mailbox commands: what MAPIFindNext and MAPIReadMail return for `[mailbox]`.
    Mailbox {
        #[command(subcommand)]
        action: MailboxAction,
    },
    /// Make mapishim the system's Simple MAPI provider (Windows).
    Register {
        #[command(flatten)]
        scope: ScopeArgs,
        /// Client key name under Clients\Mail.
        #[arg(long, default_value = register::DEFAULT_NAME)]
        name: String,
        /// Provider DLL; default: mapishim.dll beside mapishim.exe. A path with %VARIABLES%
        /// is registered unexpanded (REG_EXPAND_SZ), once its expansion exists.
        #[arg(long)]
        dll: Option<PathBuf>,
    },
    /// Undo `register`, restoring the previous mail client exactly (Windows).
    Unregister {
        #[command(flatten)]
        scope: ScopeArgs,
        #[arg(long, default_value = register::DEFAULT_NAME)]
        name: String,
    },
    /// Show which Simple MAPI provider a caller would load, and why (Windows).
    Status,
    /// Check everything a send depends on, and say how to fix what fails; exit status 0
    /// only when every check passes.
    Doctor {
        /// A program's .exe or folder: also check the mapi32.dll beside it (Windows).
        #[arg(long)]
        app: Option<PathBuf>,
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the shell completion script for bash, zsh, fish, elvish or PowerShell.
    Completions { shell: clap_complete::Shell },
    /// Write the man pages (mapishim.1 and one per subcommand) into DIR; for packagers.
    #[command(hide = true)]
    Manpages { dir: PathBuf },
}

#[derive(clap::Args)]
#[group(multiple = false)]
struct ScopeArgs {
    /// For the current user only (HKCU; the default).
    #[arg(long)]
    user: bool,
    /// For every user (HKLM; needs administrator rights).
    #[arg(long)]
    machine: bool,
}

impl ScopeArgs {
    fn scope(&self) -> register::Scope {
        if self.machine {
            register::Scope::Machine
        } else {
            register::Scope::User
        }
    }
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Read and validate the configuration; print what callers will get.
    Check {
        /// Show what the program with this file name gets (`[[route]]` entries applied),
        /// e.g. `--app sage50.exe`.
        #[arg(long)]
        app: Option<String>,
        /// Also log in to [imap] and look up the Drafts (and Sent) mailbox.
        #[arg(long)]
        connect: bool,
    },
    /// Write a commented configuration for a new user (then run `mapishim auth login`).
    Init {
        /// A preset: microsoft365, outlook.com or gmail.
        #[arg(long, conflicts_with = "host")]
        provider: Option<String>,
        /// The mailbox: the sender and the SMTP user name.
        #[arg(long)]
        address: String,
        /// The application (client) ID of your app registration (docs/accounts.md).
        #[arg(long)]
        client_id: Option<String>,
        /// smtp, or graph (Microsoft accounts whose tenant disables SMTP AUTH).
        #[arg(long, default_value = "smtp")]
        backend: String,
        /// Any other SMTP server, with a password from a program.
        #[arg(long)]
        host: Option<String>,
        /// Replace an existing file (it is kept as <file>.bak).
        #[arg(long)]
        force: bool,
    },
    /// Write the machine-wide configuration (%ProgramData%\mapishim\config.toml,
    /// /etc/mapishim/config.toml), as the MSI does; empty values count as not given.
    WriteMachine {
        /// Copy this file (a path or a UNC name), after checking that it loads.
        #[arg(long)]
        file: Option<String>,
        /// Make `backend = "smtp"` with this server.
        #[arg(long)]
        smtp_host: Option<String>,
        #[arg(long)]
        smtp_port: Option<String>,
        /// starttls (the default), tls or none (loopback only).
        #[arg(long)]
        smtp_security: Option<String>,
        /// The sender, `address` or `Name <address>`.
        #[arg(long)]
        from: Option<String>,
    },
    /// Remove the machine-wide configuration file (and its folder when empty).
    RemoveMachine,
}

#[derive(Subcommand)]
enum AuthAction {
    /// Sign in with the flow `[oauth2]` names and store the tokens.
    Login,
    /// Show the stored sign-in: account, scopes, expiry (never a token); exits 1 without one.
    Status,
    /// Delete the stored tokens.
    Logout,
}

#[derive(Subcommand)]
enum MailboxAction {
    /// The message IDs in MAPIFindNext order, with flags, date, sender and subject.
    List {
        /// Only unread messages (MAPI_UNREAD_ONLY).
        #[arg(long)]
        unread: bool,
        /// In date order (MAPI_GUARANTEE_FIFO).
        #[arg(long)]
        fifo: bool,
    },
    /// One message as MAPIReadMail returns it (with MAPI_PEEK: nothing is marked read).
    Show { id: String },
}

#[derive(Subcommand)]
enum DraftsAction {
    /// Upload every kept draft to the [imap] Drafts mailbox, each once; opens nothing.
    Push,
}

#[derive(Subcommand)]
enum OutboxAction {
    /// List the messages waiting in the outbox, oldest first.
    List,
    /// Deliver the messages waiting in the spool through [smtp]; exits non-zero if any remain.
    Flush,
}

fn load() -> Result<(ConfigSource, Settings), String> {
    let source = ConfigSource::locate();
    let settings = source.load().map_err(|e| e.to_string())?;
    Ok((source, settings))
}

fn runtime() -> Result<Runtime, String> {
    let (_, settings) = load()?;
    mapishim_engine::init_logging(Some(&settings));
    Runtime::build(settings)
}

fn config_check(app: Option<&str>, connect: bool) -> Result<(), String> {
    let (source, settings) = load()?;
    let settings = match app {
        Some(app) => settings.for_app(app),
        None => settings,
    };
    print_files(&source);
    print_key_sources(&settings);
    let runtime = Runtime::build(settings)?;
    let s = &runtime.settings;
    let mut warnings = s.warnings.clone();
    for route in &s.routes {
        println!(
            "route:         {} → backend {}, composer {}",
            route.app.as_str(),
            route.backend.map_or("(unchanged)", |b| b.name()),
            route.composer.map_or("(unchanged)", |c| c.name())
        );
    }
    if let Some(app) = app {
        println!(
            "program:       {app} (route {})",
            s.matched_route.as_deref().unwrap_or("none matches")
        );
    }
    println!("backend:       {}", s.backend.name());
    println!("outbox dir:    {}", s.outbox_dir.display());
    match &s.from {
        Some(from) => println!(
            "from:          {}",
            from.name
                .as_ref()
                .map(|n| format!("{n} <{}>", from.address))
                .unwrap_or_else(|| from.address.clone())
        ),
        None => println!(
            "from:          not set; {} will be used (warning)",
            mapishim_core::compose::fallback_sender().address
        ),
    }
    println!("ansi codepage: {}", s.decoder.ansi_name());
    println!(
        "address book:  {} contacts from {} file(s)",
        runtime.book.contacts().len(),
        s.vcards.len()
    );
    println!(
        "log:           {} (level {})",
        s.log_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "off".into()),
        s.log_level
    );
    if let Some(smtp) = &s.smtp {
        let credentials = if smtp.auth.uses_tokens() {
            let source = match (&smtp.oauth2_token_command, &s.oauth2) {
                (Some(c), _) => format!("oauth2_token_command {c:?}"),
                (None, Some(o)) => format!("token file {}", o.token_file.display()),
                (None, None) => "nowhere".into(),
            };
            format!("auth {}, token from {source}", smtp.auth.name())
        } else {
            format!(
                "password from {}",
                smtp.password
                    .as_ref()
                    .map(|p| format!("{p:?}"))
                    .unwrap_or_else(|| "nowhere".into())
            )
        };
        println!(
            "smtp:          {}:{} ({:?}{}), user {}, {credentials}, timeout {} s, on failure: {:?}",
            smtp.host,
            smtp.port,
            smtp.security,
            smtp.provider
                .map(|p| format!(", preset {}", p.name()))
                .unwrap_or_default(),
            smtp.username.as_deref().unwrap_or("(none)"),
            smtp.timeout_secs,
            s.on_failure
        );
    }
    if let Some(oauth2) = &s.oauth2 {
        println!(
            "oauth2:        client_id {}, flow {}, scopes {}, token_url {}",
            oauth2.client_id,
            match oauth2.flow {
                mapishim_core::config::OAuth2Flow::Device => "device",
                mapishim_core::config::OAuth2Flow::Browser => "browser",
            },
            oauth2.scopes.join(" "),
            oauth2.token_url
        );
        let (lines, _) = auth::status_lines(oauth2);
        for (label, text) in lines.into_iter().filter(|(l, _)| *l != "token file") {
            println!("{:<15}{text}", format!("{label}:"));
        }
    }
    match &runtime.composer {
        None => println!("composer:      none (dialog requests go to the backend)"),
        Some(composer) => match composer.check() {
            Ok(found) => println!("composer:      {found}"),
            Err(why) => {
                println!("composer:      {} (unavailable)", composer.name());
                warnings.push(format!(
                    "composer: {why}; dialog requests will fail with MAPI_E_FAILURE"
                ));
            }
        },
    }
    for finding in (registry::backend_entry(s.backend).check)(s) {
        match finding {
            Finding::Line(label, text) => println!("{:<15}{text}", format!("{label}:")),
            Finding::Warning(warning) => warnings.push(warning),
        }
    }
    drafts::report(s, connect, &mut warnings)?;
    for warning in &warnings {
        println!("warning:       {warning}");
    }
    println!("OK");
    Ok(())
}

/// The files read, lowest first, and why each is read.
fn print_files(source: &ConfigSource) {
    let exists = |f: &ConfigFile| f.path.exists();
    if !source.files.iter().any(exists) {
        match source.path() {
            Some(p) => println!(
                "config:        built-in defaults ({} does not exist)",
                p.display()
            ),
            None => println!("config:        built-in defaults"),
        }
        return;
    }
    for f in &source.files {
        let p = f.path.display();
        match (f.origin, exists(f)) {
            (Origin::Named, _) => println!("config:        {p} (from MAPISHIM_CONFIG)"),
            (Origin::Policy, _) => println!(
                "config:        {p} (policy, named by {}; in place of the machine file)",
                f.named_by.as_deref().unwrap_or("the policy")
            ),
            (Origin::User, true) => println!("config:        {p}"),
            (origin, true) => println!("config:        {p} ({})", origin.name()),
            (origin, false) => println!("config:        {p} ({}; does not exist)", origin.name()),
        }
    }
}

/// Where every effective key came from, then what `locked` refused.
fn print_key_sources(settings: &Settings) {
    for source in &settings.key_sources {
        match &source.at {
            Some((path, line)) => println!(
                "source:        {} = {} ({}:{line})",
                source.key,
                source.origin.name(),
                path.display()
            ),
            None => println!("source:        {} = {}", source.key, source.origin.name()),
        }
    }
    if !settings.locked.is_empty() {
        println!("locked:        {}", settings.locked.join(", "));
    }
    for refused in &settings.locked_overrides {
        println!("refused:       {refused}");
    }
}

fn config_init(options: init::Init) -> Result<(), String> {
    let source = ConfigSource::locate();
    let path = source
        .path()
        .ok_or("no configuration path on this system: set MAPISHIM_CONFIG")?
        .to_path_buf();
    init::run(&options, &path)?;
    let settings = Settings::from_toml(
        &std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
        Some(&path),
    )
    .map_err(|e| e.to_string())?;
    for warning in &settings.warnings {
        println!("warning: {warning}");
    }
    if settings.oauth2.is_some() {
        let ready = settings
            .oauth2
            .as_ref()
            .is_some_and(|o| o.client_id != mapishim_core::config::PLACEHOLDER_CLIENT_ID);
        if !ready {
            println!(
                "next: put your app's client ID in [oauth2] client_id (docs/accounts.md), then run `mapishim auth login`"
            );
        } else if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            print!("Sign in now? [Y/n] ");
            let _ = std::io::Write::flush(&mut std::io::stdout());
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            if !answer.trim().to_ascii_lowercase().starts_with('n') {
                return auth::login(&settings);
            }
        } else {
            println!("next: run `mapishim auth login`");
        }
    }
    Ok(())
}

fn narrow(s: &str) -> Option<RawText> {
    Some(RawText::Narrow(s.as_bytes().to_vec()))
}

fn path_text(p: &std::path::Path) -> RawText {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        RawText::Narrow(p.as_os_str().as_bytes().to_vec())
    }
    #[cfg(not(unix))]
    RawText::Narrow(p.to_string_lossy().as_bytes().to_vec())
}

fn send(
    to: Vec<String>,
    cc: Vec<String>,
    bcc: Vec<String>,
    subject: String,
    body: String,
    attach: Vec<PathBuf>,
) -> Result<(), String> {
    let runtime = std::sync::Arc::new(runtime()?);
    let recipient = |class: u32, text: &String| RawRecipient {
        class,
        name: narrow(text),
        address: None,
        entry_id: None,
    };
    let recipients = (to.iter().map(|t| recipient(mapishim_abi::MAPI_TO, t)))
        .chain(cc.iter().map(|t| recipient(mapishim_abi::MAPI_CC, t)))
        .chain(bcc.iter().map(|t| recipient(mapishim_abi::MAPI_BCC, t)))
        .collect();
    let request = SendRequest {
        narrow_is_utf8: true,
        subject: narrow(&subject),
        body: narrow(&body),
        recipients,
        attachments: attach
            .iter()
            .map(|p| RawAttachment {
                path: Some(path_text(p)),
                display_name: None,
            })
            .collect(),
        ..SendRequest::default()
    };
    match runtime.send(0, &request).map_err(|e| e.to_string())? {
        Delivery::Stored(path) => println!("{}", path.display()),
        Delivery::Sent => println!("sent through {}", runtime.backend.name()),
        Delivery::Opened => println!("opened in the composer"),
    }
    Ok(())
}

fn resolve(name: &str) -> Result<(), String> {
    let runtime = runtime()?;
    let mailbox = runtime
        .resolve(0, &RawText::Narrow(name.as_bytes().to_vec()), true)
        .map_err(|e| e.to_string())?;
    println!("{}\tSMTP:{}", mailbox.display(), mailbox.address);
    Ok(())
}

/// One line of a listing; a reader that went away (`| head`) ends the program quietly.
fn listing_line(line: std::fmt::Arguments) -> Result<(), String> {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other.map_err(|e| e.to_string()),
    }
}

fn mailbox_store() -> Result<mapishim_mailbox::Store, String> {
    let (_, settings) = load()?;
    let mailbox = settings
        .mailbox
        .as_ref()
        .ok_or("no [mailbox] in the configuration (see docs/mailbox.md)")?;
    Ok(mapishim_mailbox::Store::new(mailbox))
}

/// `U` unread, `R` receipt requested, `S` sent (drafts): the MapiMessage flags.
fn flag_letters(flags: u32) -> String {
    [
        (mapishim_abi::MAPI_UNREAD, 'U'),
        (mapishim_abi::MAPI_RECEIPT_REQUESTED, 'R'),
        (mapishim_abi::MAPI_SENT, 'S'),
    ]
    .iter()
    .map(|(bit, letter)| if flags & bit != 0 { *letter } else { '-' })
    .collect()
}

fn mailbox_list(unread: bool, fifo: bool) -> Result<(), String> {
    use mapishim_mailbox::{FindOptions, Folder};
    let store = mailbox_store()?;
    let options = FindOptions {
        unread_only: unread,
        fifo,
        long_ids: false,
    };
    let mut count = 0;
    for folder in [Folder::Inbox, Folder::Drafts] {
        if store.folder_path(folder).is_none() {
            continue;
        }
        for m in store.list(folder, options).map_err(|e| e.to_string())? {
            count += 1;
            listing_line(format_args!(
                "{}\t{}\t{}\t{}\t{}",
                m.id,
                flag_letters(m.flags),
                m.date_received.as_deref().unwrap_or("-"),
                m.originator.as_ref().map_or("-", |o| o.address.as_str()),
                m.subject
            ))?;
        }
    }
    eprintln!("{count} message(s)");
    Ok(())
}

fn mailbox_show(id: &str) -> Result<(), String> {
    use mapishim_mailbox::ReadOptions;
    let store = mailbox_store()?;
    // Attachments are written to a folder of our own and removed afterwards.
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let options = ReadOptions {
        peek: true,
        ..ReadOptions::default()
    };
    let m = store
        .read(id, options, scratch.path())
        .map_err(|e| e.to_string())?;
    println!("id:           {}", m.id);
    println!("flags:        {}", flag_letters(m.flags));
    println!(
        "date:         {}",
        m.date_received.as_deref().unwrap_or("-")
    );
    println!(
        "conversation: {}",
        m.conversation_id.as_deref().unwrap_or("-")
    );
    println!("subject:      {}", m.subject);
    for r in m.originator.iter().chain(&m.recipients) {
        let role = match r.class {
            mapishim_abi::MAPI_ORIG => "from",
            mapishim_abi::MAPI_TO => "to",
            mapishim_abi::MAPI_CC => "cc",
            _ => "bcc",
        };
        println!("{role:<13} {} <{}>", r.name, r.address);
    }
    for a in &m.attachments {
        let size = std::fs::metadata(&a.path).map(|m| m.len()).unwrap_or(0);
        println!(
            "attachment:   {} ({size} bytes, {})",
            a.file_name, a.content_type
        );
    }
    println!();
    println!("{}", m.note_text.as_deref().unwrap_or(""));
    Ok(())
}

fn outbox_list() -> Result<(), String> {
    let (_, settings) = load()?;
    let outbox = mapishim_outbox::Outbox::new(&settings.outbox_dir);
    let files = outbox
        .list()
        .map_err(|e| format!("{}: {e}", settings.outbox_dir.display()))?;
    for path in &files {
        let summary = std::fs::read(path)
            .ok()
            .and_then(|bytes| {
                let parsed = mail_parser::MessageParser::new().parse_headers(&bytes)?;
                let to = parsed
                    .to()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.address())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                Some(format!("{}\t{}", to, parsed.subject().unwrap_or("")))
            })
            .unwrap_or_else(|| "(unreadable)".into());
        listing_line(format_args!("{}\t{summary}", path.display()))?;
    }
    eprintln!(
        "{} message(s) in {}",
        files.len(),
        settings.outbox_dir.display()
    );
    for temp in mapishim_outbox::temporaries(&settings.outbox_dir) {
        let minutes = temp.age.as_secs() / 60;
        let what = if temp.age >= mapishim_core::files::TEMP_MAX_AGE {
            "left by an interrupted write; the next send or flush removes it"
        } else {
            "a write in progress, or left by one interrupted less than an hour ago"
        };
        eprintln!(
            "temporary file: {} ({} bytes, {minutes} min old): {what}",
            temp.path.display(),
            temp.bytes
        );
    }
    Ok(())
}

fn outbox_flush() -> Result<(), String> {
    use mapishim_outbox::spool::FlushEvent;
    let (_, settings) = load()?;
    mapishim_engine::init_logging(Some(&settings));
    let courier = mapishim_engine::spool_courier(&settings).ok_or(
        "outbox flush delivers through SMTP or Microsoft Graph: add an [smtp] section, or set backend = \"graph\"",
    )?;
    let waiting = mapishim_outbox::Outbox::new(&settings.outbox_dir)
        .list()
        .map(|l| l.len())
        .unwrap_or(0);
    let bar = indicatif::ProgressBar::new(waiting as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let name = |p: &std::path::Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let summary = mapishim_outbox::spool::flush(
        &settings.outbox_dir,
        courier.as_ref(),
        std::time::Instant::now() + std::time::Duration::from_secs(24 * 3600),
        |event| match event {
            FlushEvent::Delivered(p) => {
                bar.inc(1);
                bar.set_message(name(&p));
            }
            FlushEvent::Failed(p, why) => {
                bar.inc(1);
                bar.println(format!("failed: {} ({why}); moved to failed/", name(&p)));
            }
            FlushEvent::Deferred(p, why) => bar.println(format!("deferred: {} ({why})", name(&p))),
            FlushEvent::Busy(p) => bar.println(format!(
                "busy: {} (another process is delivering it)",
                name(&p)
            )),
        },
    );
    bar.finish_and_clear();
    // "busy" last, so that scripts matching the first three counts keep working.
    println!(
        "{} delivered, {} failed, {} remaining, {} busy",
        summary.delivered, summary.failed, summary.remaining, summary.busy
    );
    // A busy message is another process's delivery, not ours to report as undelivered.
    if summary.remaining > 0 || summary.failed > 0 {
        return Err(format!(
            "{} message(s) not delivered",
            summary.remaining + summary.failed
        ));
    }
    Ok(())
}

/// Rendered into memory first: clap_complete panics when its writer fails (`| head`).
fn completions(shell: clap_complete::Shell) -> Result<(), String> {
    use std::io::Write;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mapishim", &mut script);
    match std::io::stdout().write_all(&script) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(()),
    }
}

/// Man pages generated from the same definitions as `--help`, so they cannot drift.
fn manpages(dir: &std::path::Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir).map_err(|e| format!("{}: {e}", dir.display()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Config {
            action: ConfigAction::Check { app, connect },
        } => config_check(app.as_deref(), connect),
        Command::Drafts {
            action: DraftsAction::Push,
        } => runtime().and_then(|r| drafts::push(&r.settings)),
        Command::Config {
            action:
                ConfigAction::Init {
                    provider,
                    address,
                    client_id,
                    backend,
                    host,
                    force,
                },
        } => config_init(init::Init {
            provider,
            address,
            client_id,
            backend,
            host,
            force,
        }),
        Command::Config {
            action:
                ConfigAction::WriteMachine {
                    file,
                    smtp_host,
                    smtp_port,
                    smtp_security,
                    from,
                },
        } => machine::write(&machine::MachineConfig {
            file,
            smtp_host,
            smtp_port,
            smtp_security,
            from,
        }),
        Command::Config {
            action: ConfigAction::RemoveMachine,
        } => machine::remove(),
        Command::Auth {
            action: AuthAction::Login,
        } => load().and_then(|(_, s)| auth::login(&s)),
        Command::Auth {
            action: AuthAction::Status,
        } => match load().and_then(|(_, s)| auth::status(&s)) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        Command::Auth {
            action: AuthAction::Logout,
        } => load().and_then(|(_, s)| auth::logout(&s)),
        Command::Send {
            to,
            cc,
            bcc,
            subject,
            body,
            attach,
        } => send(to, cc, bcc, subject, body, attach),
        Command::Resolve { name } => resolve(&name),
        Command::Outbox {
            action: OutboxAction::List,
        } => outbox_list(),
        Command::Outbox {
            action: OutboxAction::Flush,
        } => outbox_flush(),
        Command::Mailbox {
            action: MailboxAction::List { unread, fifo },
        } => mailbox_list(unread, fifo),
        Command::Mailbox {
            action: MailboxAction::Show { id },
        } => mailbox_show(&id),
        Command::Register { scope, name, dll } => register::register(scope.scope(), &name, dll),
        Command::Unregister { scope, name } => register::unregister(scope.scope(), &name),
        Command::Status => register::status(),
        Command::Doctor { app, json } => {
            return match doctor::doctor(app.as_deref(), json) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(message) => {
                    eprintln!("mapishim: {message}");
                    ExitCode::from(2)
                }
            };
        }
        Command::Completions { shell } => completions(shell),
        Command::Manpages { dir } => manpages(&dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mapishim: {message}");
            ExitCode::FAILURE
        }
    }
}
