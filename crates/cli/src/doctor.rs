//! `mapishim doctor`: every check a send depends on, in the order a send meets them, each
//! with a mark and, when it fails, the fix. Nothing is sent and nothing is changed.
//! `--json` prints the same checks for scripts; the exit status is 0 only when none failed.
use mapishim_core::config::{BackendKind, ConfigFile, ConfigSource, Settings};
use mapishim_engine::{Runtime, registry};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Worth knowing, but mail goes out.
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub check: String,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Default)]
struct Report {
    checks: Vec<Check>,
}

impl Report {
    fn add(&mut self, check: &str, status: Status, detail: impl Into<String>, fix: Option<String>) {
        self.checks.push(Check {
            check: check.into(),
            status,
            detail: detail.into(),
            fix,
        });
    }
    fn pass(&mut self, check: &str, detail: impl Into<String>) {
        self.add(check, Status::Pass, detail, None);
    }
    fn warn(&mut self, check: &str, detail: impl Into<String>, fix: impl Into<String>) {
        self.add(check, Status::Warn, detail, Some(fix.into()));
    }
    fn fail(&mut self, check: &str, detail: impl Into<String>, fix: impl Into<String>) {
        self.add(check, Status::Fail, detail, Some(fix.into()));
    }
    fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }
}

/// Runs every check; `Ok(true)` when none failed.
pub fn doctor(app: Option<&Path>, json: bool) -> Result<bool, String> {
    let mut report = Report::default();
    if let Some(settings) = configuration(&mut report) {
        folders(&mut report, &settings);
        #[cfg(windows)]
        windows::providers(&mut report, app);
        #[cfg(not(windows))]
        if let Some(app) = app {
            report.warn(
                "program",
                format!(
                    "--app {}: which mapi32.dll a program loads is a Windows question",
                    app.display()
                ),
                "run `mapishim doctor --app` on the Windows machine (or in the Wine prefix)",
            );
        }
        backend(&mut report, &settings);
        token(&mut report, &settings);
        match Runtime::build(settings.clone()) {
            Ok(runtime) => composer(&mut report, &runtime),
            Err(e) => report.fail("runtime", e, "fix the backend or composer named above"),
        }
        spool(&mut report, &settings);
    }
    if json {
        let out = serde_json::json!({ "ok": !report.failed(), "checks": report.checks });
        println!("{out:#}");
    } else {
        for c in &report.checks {
            let mark = match c.status {
                Status::Pass => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            println!("{mark}  {:<22}{}", c.check, c.detail);
            if let Some(fix) = &c.fix {
                println!("      {:<22}fix: {fix}", "");
            }
        }
        let failed = report
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count();
        match failed {
            0 => println!("every check passed"),
            n => println!("{n} check(s) failed"),
        }
    }
    Ok(!report.failed())
}

/// The files read, in order, and whether together they make a valid configuration.
fn configuration(report: &mut Report) -> Option<Settings> {
    let source = ConfigSource::locate();
    let describe = |f: &ConfigFile| {
        let state = if f.path.exists() { "read" } else { "absent" };
        format!("{} ({}, {state})", f.path.display(), f.origin.name())
    };
    let files: Vec<String> = source.files.iter().map(describe).collect();
    let order = if files.is_empty() {
        "no configuration folder on this system: built-in defaults".to_string()
    } else {
        format!("in this order, later keys winning: {}", files.join("; "))
    };
    match source.load() {
        Ok(settings) => {
            report.pass("configuration", order);
            for refused in &settings.locked_overrides {
                report.warn(
                    "locked key",
                    refused.to_string(),
                    "remove it from your file: the machine configuration sets it",
                );
            }
            Some(settings)
        }
        Err(e) => {
            let which = e
                .path
                .as_ref()
                .map_or("the configuration".to_string(), |p| p.display().to_string());
            report.fail(
                "configuration",
                format!("{order}: {e}"),
                format!("edit {which} as the message says, then run `mapishim config check`"),
            );
            None
        }
    }
}

/// The outbox (or spool) and the log's folder: there or creatable, writable, private.
fn folders(report: &mut Report, s: &Settings) {
    folder(report, "outbox folder", &s.outbox_dir);
    if let Some(log) = &s.log_file {
        match log.parent() {
            Some(dir) => folder(report, "log folder", dir),
            None => report.fail(
                "log folder",
                format!("{}: no folder", log.display()),
                "set [log] file to a path in a folder",
            ),
        }
    }
}

fn folder(report: &mut Report, check: &str, dir: &Path) {
    // A folder that does not exist yet is made (private) by the first write: its nearest
    // existing ancestor must take it.
    let existing = dir.ancestors().find(|d| d.exists()).unwrap_or(dir);
    if !existing.is_dir() {
        return report.fail(
            check,
            format!("{} is not a folder", existing.display()),
            format!("remove {} or choose another path", existing.display()),
        );
    }
    if let Err(e) = tempfile::Builder::new()
        .prefix(".doctor-")
        .tempfile_in(existing)
    {
        return report.fail(
            check,
            format!("{}: cannot write: {e}", existing.display()),
            format!(
                "give this user write access to {}, or choose a folder of the user's own",
                existing.display()
            ),
        );
    }
    if existing != dir {
        return report.pass(
            check,
            format!(
                "{} (made on the first write, under {})",
                dir.display(),
                existing.display()
            ),
        );
    }
    match private(dir) {
        Ok(()) => report.pass(check, format!("{} (writable, private)", dir.display())),
        Err(mode) => report.fail(
            check,
            format!(
                "{} is readable by other users (mode {mode:o})",
                dir.display()
            ),
            format!("chmod 700 {}", dir.display()),
        ),
    }
}

#[cfg(unix)]
fn private(dir: &Path) -> Result<(), u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    if mode & 0o077 == 0 { Ok(()) } else { Err(mode) }
}

/// On Windows the folders are in the user's profile, whose permissions are the user's own.
#[cfg(not(unix))]
fn private(_: &Path) -> Result<(), u32> {
    Ok(())
}

fn backend(report: &mut Report, s: &Settings) {
    let name = format!("backend {}", s.backend.name());
    match s.backend {
        BackendKind::Outbox => report.pass(
            &name,
            format!("messages are written to {}", s.outbox_dir.display()),
        ),
        BackendKind::Smtp => match &s.smtp {
            Some(smtp) => smtp_checks(report, s, smtp),
            None => report.fail(
                &name,
                "backend = \"smtp\" without [smtp]",
                "add an [smtp] section (docs/configuration.md)",
            ),
        },
        other => {
            let mut warnings = Vec::new();
            let mut lines = Vec::new();
            for finding in (registry::backend_entry(other).check)(s) {
                match finding {
                    registry::Finding::Line(label, text) => lines.push(format!("{label}: {text}")),
                    registry::Finding::Warning(w) => warnings.push(w),
                }
            }
            let detail = if lines.is_empty() {
                "configured".to_string()
            } else {
                lines.join("; ")
            };
            report.pass(&name, detail);
            for w in warnings {
                report.warn(&name, w, "see docs/configuration.md for this backend");
            }
        }
    }
}

fn smtp_checks(report: &mut Report, s: &Settings, smtp: &mapishim_core::config::SmtpSettings) {
    use mapishim_smtp::{Failure, ProbeStage};
    let backend = mapishim_smtp::SmtpBackend::new(smtp.clone(), s.outbox_dir.clone(), s.on_failure)
        .with_oauth2(s.oauth2.as_ref());
    let at = format!("{}:{}", smtp.host, smtp.port);
    for step in backend.probe() {
        let check = format!("smtp {}", step.stage.name());
        match step.outcome {
            Ok(detail) => {
                report.pass(&check, detail);
                if !step.certificates.is_empty() {
                    certificate(report, &step.certificates);
                }
            }
            Err(failure) => {
                let (detail, fix) = match (step.stage, failure) {
                    (ProbeStage::Resolve, Failure::Transient(why)) => (why, format!("check [smtp] host = {:?} and this machine's DNS", smtp.host)),
                    (ProbeStage::Connect, Failure::Transient(why)) => (why, format!("check [smtp] host and port ({at}), and that a firewall or proxy lets this machine reach it")),
                    (_, Failure::Tls(why)) => (why, "the server's certificate is not trusted here (expired, wrong name, or an unknown CA): renew or fix it on the server, or set [smtp] ca_file to the CA that signed it".to_string()),
                    (ProbeStage::Auth, Failure::Auth(why)) if smtp.auth.uses_tokens() => (why, "sign in again with `mapishim auth login`, and check that the account may send by SMTP (docs/accounts.md)".into()),
                    (ProbeStage::Auth, Failure::Auth(why)) => (why, "check [smtp] username and the password (password_env, password_command or password); for Microsoft 365 and Gmail use auth = \"xoauth2\" (docs/accounts.md)".into()),
                    (_, other) => (format!("{other:?}"), format!("check the server at {at} and [smtp] security = {:?}", smtp.security)),
                };
                report.fail(&check, detail, fix);
            }
        }
    }
}

/// The chain the server showed (already verified by the handshake): who, and until when.
fn certificate(report: &mut Report, chain: &[Vec<u8>]) {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let Ok((_, leaf)) = X509Certificate::from_der(&chain[0]) else {
        return report.warn(
            "smtp certificate",
            "the server's certificate could not be read",
            "none needed: the handshake verified it",
        );
    };
    let not_after = leaf.validity().not_after.timestamp();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let days = (not_after - now) / 86_400;
    let detail = format!(
        "{} (issued by {}; {} certificate(s) in the chain), valid for {days} more day(s), until {}",
        leaf.subject(),
        leaf.issuer(),
        chain.len(),
        leaf.validity().not_after
    );
    if days < 14 {
        report.warn(
            "smtp certificate",
            detail,
            "the server's certificate expires soon: have it renewed",
        );
    } else {
        report.pass("smtp certificate", detail);
    }
}

/// A stored OAuth2 sign-in, where the backend's tokens come from `[oauth2]`.
fn token(report: &mut Report, s: &Settings) {
    let Some(oauth2) = &s.oauth2 else { return };
    let uses = match s.backend {
        BackendKind::Smtp => s
            .smtp
            .as_ref()
            .is_some_and(|m| m.auth.uses_tokens() && m.oauth2_token_command.is_none()),
        BackendKind::Graph => true,
        _ => false,
    } || s
        .composer
        .as_ref()
        .is_some_and(|c| c.drafts_via().is_some());
    if !uses {
        return;
    }
    let (lines, usable) = crate::auth::status_lines(oauth2);
    let detail = lines
        .into_iter()
        .map(|(l, t)| format!("{l}: {t}"))
        .collect::<Vec<_>>()
        .join("; ");
    if usable {
        report.pass("oauth2 token", detail);
    } else {
        report.fail(
            "oauth2 token",
            detail,
            "sign in with `mapishim auth login` (as the user who sends)",
        );
    }
}

fn composer(report: &mut Report, runtime: &Runtime) {
    match &runtime.composer {
        None => report.pass("composer", "none configured: dialog requests go to the backend"),
        Some(c) => match c.check() {
            Ok(found) => report.pass("composer", found),
            Err(why) => report.fail("composer", why, "install the mail program, or set [composer] kind to one that is here (`mapishim config check` lists them)"),
        },
    }
}

/// Messages waiting for a transmitting backend: an old one means it has not been reaching
/// the server.
fn spool(report: &mut Report, s: &Settings) {
    if s.backend == BackendKind::Outbox {
        return;
    }
    let waiting = mapishim_outbox::Outbox::new(&s.outbox_dir)
        .list()
        .unwrap_or_default();
    let oldest = waiting
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .min()
        .and_then(|t| t.elapsed().ok());
    match oldest {
        None => report.pass(
            "spool",
            format!("no message waiting in {}", s.outbox_dir.display()),
        ),
        Some(age) => {
            let detail = format!(
                "{} message(s) waiting in {}, the oldest for {}",
                waiting.len(),
                s.outbox_dir.display(),
                minutes(age)
            );
            let fix = "`mapishim outbox flush` sends them once the checks above pass";
            if age > Duration::from_secs(3600) {
                report.fail("spool", detail, fix);
            } else {
                report.warn("spool", detail, fix);
            }
        }
    }
}

fn minutes(age: Duration) -> String {
    match age.as_secs() / 60 {
        m if m < 120 => format!("{m} min"),
        m => format!("{} h", m / 60),
    }
}

// Used on Windows only; tested everywhere.
/// Whether a DLL is a mapishim build: its version resource names the product (UTF-16).
#[cfg_attr(not(windows), allow(dead_code))]
fn is_mapishim(dll: &Path) -> bool {
    let needle: Vec<u8> = "mapishim"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    std::fs::read(dll).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
}

/// The machine a PE file is built for: 64 (x86-64), 32 (i386), else `None`.
#[cfg_attr(not(windows), allow(dead_code))]
fn pe_bits(dll: &Path) -> Option<u32> {
    let bytes = std::fs::read(dll).ok()?;
    let at = u32::from_le_bytes(bytes.get(0x3c..0x40)?.try_into().ok()?) as usize;
    if bytes.get(at..at + 4)? != b"PE\0\0" {
        return None;
    }
    match u16::from_le_bytes(bytes.get(at + 4..at + 6)?.try_into().ok()?) {
        0x8664 => Some(64),
        0x014c => Some(32),
        _ => None,
    }
}

#[cfg(windows)]
mod windows {
    use super::{Report, is_mapishim, pe_bits};
    use std::path::Path;

    /// What a 64-bit and a 32-bit caller would load through the stub, and a copy of
    /// mapi32.dll beside `app`. A provider other than mapishim fails, unless the program
    /// named has mapishim beside it (then it loads that, unless it searches System32 only).
    pub fn providers(report: &mut Report, app: Option<&Path>) {
        let beside = app.map(|app| {
            let folder = if app.is_dir() {
                app
            } else {
                app.parent().unwrap_or(app)
            };
            (app, folder.join("mapi32.dll"))
        });
        let drop_in = beside.as_ref().is_some_and(|(_, dll)| is_mapishim(dll));
        let register = "register mapishim: `mapishim register --machine` as administrator (every user), `mapishim register` (this user), or install the MSI";
        // 32-bit Windows has no 64-bit programs.
        let native_32 = cfg!(target_pointer_width = "32")
            && std::env::var_os("PROCESSOR_ARCHITEW6432").is_none();
        let callers: &[u32] = if native_32 { &[32] } else { &[64, 32] };
        for &bits in callers {
            let check = format!("provider, {bits}-bit");
            let problem = match crate::register::provider_for(bits) {
                None => format!(
                    "no mail client is registered: a {bits}-bit program's \"Send by e-mail\" finds no provider"
                ),
                Some(provider) => {
                    let detail = format!(
                        "{} default mail client {:?}, DLLPath {}",
                        provider.view, provider.client, provider.dll
                    );
                    let path = Path::new(&provider.dll);
                    if !path.is_file() {
                        format!("{detail}: the file does not exist")
                    } else if pe_bits(path) != Some(bits) {
                        format!(
                            "{detail}: not a {bits}-bit DLL (register with DLLPath under %ProgramFiles%, so that each program finds its own build)"
                        )
                    } else if is_mapishim(path) {
                        report.pass(&check, format!("{detail} (mapishim)"));
                        continue;
                    } else {
                        format!("{detail}: another mail client, not mapishim")
                    }
                }
            };
            if drop_in {
                report.warn(&check, problem, format!("the program loads the mapishim copy beside it; for programs that search System32 only, {register}"));
            } else {
                report.fail(&check, problem, register);
            }
        }
        let Some((app, dll)) = beside else { return };
        if !dll.exists() {
            report.pass(
                "program",
                format!(
                    "no mapi32.dll beside {}: it loads the registered provider",
                    app.display()
                ),
            );
        } else if drop_in {
            report.pass(
                "program",
                format!(
                    "{} is mapishim: loaded unless the program searches System32 only",
                    dll.display()
                ),
            );
        } else {
            report.fail(
                "program",
                format!("{} is not mapishim: the program loads that copy instead of the registered provider", dll.display()),
                format!("remove or rename {}, or replace it with mapishim's mapi32.dll", dll.display()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_pe_machine_and_our_product_name() {
        let dir = tempfile::tempdir().unwrap();
        let dll = dir.path().join("x.dll");
        let mut bytes = vec![0u8; 0x100];
        bytes[0x3c] = 0x80;
        bytes[0x80..0x84].copy_from_slice(b"PE\0\0");
        bytes[0x84..0x86].copy_from_slice(&0x014c_u16.to_le_bytes());
        std::fs::write(&dll, &bytes).unwrap();
        assert_eq!(pe_bits(&dll), Some(32));
        assert!(!is_mapishim(&dll));
        bytes[0x84..0x86].copy_from_slice(&0x8664_u16.to_le_bytes());
        bytes.extend("mapishim".encode_utf16().flat_map(u16::to_le_bytes));
        std::fs::write(&dll, &bytes).unwrap();
        assert_eq!(pe_bits(&dll), Some(64));
        assert!(is_mapishim(&dll));
        std::fs::write(&dll, b"MZ").unwrap();
        assert_eq!(pe_bits(&dll), None);
    }
}
