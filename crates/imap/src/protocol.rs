//! The client half of IMAP4rev1 (RFC 3501) that drafts and sent copies need: response
//! framing with literals, tagged commands, synchronizing and LITERAL+ (RFC 7888) literals,
//! SASL with an initial response (RFC 4959), and STARTTLS. imap-proto parses the responses.
//!
//! By hand rather than the `imap` crate: its regex, chrono and ouroboros dependencies grew
//! the DLL by 1.3 MB, past its 4 MiB budget, and it sends no LITERAL+. The commands we send
//! are six; the grammar they return is imap-proto's.
use base64::Engine;
use imap_proto::{Capability, RequestId, Response, ResponseCode, Status};
use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read, Write};

/// One response line may not exceed this (servers wrap long data in literals).
const MAX_LINE: u64 = 64 * 1024;
/// One response with its literals (a LIST line, a greeting): far above any real one.
const MAX_RESPONSE: usize = 1024 * 1024;

/// Why a command did not complete.
#[derive(Debug)]
pub enum Error {
    /// The connection failed, closed, or carried something that is not IMAP.
    Io(String),
    /// Tagged `NO`.
    No(String),
    /// Tagged `BAD`, or `BYE` before the command completed.
    Bad(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(s) => f.write_str(s),
            Error::No(s) => write!(f, "NO {s}"),
            Error::Bad(s) => write!(f, "BAD {s}"),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

/// One argument of a command.
pub enum Arg<'a> {
    /// Sent as it is: keywords, flag lists.
    Atom(&'a str),
    /// A string: quoted when it can be, else a literal.
    Str(&'a str),
    /// Bytes sent as a literal (a message for APPEND).
    Literal(&'a [u8]),
}

/// What a completed command returned.
pub struct Completed {
    pub untagged: Vec<Response<'static>>,
    pub code: Option<ResponseCode<'static>>,
}

/// A connection in any state; `S` is plain TCP before STARTTLS, then the TLS stream.
pub struct Connection<S: Read + Write> {
    io: BufReader<S>,
    tag: u32,
    /// Upper-case, as the server last announced them.
    capabilities: Vec<String>,
}

fn capability_names(list: &[Capability<'_>]) -> Vec<String> {
    list.iter()
        .map(|c| match c {
            Capability::Imap4rev1 => "IMAP4REV1".to_string(),
            Capability::Auth(m) => format!("AUTH={}", m.to_ascii_uppercase()),
            Capability::Atom(a) => a.to_ascii_uppercase(),
        })
        .collect()
}

/// `{n}` or `{n+}` ending a line: the length of the literal that follows.
fn literal_at_end(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A tagged status line imap-proto did not parse (an unusual response code): the status
/// word decides, the rest is the text.
fn tagged_by_hand(raw: &[u8]) -> Option<Response<'static>> {
    let text = String::from_utf8_lossy(raw);
    let mut words = text.trim_end().splitn(3, ' ');
    let tag = words.next()?;
    let status = match words.next()?.to_ascii_uppercase().as_str() {
        "OK" => Status::Ok,
        "NO" => Status::No,
        "BAD" => Status::Bad,
        _ => return None,
    };
    Some(Response::Done {
        tag: RequestId(tag.to_string()),
        status,
        code: None,
        information: words.next().map(|s| Cow::Owned(s.to_string())),
    })
}

/// A string as a quoted string when RFC 3501's grammar allows one.
fn quotable(s: &str) -> bool {
    s.len() <= 1024 && s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn information(info: Option<Cow<'_, str>>) -> String {
    info.map(|s| s.into_owned()).unwrap_or_default()
}

impl<S: Read + Write> Connection<S> {
    /// Reads the greeting. `PREAUTH` is accepted; `BYE` is the server's refusal.
    pub fn open(stream: S) -> Result<Self, Error> {
        let mut c = Connection {
            io: BufReader::new(stream),
            tag: 0,
            capabilities: Vec::new(),
        };
        match c.read()? {
            Some(Response::Data {
                status: Status::Ok | Status::PreAuth,
                code,
                ..
            }) => {
                if let Some(ResponseCode::Capabilities(list)) = code {
                    c.capabilities = capability_names(&list);
                }
                Ok(c)
            }
            Some(Response::Data {
                status: Status::Bye,
                information: info,
                ..
            }) => Err(Error::Io(format!(
                "the server said BYE: {}",
                information(info)
            ))),
            _ => Err(Error::Io("the server's greeting is not IMAP".into())),
        }
    }

    /// After STARTTLS: no greeting, and the capabilities must be asked for again.
    pub fn resume(stream: S) -> Self {
        Connection {
            io: BufReader::new(stream),
            tag: 0,
            capabilities: Vec::new(),
        }
    }

    /// The capabilities, asked for when the greeting did not list them.
    pub fn capabilities(&mut self) -> Result<&[String], Error> {
        if self.capabilities.is_empty() {
            self.refresh_capabilities()?;
        }
        Ok(&self.capabilities)
    }

    pub fn refresh_capabilities(&mut self) -> Result<(), Error> {
        let done = self.run(&[Arg::Atom("CAPABILITY")])?;
        for r in done.untagged {
            if let Response::Capabilities(list) = r {
                self.capabilities = capability_names(&list);
            }
        }
        Ok(())
    }

    pub fn has(&mut self, capability: &str) -> Result<bool, Error> {
        Ok(self.capabilities()?.iter().any(|c| c == capability))
    }

    /// `STARTTLS`, and the stream back for the TLS handshake.
    pub fn starttls(mut self) -> Result<S, Error> {
        self.run(&[Arg::Atom("STARTTLS")])?;
        // Bytes after the OK would be read as if they came over TLS (CVE-2011-0411).
        if !self.io.buffer().is_empty() {
            return Err(Error::Io(
                "the server sent data after its STARTTLS reply".into(),
            ));
        }
        Ok(self.io.into_inner())
    }

    /// One complete response (with its literals); `None` for an untagged response
    /// imap-proto does not know, which is skipped.
    fn read(&mut self) -> Result<Option<Response<'static>>, Error> {
        let mut raw = Vec::new();
        loop {
            let start = raw.len();
            let n = (&mut self.io).take(MAX_LINE).read_until(b'\n', &mut raw)?;
            if n == 0 {
                return Err(Error::Io("the server closed the connection".into()));
            }
            if !raw.ends_with(b"\n") {
                return Err(Error::Io("a response line longer than 64 KiB".into()));
            }
            let Some(len) = literal_at_end(&raw[start..]) else {
                break;
            };
            if raw.len().saturating_add(len) > MAX_RESPONSE {
                return Err(Error::Io("a response larger than 1 MiB".into()));
            }
            let at = raw.len();
            raw.resize(at + len, 0);
            self.io.read_exact(&mut raw[at..])?;
        }
        match Response::from_bytes(&raw) {
            Ok((_, response)) => Ok(Some(response.into_owned())),
            Err(_) if raw.starts_with(b"* ") => {
                tracing::debug!(
                    line = %String::from_utf8_lossy(&raw[..raw.len().min(200)]).trim_end(),
                    "IMAP response skipped"
                );
                Ok(None)
            }
            Err(_) if raw.starts_with(b"+") => Ok(Some(Response::Continue {
                code: None,
                information: None,
            })),
            Err(_) => tagged_by_hand(&raw).map(Some).ok_or_else(|| {
                Error::Io(format!(
                    "not an IMAP response: {:?}",
                    String::from_utf8_lossy(&raw[..raw.len().min(200)]).trim_end()
                ))
            }),
        }
    }

    /// Reads until the tagged completion of `tag`, or a continuation request when
    /// `until_continue`. Untagged responses go to `untagged`.
    fn wait(
        &mut self,
        tag: &str,
        until_continue: bool,
        untagged: &mut Vec<Response<'static>>,
    ) -> Result<Option<Option<ResponseCode<'static>>>, Error> {
        let mut bye = None;
        loop {
            let response = match self.read() {
                Ok(r) => r,
                // The reason the server gave before it hung up.
                Err(Error::Io(_)) if bye.is_some() => {
                    return Err(Error::Bad(format!("BYE {}", bye.unwrap_or_default())));
                }
                Err(e) => return Err(e),
            };
            match response {
                None => {}
                Some(Response::Continue { .. }) if until_continue => return Ok(None),
                Some(Response::Continue { .. }) => {
                    return Err(Error::Io("an unexpected continuation request".into()));
                }
                Some(Response::Done {
                    tag: RequestId(t),
                    status,
                    code,
                    information: info,
                }) if t == tag => {
                    if let Some(ResponseCode::Capabilities(list)) = &code {
                        self.capabilities = capability_names(list);
                    }
                    return match status {
                        Status::Ok => Ok(Some(code)),
                        Status::No => Err(Error::No(information(info))),
                        _ => Err(Error::Bad(information(info))),
                    };
                }
                Some(Response::Done {
                    tag: RequestId(t), ..
                }) => {
                    return Err(Error::Io(format!("a completion for tag {t}, not {tag}")));
                }
                Some(Response::Data {
                    status: Status::Bye,
                    information: info,
                    ..
                }) => {
                    bye = Some(information(info));
                }
                Some(other) => untagged.push(other),
            }
        }
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("m{}", self.tag)
    }

    /// Sends one command and waits for its completion. A literal waits for the server's
    /// go-ahead unless the server offers LITERAL+.
    pub fn run(&mut self, args: &[Arg<'_>]) -> Result<Completed, Error> {
        let tag = self.next_tag();
        let plus = self.capabilities.iter().any(|c| c == "LITERAL+");
        let mut untagged = Vec::new();
        let mut line = tag.clone().into_bytes();
        for arg in args {
            line.push(b' ');
            let bytes = match arg {
                Arg::Atom(a) => {
                    line.extend_from_slice(a.as_bytes());
                    continue;
                }
                Arg::Str(s) if quotable(s) => {
                    line.push(b'"');
                    for b in s.bytes() {
                        if b == b'"' || b == b'\\' {
                            line.push(b'\\');
                        }
                        line.push(b);
                    }
                    line.push(b'"');
                    continue;
                }
                Arg::Str(s) => s.as_bytes(),
                Arg::Literal(data) => data,
            };
            let plus = if plus { "+" } else { "" };
            line.extend_from_slice(format!("{{{}{plus}}}\r\n", bytes.len()).as_bytes());
            let stream = self.io.get_mut();
            stream.write_all(&line)?;
            line.clear();
            if plus.is_empty() {
                stream.flush()?;
                if let Some(code) = self.wait(&tag, true, &mut untagged)? {
                    // Completed without the literal: the server refused the command early.
                    return Ok(Completed { untagged, code });
                }
            }
            self.io.get_mut().write_all(bytes)?;
        }
        line.extend_from_slice(b"\r\n");
        let stream = self.io.get_mut();
        stream.write_all(&line)?;
        stream.flush()?;
        let code = self.wait(&tag, false, &mut untagged)?.flatten();
        Ok(Completed { untagged, code })
    }

    /// `AUTHENTICATE mechanism` with `initial` as the client's first message (SASL-IR when
    /// offered). A later challenge is the server's error report, answered with `dummy`.
    pub fn authenticate(
        &mut self,
        mechanism: &str,
        initial: &[u8],
        dummy: &[u8],
    ) -> Result<(), Error> {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let tag = self.next_tag();
        let mut untagged = Vec::new();
        let stream_line = |c: &mut Self, line: String| -> Result<(), Error> {
            let s = c.io.get_mut();
            s.write_all(line.as_bytes())?;
            s.flush()?;
            Ok(())
        };
        if self.has("SASL-IR")? {
            stream_line(
                self,
                format!("{tag} AUTHENTICATE {mechanism} {}\r\n", b64(initial)),
            )?;
        } else {
            stream_line(self, format!("{tag} AUTHENTICATE {mechanism}\r\n"))?;
            if self.wait(&tag, true, &mut untagged)?.is_some() {
                return Ok(());
            }
            stream_line(self, format!("{}\r\n", b64(initial)))?;
        }
        let mut challenges = 0;
        while self.wait(&tag, true, &mut untagged)?.is_none() {
            challenges += 1;
            if challenges > 3 {
                return Err(Error::Io("the server keeps challenging".into()));
            }
            tracing::debug!("IMAP token refused; answering the error challenge");
            stream_line(self, format!("{}\r\n", b64(dummy)))?;
        }
        Ok(())
    }

    /// `LOGOUT`, best effort.
    pub fn logout(&mut self) {
        let _ = self.run(&[Arg::Atom("LOGOUT")]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A stream that replays `input` and records what the client wrote.
    struct Script {
        input: Cursor<Vec<u8>>,
        written: Vec<u8>,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn connect(server: &str) -> Connection<Script> {
        Connection::open(Script {
            input: Cursor::new(server.as_bytes().to_vec()),
            written: Vec::new(),
        })
        .unwrap()
    }

    #[test]
    fn literal_lengths_at_line_ends() {
        assert_eq!(literal_at_end(b"* LIST () \"/\" {5}\r\n"), Some(5));
        assert_eq!(literal_at_end(b"a {12+}\r\n"), Some(12));
        assert_eq!(literal_at_end(b"* OK {x}\r\n"), None);
        assert_eq!(literal_at_end(b"* OK done\r\n"), None);
        assert_eq!(literal_at_end(b"* OK {99999999999}\r\n"), None);
    }

    #[test]
    fn list_names_in_literals_and_quoted_strings_are_read() {
        let mut c = connect(concat!(
            "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR] hi\r\n",
            "* LIST (\\HasNoChildren \\Drafts) \"/\" {7}\r\nEntw\"rf\r\n",
            "* LIST (\\Sent) \"/\" \"Sent Items\"\r\n",
            "* XUNKNOWN something {3}\r\nabc\r\n",
            "m1 OK done\r\n"
        ));
        let done = c
            .run(&[Arg::Atom("LIST"), Arg::Str(""), Arg::Str("*")])
            .unwrap();
        let names: Vec<String> = done
            .untagged
            .iter()
            .filter_map(|r| match r {
                Response::MailboxData(imap_proto::MailboxDatum::List { name, .. }) => {
                    Some(name.to_string())
                }
                _ => None,
            })
            .collect();
        assert_eq!(names, ["Entw\"rf", "Sent Items"]);
        assert_eq!(c.io.get_ref().written, b"m1 LIST \"\" \"*\"\r\n");
    }

    #[test]
    fn literal_plus_sends_without_waiting_and_sync_literals_wait() {
        let mut c =
            connect("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\nm1 OK [APPENDUID 7 42] ok\r\n");
        let done = c
            .run(&[
                Arg::Atom("APPEND"),
                Arg::Str("Drafts"),
                Arg::Literal(b"abc"),
            ])
            .unwrap();
        assert!(matches!(done.code, Some(ResponseCode::AppendUid(7, _))));
        assert_eq!(
            c.io.get_ref().written,
            b"m1 APPEND \"Drafts\" {3+}\r\nabc\r\n"
        );

        let mut c = connect("* OK hi\r\n+ go ahead\r\nm1 OK ok\r\n");
        c.capabilities = vec!["IMAP4REV1".into()];
        c.run(&[
            Arg::Atom("APPEND"),
            Arg::Str("Drafts"),
            Arg::Literal(b"abc"),
        ])
        .unwrap();
        assert_eq!(
            c.io.get_ref().written,
            b"m1 APPEND \"Drafts\" {3}\r\nabc\r\n"
        );
    }

    #[test]
    fn quoting_escapes_and_non_ascii_goes_as_literal() {
        let mut c = connect("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\nm1 OK ok\r\n");
        c.run(&[
            Arg::Atom("LOGIN"),
            Arg::Str("a\"b\\c"),
            Arg::Str("pässword"),
        ])
        .unwrap();
        assert_eq!(
            c.io.get_ref().written,
            "m1 LOGIN \"a\\\"b\\\\c\" {9+}\r\npässword\r\n".as_bytes()
        );
    }

    #[test]
    fn refusals_and_bye_are_errors() {
        let mut c = connect("* OK hi\r\nm1 NO [AUTHENTICATIONFAILED] wrong\r\n");
        c.capabilities = vec!["IMAP4REV1".into()];
        assert!(matches!(c.run(&[Arg::Atom("NOOP")]), Err(Error::No(t)) if t.ends_with("wrong")));
        let mut c = connect("* OK hi\r\n* BYE going away\r\n");
        c.capabilities = vec!["IMAP4REV1".into()];
        assert!(
            matches!(c.run(&[Arg::Atom("NOOP")]), Err(Error::Bad(t)) if t.contains("going away"))
        );
        assert!(
            Connection::open(Script {
                input: Cursor::new(b"* BYE full\r\n".to_vec()),
                written: vec![]
            })
            .is_err()
        );
    }

    #[test]
    fn an_endless_line_is_cut_off() {
        let mut long = "* OK [CAPABILITY IMAP4rev1] hi\r\n* ".to_string();
        long.push_str(&"x".repeat(70 * 1024));
        let mut c = connect(&long);
        assert!(matches!(c.run(&[Arg::Atom("NOOP")]), Err(Error::Io(t)) if t.contains("64 KiB")));
    }

    #[test]
    fn sasl_error_challenge_gets_the_dummy_answer() {
        let mut c = connect(
            "* OK [CAPABILITY IMAP4rev1 SASL-IR] hi\r\n+ eyJzdGF0dXMiOiI0MDEifQ==\r\nm1 NO denied\r\n",
        );
        let r = c.authenticate("XOAUTH2", b"user=a\x01auth=Bearer t\x01\x01", b"");
        assert!(matches!(r, Err(Error::No(_))));
        let sent = String::from_utf8(c.io.get_ref().written.clone()).unwrap();
        assert!(
            sent.starts_with("m1 AUTHENTICATE XOAUTH2 dXNlcj1hAWF1dGg9QmVhcmVyIHQBAQ==\r\n"),
            "{sent}"
        );
        assert!(sent.ends_with("==\r\n\r\n"), "{sent}");
    }
}
