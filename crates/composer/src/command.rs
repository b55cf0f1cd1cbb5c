//! Which program a composer kind runs, and its command line.
use crate::{Resolved, find_in_path};
use mapishim_core::config::ComposerKind;
use mapishim_core::{Mailbox, Message};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Host path of xdg-email, for Windows programs under Wine.
const HOST_XDG_EMAIL: &str = "/usr/bin/xdg-email";

pub fn resolve(kind: ComposerKind, program: Option<&Path>) -> Result<Resolved, String> {
    let found = |kind, program: PathBuf| Resolved {
        kind,
        program,
        via_wine: false,
    };
    match kind {
        ComposerKind::None => Err("no composer configured".into()),
        ComposerKind::Auto => {
            // docs/decisions.md §2: xdg-email (a desktop session), then Thunderbird, then mailto.
            let desktop = cfg!(windows)
                || std::env::var_os("DISPLAY").is_some()
                || std::env::var_os("WAYLAND_DISPLAY").is_some();
            let candidates = [
                ComposerKind::XdgEmail,
                ComposerKind::Thunderbird,
                ComposerKind::Mailto,
            ];
            candidates
                .into_iter()
                .filter(|k| *k != ComposerKind::XdgEmail || desktop)
                .find_map(|k| resolve(k, None).ok())
                .ok_or_else(|| {
                    "kind = \"auto\" found no xdg-email, Thunderbird or mailto handler".into()
                })
        }
        ComposerKind::XdgEmail if cfg!(windows) => {
            let host = program.map_or_else(|| PathBuf::from(HOST_XDG_EMAIL), Path::to_path_buf);
            if wine_prefix().is_none() {
                return Err(
                    "xdg-email runs on Linux, or under Wine; on Windows use thunderbird or mailto"
                        .into(),
                );
            }
            let seen_from_windows = windows_path_of_host(&host);
            if !seen_from_windows.is_file() {
                return Err(format!(
                    "{} not found on the host (as {})",
                    host.display(),
                    seen_from_windows.display()
                ));
            }
            Ok(Resolved {
                kind,
                program: host,
                via_wine: true,
            })
        }
        ComposerKind::XdgEmail => locate(program, "xdg-email", &[]).map(|p| found(kind, p)),
        ComposerKind::Thunderbird => {
            locate(program, "thunderbird", &thunderbird_locations()).map(|p| found(kind, p))
        }
        ComposerKind::Mailto => locate(program, opener(), &[]).map(|p| found(kind, p)),
    }
}

/// An explicit program must exist; otherwise `name` is looked up in `PATH`, then in the
/// usual install locations.
fn locate(program: Option<&Path>, name: &str, usual: &[PathBuf]) -> Result<PathBuf, String> {
    match program {
        Some(p) => find_in_path(&p.to_string_lossy())
            .ok_or_else(|| format!("program {} not found", p.display())),
        None => find_in_path(name)
            .or_else(|| usual.iter().find(|p| p.is_file()).cloned())
            .ok_or_else(|| format!("{name} not found in PATH")),
    }
}

fn opener() -> &'static str {
    if cfg!(windows) {
        "rundll32.exe"
    } else if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    }
}

#[cfg(windows)]
fn thunderbird_locations() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let app_paths = r"SOFTWARE\Microsoft\Windows\CurrentVersion\App Paths\thunderbird.exe";
    for hive in [
        windows_registry::CURRENT_USER,
        windows_registry::LOCAL_MACHINE,
    ] {
        if let Ok(path) = hive.open(app_paths).and_then(|k| k.get_string("")) {
            found.push(PathBuf::from(path.trim_matches('"')));
        }
    }
    for var in ["ProgramFiles", "ProgramFiles(x86)", "ProgramW6432"] {
        if let Some(dir) = std::env::var_os(var) {
            found.push(PathBuf::from(dir).join(r"Mozilla Thunderbird\thunderbird.exe"));
        }
    }
    found
}

#[cfg(not(windows))]
fn thunderbird_locations() -> Vec<PathBuf> {
    vec![
        PathBuf::from("/Applications/Thunderbird.app/Contents/MacOS/thunderbird"),
        PathBuf::from("/usr/lib/thunderbird/thunderbird"),
        PathBuf::from("/snap/bin/thunderbird"),
    ]
}

/// The Wine prefix as a host path, when this Windows process runs under Wine (Wine sets
/// `WINECONFIGDIR` to `\??\Z:\path\to\prefix` in every process it starts).
fn wine_prefix() -> Option<PathBuf> {
    let dir = std::env::var("WINECONFIGDIR").ok()?;
    let rest = dir.strip_prefix(r"\??\")?;
    let (drive, path) = rest.split_once(':')?;
    drive
        .eq_ignore_ascii_case("z")
        .then(|| PathBuf::from(path.replace('\\', "/")))
}

/// A host path as a Windows process under Wine sees it (drive Z: is the host's root).
fn windows_path_of_host(host: &Path) -> PathBuf {
    PathBuf::from(format!("Z:{}", host.to_string_lossy().replace('/', "\\")))
}

/// A Windows path as the host sees it: every drive is a link in `<prefix>/dosdevices`.
fn host_path_of_windows(prefix: &Path, path: &Path) -> String {
    let text = path.to_string_lossy();
    match text.split_once(':') {
        Some((drive, rest)) if drive.len() == 1 => format!(
            "{}/dosdevices/{}:{}",
            prefix.display(),
            drive.to_ascii_lowercase(),
            rest.replace('\\', "/")
        ),
        _ => text.replace('\\', "/"),
    }
}

pub fn build(resolved: &Resolved, message: &Message, files: &[PathBuf]) -> Command {
    match resolved.kind {
        ComposerKind::XdgEmail if resolved.via_wine => {
            let prefix = wine_prefix().unwrap_or_default();
            let host_files: Vec<String> = files
                .iter()
                .map(|f| host_path_of_windows(&prefix, f))
                .collect();
            // `start /unix` runs a host program from a Windows process (Wine's start.exe).
            // start.exe joins its arguments again with quotes only around spaces, so no
            // caller text may travel as an argument: it all goes into one mailto: URL.
            let mut command = Command::new("start.exe");
            command
                .arg("/unix")
                .arg(&resolved.program)
                .args(xdg_email_url_arguments(message, &host_files));
            command
        }
        ComposerKind::XdgEmail => {
            let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            let mut command = Command::new(&resolved.program);
            command.args(xdg_email_arguments(message, &files));
            command
        }
        ComposerKind::Thunderbird => {
            let urls: Vec<String> = files.iter().map(|f| file_url(f)).collect();
            let mut command = Command::new(&resolved.program);
            command
                .arg("-compose")
                .arg(thunderbird_compose_argument(message, &urls));
            command
        }
        _ => {
            let mut command = Command::new(&resolved.program);
            if cfg!(windows) && resolved.program.ends_with("rundll32.exe") {
                command.arg("url.dll,FileProtocolHandler");
            }
            command.arg(mailto_url(message));
            command
        }
    }
}

fn addresses(list: &[Mailbox]) -> impl Iterator<Item = &str> {
    list.iter().map(|m| m.address.as_str())
}

/// Text worth passing: whitespace-only subjects and bodies are left out.
fn meaningful(text: &str) -> Option<&str> {
    (!text.trim().is_empty()).then_some(text)
}

/// Composers are Unix programs or take LF text; the message model keeps CRLF.
fn lf(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// `xdg-email [--cc A] [--bcc A] [--subject S] [--body B] [--attach F]… [TO…]`. Every value
/// is its own argument, so no value can become an option, except an address starting with
/// `-`: that one is passed as a `mailto:` URI.
pub fn xdg_email_arguments(message: &Message, files: &[String]) -> Vec<String> {
    let positional = |a: &str| {
        if a.starts_with('-') {
            // As a URL, so that it cannot be an option; encoded, so that `?` or `&` in the
            // local part cannot add a header.
            format!("mailto:{}", utf8_percent_encode(a, MAILTO_ADDRESS))
        } else {
            a.to_string()
        }
    };
    let mut args = vec!["--utf8".to_string()];
    for (option, list) in [("--cc", &message.cc), ("--bcc", &message.bcc)] {
        for address in addresses(list) {
            args.push(option.into());
            args.push(address.into());
        }
    }
    if let Some(subject) = meaningful(&message.subject) {
        args.extend(["--subject".into(), subject.into()]);
    }
    if let Some(body) = meaningful(&message.body) {
        args.extend(["--body".into(), lf(body)]);
    }
    for file in files {
        args.extend(["--attach".into(), file.clone()]);
    }
    args.extend(addresses(&message.to).map(positional));
    args
}

/// `xdg-email --utf8 [--attach FILE]… mailto:…`: every caller text percent-encoded in the
/// URL, so the arguments hold no quote, backslash or white space of the caller's. The
/// staged file names hold none of `"`, `\` or control characters either.
pub fn xdg_email_url_arguments(message: &Message, files: &[String]) -> Vec<String> {
    let mut args = vec!["--utf8".to_string()];
    for file in files {
        args.extend(["--attach".into(), file.clone()]);
    }
    args.push(mailto_url(message));
    args
}

/// Thunderbird's `-compose` value: `key='value'` fields joined by commas. That syntax has
/// no escape: a value ends at a quote followed by a comma. So no value may contain a
/// straight quote: in text it becomes a typographic one (U+2019), in file URLs `%27`, and
/// commas in URLs become `%2C` (they separate attachments). Addresses are passed as they
/// are: a quote may stand in a local part (`o'brien@…`), but a validated address never
/// ends with one and holds no comma, so it cannot end its field.
pub fn thunderbird_compose_argument(message: &Message, attachment_urls: &[String]) -> String {
    let text = |s: &str| lf(s).replace('\'', "\u{2019}");
    let mut fields = Vec::new();
    for (key, list) in [
        ("to", &message.to),
        ("cc", &message.cc),
        ("bcc", &message.bcc),
    ] {
        let joined: Vec<&str> = addresses(list).collect();
        if !joined.is_empty() {
            fields.push(format!("{key}='{}'", joined.join(",")));
        }
    }
    if let Some(subject) = meaningful(&message.subject) {
        fields.push(format!("subject='{}'", text(subject)));
    }
    if let Some(body) = meaningful(&message.body) {
        fields.push(format!("body='{}'", text(body)));
    }
    if !attachment_urls.is_empty() {
        fields.push(format!("attachment='{}'", attachment_urls.join(",")));
    }
    fields.join(",")
}

/// `file:///…` for a staged file, with the characters Thunderbird's syntax reserves encoded.
fn file_url(path: &Path) -> String {
    let url = url::Url::from_file_path(path)
        .map(String::from)
        .unwrap_or_else(|_| format!("file://{}", path.display()));
    url.replace('\'', "%27").replace(',', "%2C")
}

/// RFC 6068: everything but unreserved characters is percent-encoded (UTF-8), so no value
/// can add a header or a recipient.
const MAILTO_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
const MAILTO_ADDRESS: &AsciiSet = &MAILTO_VALUE.remove(b'@');

/// `mailto:to1,to2?cc=…&bcc=…&subject=…&body=…`; line ends in the body are CRLF
/// (RFC 6068 §5). Attachments cannot be carried.
pub fn mailto_url(message: &Message) -> String {
    let list = |l: &[Mailbox]| {
        addresses(l)
            .map(|a| utf8_percent_encode(a, MAILTO_ADDRESS).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut url = format!("mailto:{}", list(&message.to));
    let mut query = Vec::new();
    for (key, l) in [("cc", &message.cc), ("bcc", &message.bcc)] {
        if !l.is_empty() {
            query.push(format!("{key}={}", list(l)));
        }
    }
    if let Some(subject) = meaningful(&message.subject) {
        query.push(format!(
            "subject={}",
            utf8_percent_encode(subject, MAILTO_VALUE)
        ));
    }
    if let Some(body) = meaningful(&message.body) {
        query.push(format!("body={}", utf8_percent_encode(body, MAILTO_VALUE)));
    }
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::tests::test_message;

    fn mailbox(a: &str) -> Mailbox {
        Mailbox {
            name: Some("Name, with comma".into()),
            address: a.into(),
        }
    }

    fn hostile() -> Message {
        Message {
            to: vec![mailbox("to@example.org"), mailbox("-dash@example.org")],
            cc: vec![mailbox("cc@example.org")],
            bcc: vec![mailbox("bcc@example.org")],
            subject: "Q3',to='evil@example.org".into(),
            body: "line 1\r\nit's --attach /etc/passwd\r\n".into(),
            ..test_message()
        }
    }

    #[test]
    fn xdg_email_values_stay_values() {
        let args = xdg_email_arguments(&hostile(), &["/s/a b.pdf".into()]);
        assert_eq!(
            args,
            [
                "--utf8",
                "--cc",
                "cc@example.org",
                "--bcc",
                "bcc@example.org",
                "--subject",
                "Q3',to='evil@example.org",
                "--body",
                "line 1\nit's --attach /etc/passwd\n",
                "--attach",
                "/s/a b.pdf",
                "to@example.org",
                "mailto:-dash@example.org",
            ]
        );
        let sneaky = Message {
            to: vec![mailbox("-x?bcc=evil@example.org")],
            ..test_message()
        };
        assert_eq!(
            xdg_email_arguments(&sneaky, &[]).last().unwrap(),
            "mailto:-x%3Fbcc%3Devil@example.org"
        );
        let blank = Message {
            subject: "  ".into(),
            body: "\r\n".into(),
            ..test_message()
        };
        assert_eq!(xdg_email_arguments(&blank, &[]), ["--utf8"]);
    }

    #[test]
    fn thunderbird_values_cannot_close_their_field() {
        let arg =
            thunderbird_compose_argument(&hostile(), &[file_url(Path::new("/s/it's, here.pdf"))]);
        assert!(!arg.contains("',to='evil"), "{arg}");
        assert!(
            arg.contains("subject='Q3\u{2019},to=\u{2019}evil@example.org'"),
            "{arg}"
        );
        assert!(
            arg.ends_with("attachment='file:///s/it%27s%2C%20here.pdf'"),
            "{arg}"
        );
        // Splitting the way Thunderbird does (a value ends at "',") yields exactly our fields.
        let keys: Vec<&str> = arg
            .split("',")
            .map(|f| f.split_once("='").unwrap().0)
            .collect();
        assert_eq!(keys, ["to", "cc", "bcc", "subject", "body", "attachment"]);
    }

    #[test]
    fn mailto_encodes_everything_but_unreserved() {
        let url = mailto_url(&hostile());
        assert!(url.starts_with("mailto:to@example.org,-dash@example.org?cc=cc@example.org&bcc=bcc@example.org&subject=Q3%27%2Cto%3D%27evil%40example.org&body=line%201%0D%0Ait%27s"), "{url}");
        assert!(!url.contains('\n') && !url.contains(' '));
    }

    #[test]
    fn wine_paths_map_both_ways() {
        assert_eq!(
            host_path_of_windows(Path::new("/p/prefix"), Path::new(r"C:\users\me\x.pdf")),
            "/p/prefix/dosdevices/c:/users/me/x.pdf"
        );
        assert_eq!(
            windows_path_of_host(Path::new("/usr/bin/xdg-email")),
            PathBuf::from(r"Z:\usr\bin\xdg-email")
        );
    }
}
