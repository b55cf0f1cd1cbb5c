//! RFC 5322 bytes plus envelope → [`Message`], so that a plugin's `Backend::send` gets the
//! same value the host's backends get.
use mail_parser::decoders::{base64::base64_decode, quoted_printable::quoted_printable_decode};
use mail_parser::{Address, Encoding, MessageParser, MessagePart, MimeHeaders, PartType};
use mapishim_core::text::{bare_file_name, normalize_crlf, single_line};
use mapishim_core::{Attachment, Mailbox, MapiCode, MapiError, Message, Result};
use std::collections::HashSet;

/// The envelope of one send, owned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Bare address of the sender.
    pub from: String,
    /// Every recipient once; those not in To or Cc are the Bcc recipients.
    pub recipients: Vec<String>,
    pub dialog: bool,
    pub modeless: bool,
}

impl Envelope {
    /// The envelope the host sends for `message`.
    pub fn of(message: &Message) -> Envelope {
        Envelope {
            from: message.from.address.clone(),
            recipients: message
                .envelope_recipients()
                .into_iter()
                .map(str::to_string)
                .collect(),
            dialog: message.dialog,
            modeless: message.modeless,
        }
    }
}

fn mailboxes(list: Option<&Address<'_>>) -> Vec<Mailbox> {
    list.into_iter()
        .flat_map(|a| a.iter())
        .filter_map(|a| {
            let address = a.address()?.trim();
            (!address.is_empty()).then(|| Mailbox {
                name: a.name().map(single_line).filter(|n| !n.is_empty()),
                address: address.to_string(),
            })
        })
        .collect()
}

/// The attachment's bytes exactly as sent. mail-parser decodes `text/*` parts to UTF-8
/// (lossily without a charset), so those are decoded again from the raw transfer encoding.
fn attachment_bytes(raw: &[u8], part: &MessagePart<'_>) -> Vec<u8> {
    if let PartType::Text(_) | PartType::Html(_) = part.body {
        let start = part.raw_body_offset() as usize;
        let end = (part.raw_end_offset() as usize).min(raw.len());
        let encoded = raw.get(start..end).unwrap_or_default();
        let decoded = match part.encoding {
            Encoding::Base64 => base64_decode(encoded),
            Encoding::QuotedPrintable => quoted_printable_decode(encoded),
            Encoding::None => None,
        };
        if let Some(bytes) = decoded {
            return bytes;
        }
    }
    part.contents().to_vec()
}

/// Parses what the host rendered. Bcc recipients are the envelope recipients that are not in
/// To or Cc (the rendered message never carries a Bcc header).
pub fn message_from_rfc5322(raw: &[u8], envelope: &Envelope) -> Result<Message> {
    let parsed = MessageParser::new()
        .parse(raw)
        .ok_or_else(|| MapiError::new(MapiCode::InvalidMessage, "message is not RFC 5322 text"))?;
    let header_from = mailboxes(parsed.from()).into_iter().next();
    let from = match header_from {
        Some(m) if envelope.from.is_empty() || m.address.eq_ignore_ascii_case(&envelope.from) => m,
        _ => Mailbox {
            name: None,
            address: envelope.from.clone(),
        },
    };
    let to = mailboxes(parsed.to());
    let cc = mailboxes(parsed.cc());
    let mut bcc = mailboxes(parsed.bcc());
    let mut seen: HashSet<String> = to
        .iter()
        .chain(&cc)
        .chain(&bcc)
        .map(|m| m.address.to_ascii_lowercase())
        .collect();
    for address in &envelope.recipients {
        if seen.insert(address.to_ascii_lowercase()) {
            bcc.push(Mailbox {
                name: None,
                address: address.clone(),
            });
        }
    }
    let attachments = parsed
        .attachments()
        .enumerate()
        .map(|(i, part)| {
            let file_name = part
                .attachment_name()
                .map(bare_file_name)
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("attachment-{}", i + 1));
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_ascii_lowercase();
            Attachment {
                source: file_name.clone().into(),
                file_name,
                content_type,
                data: attachment_bytes(raw, part),
            }
        })
        .collect();
    Ok(Message {
        from,
        to,
        cc,
        bcc,
        subject: parsed.subject().map(single_line).unwrap_or_default(),
        body: normalize_crlf(&parsed.body_text(0).unwrap_or_default()),
        attachments,
        receipt_requested: parsed.header("Disposition-Notification-To").is_some(),
        dialog: envelope.dialog,
        modeless: envelope.modeless,
        message_id: parsed.message_id().unwrap_or_default().to_string(),
        date: parsed.date().map(|d| d.to_timestamp()).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapishim_core::mime::{BccHeader, to_vec};

    fn mailbox(name: Option<&str>, address: &str) -> Mailbox {
        Mailbox {
            name: name.map(str::to_string),
            address: address.into(),
        }
    }

    pub(crate) fn sample() -> Message {
        Message {
            from: mailbox(Some("Sender, The"), "s@example.org"),
            to: vec![mailbox(Some("Zoë"), "z@example.org")],
            cc: vec![mailbox(None, "c@example.org")],
            bcc: vec![mailbox(None, "hidden@example.org")],
            subject: "Invoice € 42".into(),
            body: "Hello\r\nWorld\r\n".into(),
            attachments: vec![
                Attachment {
                    file_name: "Rechnung März.pdf".into(),
                    content_type: "application/pdf".into(),
                    data: (0..=255u8).collect(),
                    source: "/tmp/x.pdf".into(),
                },
                Attachment {
                    // Latin-1 text without a charset: must come back byte for byte.
                    file_name: "report.csv".into(),
                    content_type: "text/csv".into(),
                    data: b"a;b\r\n\xe9;\xfc\n".to_vec(),
                    source: "/tmp/report.csv".into(),
                },
            ],
            receipt_requested: true,
            dialog: false,
            modeless: false,
            message_id: "abc@example.org".into(),
            date: 1_700_000_000,
        }
    }

    #[test]
    fn rendered_message_parses_back_with_bcc_from_the_envelope() {
        let original = sample();
        let bytes = to_vec(&original, BccHeader::Omit);
        assert!(!String::from_utf8_lossy(&bytes).contains("hidden@"));
        let parsed = message_from_rfc5322(&bytes, &Envelope::of(&original)).unwrap();
        let mut expected = original.clone();
        for (a, b) in expected.attachments.iter_mut().zip(&parsed.attachments) {
            a.source = b.source.clone();
        }
        assert_eq!(parsed, expected);
    }

    #[test]
    fn envelope_flags_and_differing_sender() {
        let original = sample();
        let envelope = Envelope {
            from: "other@example.org".into(),
            recipients: vec!["Z@example.org".into()],
            dialog: true,
            modeless: true,
        };
        let parsed = message_from_rfc5322(&to_vec(&original, BccHeader::Omit), &envelope).unwrap();
        assert_eq!(parsed.from, mailbox(None, "other@example.org"));
        assert!(parsed.bcc.is_empty(), "case-insensitive match with To");
        assert!(parsed.dialog && parsed.modeless);
    }

    #[test]
    fn plain_message_without_attachments() {
        let mut original = sample();
        original.attachments.clear();
        original.bcc.clear();
        original.receipt_requested = false;
        let parsed = message_from_rfc5322(
            &to_vec(&original, BccHeader::Keep),
            &Envelope::of(&original),
        )
        .unwrap();
        assert_eq!(parsed, original);
    }
}
