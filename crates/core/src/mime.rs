//! RFC 5322 rendering with mail-builder.
use crate::{Mailbox, Message};
use mail_builder::MessageBuilder;
use mail_builder::headers::HeaderType;
use mail_builder::headers::address::Address;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
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

fn address(m: &Mailbox) -> Address<'_> {
    Address::new_address(m.name.as_deref(), m.address.as_str())
}

fn address_list(list: &[Mailbox]) -> Address<'_> {
    Address::new_list(list.iter().map(address).collect())
}

/// Characters RFC 2231 lets through unencoded in an extended parameter value.
fn is_attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

/// One MIME parameter, `key="value"` for short printable ASCII, else RFC 2231 `key*=` form
/// split into continuations that keep lines short. mail-builder writes parameters in RFC 2047
/// form only, which RFC 2047 §5 forbids inside parameters.
pub fn parameter(key: &str, value: &str) -> String {
    const CHUNK: usize = 50;
    let plain = value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if plain && value.len() <= CHUNK {
        return format!("{key}=\"{value}\"");
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
        return format!("{key}*=utf-8''{only}");
    }
    let parts: Vec<String> = chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| format!("{key}*{i}*={}{chunk}", if i == 0 { "utf-8''" } else { "" }))
        .collect();
    parts.join("; ")
}

/// `Content-Disposition` for an attachment.
pub fn content_disposition(file_name: &str) -> String {
    format!("attachment; {}", parameter("filename", file_name))
}

/// Writes the message as RFC 5322 with CRLF line ends.
pub fn write_message(message: &Message, bcc: BccHeader, output: impl Write) -> io::Result<()> {
    let mut builder = MessageBuilder::new()
        .from(address(&message.from))
        .message_id(MessageId::new(message.message_id.as_str()))
        .date(Date::new(message.date))
        .header("X-Mailer", Raw::new(MAILER));
    if !message.to.is_empty() {
        builder = builder.to(address_list(&message.to));
    }
    if !message.cc.is_empty() {
        builder = builder.cc(address_list(&message.cc));
    }
    if bcc == BccHeader::Keep && !message.bcc.is_empty() {
        builder = builder.bcc(address_list(&message.bcc));
    }
    if !message.subject.is_empty() {
        builder = builder.subject(message.subject.as_str());
    }
    if message.receipt_requested {
        builder = builder.header(
            "Disposition-Notification-To",
            HeaderType::from(address(&message.from)),
        );
    }
    builder = builder.text_body(message.body.as_str());
    for att in &message.attachments {
        // A raw Content-Type makes mail-builder base64 every attachment, text ones too, so the
        // bytes arrive exactly as they were (no line-end conversion).
        let content_type = format!(
            "{}; {}",
            att.content_type,
            parameter("name", &att.file_name)
        );
        let part = MimePart::raw(BodyPart::Binary(Cow::Borrowed(att.data.as_slice())))
            .header("Content-Type", Raw::new(content_type))
            .header(
                "Content-Disposition",
                Raw::new(content_disposition(&att.file_name)),
            );
        builder.attachments.get_or_insert_with(Vec::new).push(part);
    }
    builder.write_to(output)
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
    use crate::Attachment;
    use mail_parser::MimeHeaders;

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
    fn long_names_use_continuations() {
        let name = format!("{}.txt", "é".repeat(40));
        let cd = content_disposition(&name);
        assert!(cd.contains("filename*0*=utf-8''%C3%A9"), "{cd}");
        assert!(cd.contains("; filename*1*="), "{cd}");
        assert!(cd.split("; ").all(|p| p.len() < 78));
    }
}
