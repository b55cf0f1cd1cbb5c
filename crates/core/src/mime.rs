//! RFC 5322 rendering with mail-builder.
use crate::Message;
use crate::header::{address_header, parameter_header, text_header};
use mail_builder::headers::Header;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart, make_boundary};
use std::borrow::Cow;
use std::io::{self, Write};

pub const MAILER: &str = concat!("mapishim/", env!("CARGO_PKG_VERSION"));

/// Whether the rendered copy carries a `Bcc:` header. Stored copies keep it so they can be
/// delivered later; anything put on the wire must not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BccHeader {
    Keep,
    Omit,
}

/// Characters RFC 2231 lets through unencoded in an extended parameter value.
fn is_attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

/// One MIME parameter as its pieces: `key="value"` for short printable ASCII, else RFC 2231
/// `key*=` form split into continuations that keep lines short. mail-builder writes
/// parameters in RFC 2047 form only, which RFC 2047 §5 forbids inside parameters.
pub fn parameter_pieces(key: &str, value: &str) -> Vec<String> {
    const CHUNK: usize = 50;
    let plain = value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    // Readers decode encoded words even inside quoted parameters: such text is encoded.
    if plain && value.len() <= CHUNK && !value.contains("=?") {
        return vec![format!("{key}=\"{value}\"")];
    }
    let mut chunks = vec![String::new()];
    for b in value.bytes() {
        let piece = if is_attr_char(b) {
            (b as char).to_string()
        } else {
            format!("%{b:02X}")
        };
        if chunks.last().is_some_and(|c| c.len() + piece.len() > CHUNK) {
            chunks.push(String::new());
        }
        chunks.last_mut().expect("never empty").push_str(&piece);
    }
    if let [only] = chunks.as_slice() {
        return vec![format!("{key}*=utf-8''{only}")];
    }
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| format!("{key}*{i}*={}{chunk}", if i == 0 { "utf-8''" } else { "" }))
        .collect()
}

/// [`parameter_pieces`] on one line, for callers that fold it themselves.
pub fn parameter(key: &str, value: &str) -> String {
    parameter_pieces(key, value).join("; ")
}

/// `Content-Disposition` for an attachment.
pub fn content_disposition(file_name: &str) -> String {
    format!("attachment; {}", parameter("filename", file_name))
}

fn header(out: &mut impl Write, name: &str, value: &impl Header) -> io::Result<()> {
    out.write_all(name.as_bytes())?;
    out.write_all(b": ")?;
    value.write_header(&mut *out, name.len() + 2).map(drop)
}

/// Base64 in 76-character lines, streamed in chunks. mail-builder's encoder writes four bytes
/// per call and needs the whole part in memory as a `MimePart`; this one runs at memory speed
/// so that large attachments cost little more than writing them. The chunk lives on the
/// stack: no allocation per attachment, and it stays in the L1 cache.
fn write_base64_lines(data: &[u8], out: &mut impl Write) -> io::Result<()> {
    const LINE_BYTES: usize = 57; // 57 bytes → one 76-character line
    const LINES_PER_CHUNK: usize = 48;
    let mut encoded = [0u8; LINE_BYTES * LINES_PER_CHUNK * 4 / 3];
    let mut lines = [0u8; 78 * LINES_PER_CHUNK];
    for chunk in data.chunks(LINE_BYTES * LINES_PER_CHUNK) {
        let encoded =
            base64_simd::STANDARD.encode(chunk, base64_simd::Out::from_slice(&mut encoded));
        // Whole lines as fixed-size arrays: copies the compiler inlines, not a call each.
        let (full, rest) = encoded.as_chunks::<76>();
        for (line, slot) in full.iter().zip(lines.as_chunks_mut::<78>().0) {
            slot[..76].copy_from_slice(line);
            slot[76..].copy_from_slice(b"\r\n");
        }
        let mut end = full.len() * 78;
        if !rest.is_empty() {
            lines[end..end + rest.len()].copy_from_slice(rest);
            lines[end + rest.len()..end + rest.len() + 2].copy_from_slice(b"\r\n");
            end += rest.len() + 2;
        }
        out.write_all(&lines[..end])?;
    }
    Ok(())
}

/// Writes the message as RFC 5322 with CRLF line ends. Addresses, the subject and MIME
/// parameters are encoded and folded by [`crate::header`]; Message-ID, Date and the text
/// part by mail-builder; the multipart frame is assembled here so that attachments can be
/// streamed (see `write_base64_lines`).
pub fn write_message(message: &Message, bcc: BccHeader, mut out: impl Write) -> io::Result<()> {
    let out = &mut out;
    out.write_all(address_header("From", std::slice::from_ref(&message.from)).as_bytes())?;
    header(
        out,
        "Message-ID",
        &MessageId::new(message.message_id.as_str()),
    )?;
    header(out, "Date", &Date::new(message.date))?;
    header(out, "X-Mailer", &Raw::new(MAILER))?;
    for (name, list, wanted) in [
        ("To", &message.to, true),
        ("Cc", &message.cc, true),
        ("Bcc", &message.bcc, bcc == BccHeader::Keep),
    ] {
        if wanted && !list.is_empty() {
            out.write_all(address_header(name, list).as_bytes())?;
        }
    }
    if !message.subject.is_empty() {
        out.write_all(text_header("Subject", &message.subject).as_bytes())?;
    }
    if message.receipt_requested {
        let from = std::slice::from_ref(&message.from);
        out.write_all(address_header("Disposition-Notification-To", from).as_bytes())?;
    }
    out.write_all(b"MIME-Version: 1.0\r\n")?;
    let html = html_body(message);
    let plain = match &html {
        Some(h) => h.text.as_str(),
        None => message.body.as_str(),
    };
    let text = MimePart::new("text/plain", BodyPart::Text(Cow::Borrowed(plain)));
    let attachments = match html {
        Some(_) => &message.attachments[1..],
        None => &message.attachments[..],
    };
    if attachments.is_empty() {
        return write_body(text, html.as_ref(), out);
    }
    let boundary = make_boundary("_");
    write!(
        out,
        "Content-Type: multipart/mixed;\r\n\tboundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n"
    )?;
    write_body(text, html.as_ref(), out)?;
    for att in attachments {
        write!(out, "\r\n--{boundary}\r\n")?;
        let name = parameter_pieces("name", &att.file_name);
        out.write_all(parameter_header("Content-Type", &att.content_type, &name).as_bytes())?;
        let file_name = parameter_pieces("filename", &att.file_name);
        let disposition = parameter_header("Content-Disposition", "attachment", &file_name);
        out.write_all(disposition.as_bytes())?;
        // Every attachment, text ones too, is base64: its bytes arrive exactly as they were.
        out.write_all(b"Content-Transfer-Encoding: base64\r\n\r\n")?;
        write_base64_lines(&att.data, out)?;
    }
    write!(out, "\r\n--{boundary}--\r\n")
}

/// The HTML body of a message that has one: Simple MAPI has no HTML field, so callers
/// (Word, reporting tools) pass no note text and the HTML as the first attachment
/// (docs/api.md, "HTML bodies"). With note text it stays an attachment.
pub struct HtmlBody<'a> {
    pub html: &'a [u8],
    /// The charset the HTML is in: UTF-8, else what its `<meta>` declares, else
    /// windows-1252 (the HTML default for unlabelled Western text).
    pub charset: &'static str,
    /// The plain-text version, derived from the HTML.
    pub text: String,
}

pub fn html_body(message: &Message) -> Option<HtmlBody<'_>> {
    let first = message.attachments.first()?;
    if !message.body.trim().is_empty() || first.content_type != "text/html" {
        return None;
    }
    let data = first.data.as_slice();
    let encoding = match std::str::from_utf8(data) {
        Ok(_) => encoding_rs::UTF_8,
        Err(_) => declared_charset(data).unwrap_or(encoding_rs::WINDOWS_1252),
    };
    let (decoded, _, _) = encoding.decode(data);
    Some(HtmlBody {
        html: data,
        charset: encoding.name(),
        text: crate::html::to_text(&decoded),
    })
}

/// `charset=` from the first KiB (a `<meta charset>` or `http-equiv` content type).
fn declared_charset(data: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = String::from_utf8_lossy(&data[..data.len().min(1024)]).to_ascii_lowercase();
    let at = head.find("charset=")? + "charset=".len();
    let label: String = head[at..]
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_:.".contains(*c))
        .collect();
    encoding_rs::Encoding::for_label(label.as_bytes())
}

/// The text part, or with an HTML body a `multipart/alternative`: the plain text first, the
/// HTML last (RFC 2046 §5.1.4: the richest version last), its bytes in base64 exactly as
/// the caller's file held them.
fn write_body(
    text: MimePart<'_>,
    html: Option<&HtmlBody<'_>>,
    out: &mut impl Write,
) -> io::Result<()> {
    let Some(html) = html else {
        return text.write_part(&mut *out).map(drop);
    };
    let boundary = make_boundary("_alt");
    write!(
        out,
        "Content-Type: multipart/alternative;\r\n\tboundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n"
    )?;
    text.write_part(&mut *out)?;
    write!(
        out,
        "\r\n--{boundary}\r\nContent-Type: text/html; charset=\"{}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        html.charset
    )?;
    write_base64_lines(html.html, out)?;
    write!(out, "\r\n--{boundary}--\r\n")
}

pub fn to_vec(message: &Message, bcc: BccHeader) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_message(message, bcc, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attachment, Mailbox};
    use mail_parser::MimeHeaders;

    #[test]
    fn base64_lines_are_standard_base64_in_76_columns() {
        use base64::Engine;
        for len in [
            0,
            1,
            2,
            3,
            56,
            57,
            58,
            57 * 48 - 1,
            57 * 48,
            57 * 48 + 1,
            100_000,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let mut out = Vec::new();
            write_base64_lines(&data, &mut out).unwrap();
            let text = std::str::from_utf8(&out).unwrap();
            assert!(text.is_empty() || text.ends_with("\r\n"), "{len}");
            let lines: Vec<&str> = text.split_terminator("\r\n").collect();
            assert!(
                lines.iter().all(|l| l.len() <= 76 && !l.is_empty()),
                "{len}"
            );
            assert!(lines.iter().rev().skip(1).all(|l| l.len() == 76), "{len}");
            let expected = base64::engine::general_purpose::STANDARD.encode(&data);
            assert_eq!(lines.concat(), expected, "{len}");
        }
    }

    fn sample() -> Message {
        Message {
            from: Mailbox {
                name: Some("Sender, The".into()),
                address: "s@example.org".into(),
            },
            to: vec![Mailbox {
                name: Some("Zoë".into()),
                address: "z@example.org".into(),
            }],
            cc: vec![],
            bcc: vec![Mailbox {
                name: None,
                address: "hidden@example.org".into(),
            }],
            subject: "Invoice € 42".into(),
            body: "Hello\r\nWorld\r\n".into(),
            attachments: vec![Attachment {
                file_name: "Rechnung März.pdf".into(),
                content_type: "application/pdf".into(),
                data: b"%PDF".to_vec(),
                source: "/tmp/x".into(),
            }],
            receipt_requested: true,
            dialog: false,
            modeless: false,
            message_id: "abc@example.org".into(),
            date: 0,
        }
    }

    #[test]
    fn renders_headers_and_parts() {
        let text = String::from_utf8(to_vec(&sample(), BccHeader::Keep)).unwrap();
        assert!(text.contains("Bcc: <hidden@example.org>"), "{text}");
        assert!(text.contains("Message-ID: <abc@example.org>"));
        assert!(text.contains("Disposition-Notification-To:"));
        assert!(
            text.contains("filename*=utf-8''Rechnung%20M%C3%A4rz.pdf"),
            "{text}"
        );
        let parsed = mail_parser::MessageParser::new()
            .parse(text.as_bytes())
            .unwrap();
        assert_eq!(parsed.subject(), Some("Invoice € 42"));
        assert_eq!(
            parsed.attachment(0).unwrap().attachment_name(),
            Some("Rechnung März.pdf")
        );
        assert_eq!(parsed.to().unwrap().first().unwrap().name(), Some("Zoë"));
        assert_eq!(
            parsed.from().unwrap().first().unwrap().name(),
            Some("Sender, The")
        );
        let omitted = String::from_utf8(to_vec(&sample(), BccHeader::Omit)).unwrap();
        assert!(!omitted.contains("hidden@example.org"));
    }

    #[test]
    fn large_attachments_round_trip_in_short_lines() {
        let mut message = sample();
        let data: Vec<u8> = (0..300_001u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        message.attachments[0].data = data.clone();
        let bytes = to_vec(&message, BccHeader::Omit);
        assert!(bytes.split(|b| *b == b'\n').all(|line| line.len() <= 78));
        let parsed = mail_parser::MessageParser::new().parse(&bytes).unwrap();
        assert_eq!(parsed.attachment(0).unwrap().contents(), data.as_slice());
        assert_eq!(parsed.body_text(0).as_deref(), Some("Hello\r\nWorld\r\n"));
    }

    #[test]
    fn long_names_use_continuations() {
        let name = format!("{}.txt", "é".repeat(40));
        let cd = content_disposition(&name);
        assert!(cd.contains("filename*0*=utf-8''%C3%A9"), "{cd}");
        assert!(cd.contains("; filename*1*="), "{cd}");
        assert!(cd.split("; ").all(|p| p.len() < 78));
    }

    /// The review's names: each must parse back as exactly one mailbox with the original
    /// text (defects 1, 2 and 11).
    pub(crate) const HOSTILE_NAMES: &[&str] = &[
        "é\",<evil@x.org>,\"",
        "Müller \"Hans\"",
        "Doe, Jane",
        "=?utf-8?B?QWRtaW4=?=",
        "a\\b \"c\" <d@e.f>",
        "O'Brien (work)",
        "Zoë ; Bcc: eve@x.org",
    ];

    #[test]
    fn hostile_names_parse_back_as_one_mailbox() {
        let mut names: Vec<String> = HOSTILE_NAMES.iter().map(|s| s.to_string()).collect();
        names.push("a".repeat(1000));
        names.push("é".repeat(500));
        names.push("word ".repeat(200).trim_end().to_string());
        for name in names {
            let mut message = sample();
            message.to[0].name = Some(name.clone());
            message.subject = name.clone();
            message.attachments[0].file_name = format!("{name}.pdf");
            let bytes = to_vec(&message, BccHeader::Keep);
            let head = &bytes[..bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap()];
            for line in bytes.split(|b| *b == b'\n') {
                assert!(line.len() <= 998, "{} bytes", line.len());
            }
            for line in head.split(|b| *b == b'\n') {
                assert!(line.len() <= 79, "{}", String::from_utf8_lossy(line));
            }
            let parsed = mail_parser::MessageParser::new().parse(&bytes).unwrap();
            let to = parsed.to().unwrap().as_list().unwrap();
            assert_eq!(to.len(), 1, "{name:?}: {}", String::from_utf8_lossy(head));
            assert_eq!(to[0].name(), Some(name.as_str()));
            assert_eq!(to[0].address(), Some("z@example.org"));
            assert_eq!(parsed.subject(), Some(name.as_str()));
            assert_eq!(
                parsed.attachment(0).unwrap().attachment_name(),
                Some(format!("{name}.pdf").as_str())
            );
        }
    }

    #[test]
    fn html_as_first_attachment_without_note_text_is_the_body() {
        let html = "<html><body><p>Caf\u{e9} &amp; more</p></body></html>";
        let mut message = sample();
        message.body = String::new();
        message.attachments.insert(
            0,
            Attachment {
                file_name: "report.html".into(),
                content_type: "text/html".into(),
                data: html.as_bytes().to_vec(),
                source: "/tmp/r.html".into(),
            },
        );
        let bytes = to_vec(&message, BccHeader::Omit);
        let parsed = mail_parser::MessageParser::new().parse(&bytes).unwrap();
        assert_eq!(parsed.body_text(0).as_deref(), Some("Caf\u{e9} & more\r\n"));
        assert_eq!(parsed.body_html(0).as_deref(), Some(html));
        assert_eq!(
            parsed.attachment_count(),
            1,
            "only the PDF stays an attachment"
        );
        assert_eq!(
            parsed.attachment(0).unwrap().attachment_name(),
            Some("Rechnung M\u{e4}rz.pdf")
        );
        // With note text, the HTML file is an attachment like any other.
        message.body = "See the report.\r\n".into();
        let bytes = to_vec(&message, BccHeader::Omit);
        let parsed = mail_parser::MessageParser::new().parse(&bytes).unwrap();
        assert_eq!(parsed.attachment_count(), 2);
        assert_eq!(parsed.body_text(0).as_deref(), Some("See the report.\r\n"));
    }

    #[test]
    fn html_charset_comes_from_its_meta_else_windows_1252() {
        let mut message = sample();
        message.body = String::new();
        message.attachments = vec![Attachment {
            file_name: "r.htm".into(),
            content_type: "text/html".into(),
            data: b"<meta charset=\"iso-8859-15\"><p>\xa4 5</p>".to_vec(),
            source: "/tmp/r.htm".into(),
        }];
        let body = html_body(&message).unwrap();
        assert_eq!(
            (body.charset, body.text.as_str()),
            ("ISO-8859-15", "\u{20ac} 5\r\n")
        );
        message.attachments[0].data = b"<p>caf\xe9</p>".to_vec();
        let body = html_body(&message).unwrap();
        assert_eq!(
            (body.charset, body.text.as_str()),
            ("windows-1252", "caf\u{e9}\r\n")
        );
    }
}
