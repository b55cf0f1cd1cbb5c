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
        ComposerKind::Drafts => Err("the drafts composer opens a URL, not a program".into()),
        ComposerKind::Window => Err("the window composer is built in, not a program".into()),
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

/// Host path of xdg-open, for Windows programs under Wine.
const HOST_XDG_OPEN: &str = "/usr/bin/xdg-open";

/// The command that opens `url` in the user's browser: the platform's opener as for
/// mailto (`program` overrides it), and under Wine the host's xdg-open through
/// `start /unix`, so the Linux desktop's browser opens it.
pub fn url_opener(url: &str, program: Option<&Path>) -> Result<Command, String> {
    if cfg!(windows) && wine_prefix().is_some() {
        let host = program.map_or_else(|| PathBuf::from(HOST_XDG_OPEN), Path::to_path_buf);
        if !windows_path_of_host(&host).is_file() {
            return Err(format!("{} not found on the host", host.display()));
        }
        let mut command = Command::new("start.exe");
        command.arg("/unix").arg(host).arg(url);
        return Ok(command);
    }
    let program = locate(program, opener(), &[])?;
    let mut command = Command::new(&program);
    if cfg!(windows) && program.ends_with("rundll32.exe") {
        command.arg("url.dll,FileProtocolHandler");
    }
    command.arg(url);
    Ok(command)
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

/// The command that opens `message`; its exact command line is logged at debug, shell-quoted,
/// so that an admin can rerun it (it holds what the caller passed and staged file paths,
/// never a password).
pub fn build(resolved: &Resolved, message: &Message, files: &[PathBuf]) -> Command {
    let command = build_command(resolved, message, files);
    tracing::debug!(command = %command_line(&command), "composer command line");
    command
}

/// `program arg…` as a POSIX shell would take it: plain words bare, others in single
/// quotes, and words holding control characters in `$'…'` form, so that the line is one
/// log line and reproduces the arguments exactly.
pub fn command_line(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|arg| shell_word(&arg.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:=@,+-%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_string();
    }
    if !word.chars().any(char::is_control) {
        return format!("'{}'", word.replace('\'', "'\\''"));
    }
    let mut out = String::from("$'");
    for c in word.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn build_command(resolved: &Resolved, message: &Message, files: &[PathBuf]) -> Command {
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

/// A recipient as a person types it into a compose window: `Name <address>` with the name
/// quoted as RFC 5322 asks when it is not plain words (`"Müller, Anna" <anna@x.org>`), the
/// bare address without a name, and text that resolved to nothing as it was typed.
/// Composers take Unicode here (RFC 6532), so no encoded words.
pub fn recipient(mailbox: &Mailbox) -> String {
    let Some(name) = mailbox.name.as_deref().filter(|n| !n.is_empty()) else {
        return mailbox.address.clone();
    };
    if mailbox.is_typed() {
        return name.to_string();
    }
    let word_char = |c: char| {
        c.is_alphanumeric() || (c.is_ascii_graphic() && "!#$%&'*+-/=?^_`{|}~".contains(c))
    };
    let plain = !name.starts_with('-')
        && !name.contains("=?")
        && name
            .split(' ')
            .all(|w| !w.is_empty() && w.chars().all(word_char));
    if plain {
        format!("{name} <{}>", mailbox.address)
    } else {
        let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{quoted}\" <{}>", mailbox.address)
    }
}

fn recipients(list: &[Mailbox]) -> impl Iterator<Item = String> + '_ {
    list.iter().map(recipient)
}

/// Whether every mailbox is a bare address (no name, nothing typed).
fn all_bare(list: &[Mailbox]) -> bool {
    list.iter().all(|m| m.name.is_none() && !m.is_typed())
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
    let positional = |a: String| {
        if a.starts_with('-') {
            // As a URL, so that it cannot be an option; encoded, so that `?` or `&` in the
            // local part cannot add a header.
            format!("mailto:{}", utf8_percent_encode(&a, MAILTO_ADDRESS))
        } else {
            a
        }
    };
    let mut args = vec!["--utf8".to_string()];
    for (option, list) in [("--cc", &message.cc), ("--bcc", &message.bcc)] {
        for value in recipients(list) {
            args.push(option.into());
            args.push(value);
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
    args.extend(recipients(&message.to).map(positional));
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
/// ends with one and holds no comma, so it cannot end its field. Recipients are
/// `Name <address>`; in their list a quote before a comma or at the end becomes U+2019.
pub fn thunderbird_compose_argument(message: &Message, attachment_urls: &[String]) -> String {
    let text = |s: &str| lf(s).replace('\'', "\u{2019}");
    let mut fields = Vec::new();
    for (key, list) in [
        ("to", &message.to),
        ("cc", &message.cc),
        ("bcc", &message.bcc),
    ] {
        let joined: Vec<String> = recipients(list).collect();
        if !joined.is_empty() {
            fields.push(format!("{key}='{}'", field_safe(&joined.join(","))));
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

/// A quote that would end the field (followed by a comma, or last) becomes U+2019; any other
/// stays, so `O'Brien` arrives as typed.
fn field_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        let ends_field = c == '\'' && matches!(chars.peek(), None | Some(',') | Some('\''));
        out.push(if ends_field { '\u{2019}' } else { c });
    }
    out
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
/// (RFC 6068 §5). Attachments cannot be carried. The path may hold bare addresses only
/// (RFC 6068 §2 `to = addr-spec *("," addr-spec)`), so when a To recipient has a name they
/// all go in a `to=` header field instead, as `Name <address>` (a header value there).
pub fn mailto_url(message: &Message) -> String {
    let list = |l: &[Mailbox]| {
        l.iter()
            .map(|m| {
                if all_bare(std::slice::from_ref(m)) {
                    utf8_percent_encode(&m.address, MAILTO_ADDRESS).to_string()
                } else {
                    utf8_percent_encode(&recipient(m), MAILTO_VALUE).to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut query = Vec::new();
    let mut url = if all_bare(&message.to) {
        format!("mailto:{}", list(&message.to))
    } else {
        query.push(format!("to={}", list(&message.to)));
        "mailto:".to_string()
    };
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
                "\"Name, with comma\" <cc@example.org>",
                "--bcc",
                "\"Name, with comma\" <bcc@example.org>",
                "--subject",
                "Q3',to='evil@example.org",
                "--body",
                "line 1\nit's --attach /etc/passwd\n",
                "--attach",
                "/s/a b.pdf",
                "\"Name, with comma\" <to@example.org>",
                "\"Name, with comma\" <-dash@example.org>",
            ]
        );
        let bare = |a: &str| Mailbox {
            name: None,
            address: a.into(),
        };
        let dashed = Message {
            to: vec![bare("to@example.org"), bare("-dash@example.org")],
            ..test_message()
        };
        assert_eq!(
            xdg_email_arguments(&dashed, &[]),
            ["--utf8", "to@example.org", "mailto:-dash@example.org"]
        );
        let sneaky = Message {
            to: vec![bare("-x?bcc=evil@example.org")],
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
        let named = "%22Name%2C%20with%20comma%22%20%3C";
        assert!(url.starts_with(&format!("mailto:?to={named}to%40example.org%3E,{named}-dash%40example.org%3E&cc={named}cc%40example.org%3E&bcc={named}bcc%40example.org%3E&subject=Q3%27%2Cto%3D%27evil%40example.org&body=line%201%0D%0Ait%27s")), "{url}");
        let bare = Message {
            to: vec![Mailbox {
                name: None,
                address: "to@example.org".into(),
            }],
            ..test_message()
        };
        assert!(mailto_url(&bare).starts_with("mailto:to@example.org"));
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

    #[test]
    fn recipients_carry_their_names_quoted() {
        let named = |name: &str, address: &str| Mailbox {
            name: Some(name.into()),
            address: address.into(),
        };
        assert_eq!(
            recipient(&named("Anna Müller", "anna@x.org")),
            "Anna Müller <anna@x.org>"
        );
        assert_eq!(
            recipient(&named("Müller, \"Hans\" \\ Co", "h@x.org")),
            "\"Müller, \\\"Hans\\\" \\\\ Co\" <h@x.org>"
        );
        assert_eq!(recipient(&named("-rf", "r@x.org")), "\"-rf\" <r@x.org>");
        assert_eq!(recipient(&Mailbox::typed("Bob Smith".into())), "Bob Smith");
        let message = Message {
            to: vec![
                named("O'Brien, Pat'", "pat@x.org"),
                Mailbox::typed("Carol'".into()),
            ],
            ..test_message()
        };
        let arg = thunderbird_compose_argument(&message, &[]);
        assert!(
            arg.starts_with("to='\"O'Brien, Pat'\" <pat@x.org>,Carol\u{2019}'"),
            "{arg}"
        );
        let url = url::Url::parse(&mailto_url(&message)).unwrap();
        let to: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            to[0],
            ("to".into(), "\"O'Brien, Pat'\" <pat@x.org>,Carol'".into())
        );
    }

    #[test]
    fn command_lines_are_logged_shell_quoted() {
        let mut command = Command::new("/usr/bin/thunderbird");
        command.args(["-compose", "to='a b',body='x\ny'", "it's"]);
        assert_eq!(
            command_line(&command),
            "/usr/bin/thunderbird -compose $'to=\\'a b\\',body=\\'x\\ny\\'' 'it'\\''s'"
        );
    }
}
