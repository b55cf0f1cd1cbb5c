//! Turns a message file into what MAPIReadMail returns, with mail-parser.
use crate::attach::{NameSet, ReadFolder};
use crate::{Limits, ReadAttachment, ReadMessage, ReadOptions, ReadRecipient};
use base64::Engine;
use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders};
use mapishim_abi as abi;
use mapishim_core::text::{normalize_crlf, single_line};
use mapishim_core::{MapiCode, MapiError, Result};
use std::path::Path;

/// File name of the body under `MAPI_BODY_AS_FILE`.
pub const BODY_FILE_NAME: &str = "body.txt";

/// `YYYY/MM/DD HH:MM` in UTC. A library cannot learn the local zone safely in a
/// multi-threaded host (the `time` crate refuses to), so every date is UTC.
pub fn format_date(unix: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).ok()?;
    t.format(time::macros::format_description!(
        "[year]/[month]/[day] [hour]:[minute]"
    ))
    .ok()
}

/// The Date header as Unix time, if present and valid.
pub(crate) fn header_date(message: &mail_parser::Message<'_>) -> Option<i64> {
    message
        .date()
        .filter(|d| d.is_valid())
        .map(|d| d.to_timestamp())
}

/// Refuses, before parsing, a message with more MIME parts than the limit: each part costs
/// mail-parser a few hundred bytes, so a file of tiny parts could multiply its size in memory.
/// Every part boundary is a line starting with `--`, so counting those bounds the parts.
pub(crate) fn check_part_count(data: &[u8], limits: &Limits) -> Result<()> {
    let boundaries = data
        .split(|b| *b == b'\n')
        .filter(|line| line.starts_with(b"--"))
        .count();
    if boundaries > limits.max_parts {
        return Err(MapiError::new(
            MapiCode::InsufficientMemory,
            format!(
                "message has up to {boundaries} MIME parts; the limit is {}",
                limits.max_parts
            ),
        ));
    }
    Ok(())
}

fn clean_address(a: &str) -> String {
    single_line(a).replace(' ', "")
}

fn recipient(class: u32, addr: &mail_parser::Addr<'_>) -> Option<ReadRecipient> {
    let address = clean_address(addr.address()?);
    if address.is_empty() {
        return None;
    }
    let name = addr
        .name()
        .map(single_line)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| address.clone());
    Some(ReadRecipient {
        class,
        name,
        address: format!("SMTP:{address}"),
    })
}

fn recipients<'a>(
    class: u32,
    lists: impl Iterator<Item = &'a Address<'a>>,
    out: &mut Vec<ReadRecipient>,
    limits: &Limits,
) -> Result<()> {
    for addr in lists.flat_map(|a| a.iter()) {
        if let Some(r) = recipient(class, addr) {
            if out.len() >= limits.max_recipients {
                return Err(MapiError::new(
                    MapiCode::TooManyRecipients,
                    format!("more than {} recipients", limits.max_recipients),
                ));
            }
            out.push(r);
        }
    }
    Ok(())
}

fn first_id<'a>(value: &'a HeaderValue<'a>) -> Option<&'a str> {
    match value {
        HeaderValue::Text(t) => Some(t.as_ref()),
        HeaderValue::TextList(list) => list.first().map(|t| t.as_ref()),
        _ => None,
    }
}

/// The conversation: Outlook's `Thread-Index` when present (its first 22 bytes name the
/// conversation, replies append 5-byte blocks: lower-case hex of those 22 bytes), else the
/// thread root's Message-ID (first `References` entry, else `In-Reply-To`, else the
/// message's own Message-ID), so a whole thread shares one ID.
pub(crate) fn conversation_id(message: &mail_parser::Message<'_>) -> Option<String> {
    let thread_index = message
        .header("Thread-Index")
        .and_then(HeaderValue::as_text)
        .map(|t| t.split_whitespace().collect::<String>())
        .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
        .filter(|b| b.len() >= 22);
    if let Some(bytes) = thread_index {
        return Some(bytes[..22].iter().map(|b| format!("{b:02x}")).collect());
    }
    let id = first_id(message.references())
        .or_else(|| first_id(message.in_reply_to()))
        .or_else(|| message.message_id())?;
    let id = single_line(id);
    (!id.is_empty()).then_some(id)
}

/// Maps the header and, unless `envelope_only`, body and attachments; also returns the
/// Date header as Unix time and the folder the files went to. ID and flags are left to
/// the store.
pub(crate) fn parse(
    data: &[u8],
    opts: ReadOptions,
    limits: &Limits,
    attach_root: &Path,
) -> Result<(ReadMessage, Option<i64>, ReadFolder)> {
    let parser = MessageParser::new();
    let mut folder = ReadFolder::new(attach_root);
    let parsed = if opts.envelope_only {
        parser.parse_headers(data)
    } else {
        check_part_count(data, limits)?;
        parser.parse(data)
    };
    let mut out = ReadMessage::default();
    // No header at all (an empty or binary file): an empty message, so that a walk through
    // FindNext/ReadMail never stops at it.
    let Some(message) = parsed else {
        if opts.envelope_only {
            return Ok((out, None, folder));
        }
        if opts.body_as_file {
            // The empty body, as a file like any other body: callers expect it first.
            let path = folder.write(BODY_FILE_NAME, b"")?;
            out.attachments.push(ReadAttachment {
                path,
                file_name: BODY_FILE_NAME.into(),
                content_type: "text/plain; charset=utf-8".into(),
            });
        } else {
            out.note_text = Some(String::new());
        }
        return Ok((out, None, folder));
    };
    out.subject = message.subject().map(single_line).unwrap_or_default();
    let date = header_date(&message);
    out.conversation_id = conversation_id(&message);
    out.originator = message
        .from()
        .and_then(|a| a.iter().find_map(|addr| recipient(abi::MAPI_ORIG, addr)));
    if message
        .header_values(mail_parser::HeaderName::DispositionNotificationTo)
        .next()
        .is_some()
    {
        out.flags |= abi::MAPI_RECEIPT_REQUESTED;
    }
    let mut recips = Vec::new();
    recipients(abi::MAPI_TO, message.all_to(), &mut recips, limits)?;
    recipients(abi::MAPI_CC, message.all_cc(), &mut recips, limits)?;
    recipients(abi::MAPI_BCC, message.all_bcc(), &mut recips, limits)?;
    out.recipients = recips;
    if opts.envelope_only {
        return Ok((out, date, folder));
    }

    // Every inline text part, HTML ones converted by mail-parser's own html_to_text.
    let mut text = String::new();
    for pos in 0..message.text_body_count() {
        if let Some(part) = message.body_text(pos) {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            let is_html = message
                .text_part(pos as u32)
                .is_some_and(|p| matches!(p.body, mail_parser::PartType::Html(_)));
            if is_html && cfg!(target_pointer_width = "32") {
                text.push_str(&decode_common_entities(&part));
            } else {
                text.push_str(&part);
            }
        }
    }
    let text = normalize_crlf(&text);
    let mut names = NameSet::default();
    if opts.body_as_file {
        let name = names.unique(Some(BODY_FILE_NAME), BODY_FILE_NAME);
        let path = folder.write(&name, text.as_bytes())?;
        out.attachments.push(ReadAttachment {
            path,
            file_name: name,
            content_type: "text/plain; charset=utf-8".into(),
        });
    } else {
        out.note_text = Some(text);
    }
    if !opts.suppress_attach {
        if message.attachment_count() > limits.max_attachments {
            return Err(MapiError::new(
                MapiCode::TooManyFiles,
                format!(
                    "{} attachments; the limit is {}",
                    message.attachment_count(),
                    limits.max_attachments
                ),
            ));
        }
        for (n, part) in message.attachments().enumerate() {
            let content_type = part
                .content_type()
                .map(|ct| {
                    let sub = ct.subtype().unwrap_or("octet-stream");
                    single_line(&format!("{}/{sub}", ct.ctype())).to_ascii_lowercase()
                })
                .unwrap_or_else(|| "application/octet-stream".into());
            let fallback = format!("attachment-{}.{}", n + 1, extension_for(&content_type));
            // A forwarded message without a file name gets its subject as name.
            let wanted = part.attachment_name().map(str::to_string).or_else(|| {
                part.message()
                    .and_then(|m| m.subject())
                    .map(|s| format!("{s}.eml"))
            });
            let name = names.unique(wanted.as_deref(), &fallback);
            let path = folder.write(&name, part.contents())?;
            out.attachments.push(ReadAttachment {
                path,
                file_name: name,
                content_type,
            });
        }
    }
    Ok((out, date, folder))
}

/// An extension for unnamed attachments, so the file opens with the right program.
/// A short table: mime_guess's reverse lists start with rare extensions (`jfif` for JPEG).
fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "text/plain" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "text/csv" => "csv",
        "message/rfc822" => "eml",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_minutes() {
        assert_eq!(format_date(0).as_deref(), Some("1970/01/01 00:00"));
        assert_eq!(
            format_date(1_700_000_000).as_deref(),
            Some("2023/11/14 22:13")
        );
        assert_eq!(format_date(i64::MAX), None);
    }

    #[test]
    fn conversation_ids() {
        let p = MessageParser::new();
        let m = p
            .parse(b"Message-ID: <root@x>\r\nSubject: a\r\n\r\nb")
            .unwrap();
        assert_eq!(conversation_id(&m).as_deref(), Some("root@x"));
        let m = p
            .parse(
                b"Message-ID: <c@x>\r\nReferences: <root@x> <p@x>\r\nIn-Reply-To: <p@x>\r\n\r\nb",
            )
            .unwrap();
        assert_eq!(conversation_id(&m).as_deref(), Some("root@x"));
        let m = p
            .parse(b"In-Reply-To: <p@x>\r\nSubject: a\r\n\r\nb")
            .unwrap();
        assert_eq!(conversation_id(&m).as_deref(), Some("p@x"));
        // 22 bytes of zeros then one 5-byte child block.
        let index = base64::engine::general_purpose::STANDARD.encode([0u8; 27]);
        let raw = format!("Thread-Index: {index}\r\nMessage-ID: <c@x>\r\n\r\nb");
        let m = p.parse(raw.as_bytes()).unwrap();
        assert_eq!(conversation_id(&m), Some("00".repeat(22)));
        let m = p.parse(b"Subject: a\r\n\r\nb").unwrap();
        assert_eq!(conversation_id(&m), None);
    }
}

/// mail-parser 0.11 looks named HTML entities up in a compile-time perfect hash that misses
/// every key on 32-bit targets (`&amp;` stays `&amp;` in the 32-bit DLL), so the entities
/// real mail uses most are decoded here on those targets. Numeric entities are unaffected.
fn decode_common_entities(text: &str) -> String {
    const COMMON: &[(&str, &str)] = &[
        ("&nbsp;", "\u{a0}"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&apos;", "'"),
        ("&copy;", "\u{a9}"),
        ("&euro;", "\u{20ac}"),
        ("&amp;", "&"),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match COMMON.iter().find(|(name, _)| rest.starts_with(name)) {
            Some((name, value)) => {
                out.push_str(value);
                rest = &rest[name.len()..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod entity_tests {
    #[test]
    fn common_entities_decode_once() {
        assert_eq!(
            super::decode_common_entities("a &amp;lt; b &lt; c &x; &"),
            "a &lt; b < c &x; &"
        );
    }
}
