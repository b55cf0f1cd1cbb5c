//! Turns a caller's [`SendRequest`] into a resolved [`Message`]: decodes strings, resolves
//! recipients, and reads every attachment before the call returns.
use crate::address::{self, Typed};
use crate::addressbook::AddressBook;
use crate::text::{self, TextDecoder};
use crate::{
    Attachment, Mailbox, MapiCode, MapiError, Message, RawAttachment, RawRecipient, RawText,
    RecipientClass, Result, SendRequest,
};
use mapishim_abi as abi;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds that keep a hostile or broken caller from exhausting memory.
pub const MAX_RECIPIENTS: usize = 10_000;
pub const MAX_ATTACHMENTS: usize = 1_000;
pub const MAX_SUBJECT_BYTES: usize = 16 * 1024;
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
pub const MAX_ATTACHMENT_BYTES: u64 = 2 * 1024 * 1024 * 1024;
pub const MAX_NAME_BYTES: usize = 1024;

const ENTRY_ID_MAGIC: &[u8] = b"MAPISHIM-EID1\0";

/// The entry ID `MAPIResolveName` hands out: `MAPISendMail` turns it back into the mailbox.
pub fn entry_id(mailbox: &Mailbox) -> Vec<u8> {
    let mut id = ENTRY_ID_MAGIC.to_vec();
    id.extend_from_slice(mailbox.name.as_deref().unwrap_or("").as_bytes());
    id.push(0);
    id.extend_from_slice(mailbox.address.as_bytes());
    id
}

/// Reads one of our entry IDs; `None` for foreign ones (they fall back to name and address).
pub fn mailbox_from_entry_id(id: &[u8]) -> Option<Mailbox> {
    let rest = id.strip_prefix(ENTRY_ID_MAGIC)?;
    let text = std::str::from_utf8(rest).ok()?;
    let (name, addr) = text.split_once('\0')?;
    address::validate(addr).ok()?;
    let name = text::single_line(name);
    Some(Mailbox {
        name: (!name.is_empty()).then_some(name),
        address: addr.to_string(),
    })
}

/// A fresh, globally unique Message-ID (without angle brackets).
pub fn new_message_id(domain: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let noise = std::hash::BuildHasher::hash_one(
        &std::collections::hash_map::RandomState::new(),
        (now, count),
    );
    format!(
        "{:x}.{:x}.{:x}.{:08x}@{domain}",
        now.as_millis(),
        std::process::id(),
        count,
        noise as u32
    )
}

/// `user@hostname`: the originator of last resort.
pub fn fallback_sender() -> Mailbox {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|u| {
            u.chars()
                .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .collect::<String>()
        })
        .find(|u| !u.is_empty())
        .unwrap_or_else(|| "mapishim".into());
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || ".-".contains(*c))
        .collect();
    let host = host.trim_matches('.');
    let address = format!(
        "{user}@{}",
        if host.is_empty() { "localhost" } else { host }
    );
    if address::validate(&address).is_ok() {
        Mailbox {
            name: None,
            address,
        }
    } else {
        Mailbox {
            name: None,
            address: "mapishim@localhost".into(),
        }
    }
}

/// Everything [`MessageBuilder::prepare`] needs besides the request.
pub struct MessageBuilder<'a> {
    pub decoder: TextDecoder,
    /// The configured `from`; `None` falls back to `user@hostname`.
    pub from: Option<&'a Mailbox>,
    pub book: &'a AddressBook,
    /// A backend and the caller's session: names are resolved by the backend (a plugin's
    /// or provider's directory) before the address book; `None` from it means "ask the book".
    pub backend: Option<(&'a dyn crate::Backend, usize)>,
}

impl MessageBuilder<'_> {
    fn text(&self, raw: Option<&RawText>, utf8: bool, field: &str) -> String {
        let Some(raw) = raw else { return String::new() };
        let decoded = self.decoder.decode(raw, utf8);
        if decoded.replaced {
            tracing::warn!(
                field,
                encoding = if utf8 {
                    "UTF-8"
                } else {
                    self.decoder.ansi_name()
                },
                "invalid characters replaced by U+FFFD"
            );
        }
        decoded.text
    }

    pub fn prepare(&self, req: &SendRequest) -> Result<Message> {
        let utf8 = req.narrow_is_utf8;
        if req.recipients.len() > MAX_RECIPIENTS {
            return Err(MapiError::new(
                MapiCode::TooManyRecipients,
                format!(
                    "{} recipients (limit {MAX_RECIPIENTS})",
                    req.recipients.len()
                ),
            ));
        }
        if req.attachments.len() > MAX_ATTACHMENTS {
            return Err(MapiError::new(
                MapiCode::TooManyFiles,
                format!(
                    "{} attachments (limit {MAX_ATTACHMENTS})",
                    req.attachments.len()
                ),
            ));
        }
        let subject = text::single_line(&self.text(req.subject.as_ref(), utf8, "subject"));
        if subject.len() > MAX_SUBJECT_BYTES {
            return Err(MapiError::new(
                MapiCode::TextTooLarge,
                format!(
                    "subject of {} bytes (limit {MAX_SUBJECT_BYTES})",
                    subject.len()
                ),
            ));
        }
        let body = text::normalize_crlf(&self.text(req.body.as_ref(), utf8, "body"));
        if body.len() > MAX_BODY_BYTES {
            return Err(MapiError::new(
                MapiCode::TextTooLarge,
                format!("body of {} bytes (limit {MAX_BODY_BYTES})", body.len()),
            ));
        }
        if let Some(kind) = req
            .message_type
            .as_ref()
            .map(|t| self.text(Some(t), utf8, "message type"))
            .filter(|t| !t.is_empty())
        {
            tracing::debug!(message_type = %kind, "message type ignored: sent as ordinary mail");
        }

        let (mut to, mut cc, mut bcc) = (Vec::new(), Vec::new(), Vec::new());
        for (index, raw) in req.recipients.iter().enumerate() {
            let (class, mailboxes) = self.recipient(raw, utf8).map_err(|e| {
                MapiError::new(
                    e.mapi_code(),
                    format!("recipient #{}: {}", index + 1, e.detail()),
                )
            })?;
            match class {
                RecipientClass::To => to.extend(mailboxes),
                RecipientClass::Cc => cc.extend(mailboxes),
                RecipientClass::Bcc => bcc.extend(mailboxes),
            }
        }
        let dialog = req.dialog || req.modeless;
        if to.is_empty() && cc.is_empty() && bcc.is_empty() && !dialog {
            return Err(MapiError::new(
                MapiCode::InvalidRecips,
                "no recipients and no MAPI_DIALOG: nothing to send to",
            ));
        }
        let from = self.originator(req.originator.as_ref(), utf8);

        let mut attachments = Vec::with_capacity(req.attachments.len());
        for (index, raw) in req.attachments.iter().enumerate() {
            let attachment = self.attachment(raw, utf8).map_err(|e| {
                MapiError::new(
                    e.mapi_code(),
                    format!("attachment #{}: {}", index + 1, e.detail()),
                )
            })?;
            attachments.push(attachment);
        }

        let domain = from
            .address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("localhost")
            .to_string();
        Ok(Message {
            from,
            to,
            cc,
            bcc,
            subject,
            body,
            attachments,
            receipt_requested: req.receipt_requested,
            dialog,
            modeless: req.modeless,
            message_id: new_message_id(&domain),
            date: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
        })
    }

    /// Entry ID → name and address → address → name (resolved, possibly a `;` list).
    fn mailboxes(&self, raw: &RawRecipient, utf8: bool) -> Result<Vec<Mailbox>> {
        if let Some(mailbox) = raw.entry_id.as_deref().and_then(mailbox_from_entry_id) {
            return Ok(vec![mailbox]);
        }
        let name = self.text(raw.name.as_ref(), utf8, "recipient name");
        let addr = self.text(raw.address.as_ref(), utf8, "recipient address");
        if name.len() > MAX_NAME_BYTES || addr.len() > MAX_NAME_BYTES {
            return Err(MapiError::new(
                MapiCode::InvalidRecips,
                "name or address longer than 1 KiB",
            ));
        }
        let (name, addr) = (name.trim(), addr.trim());
        if !addr.is_empty() {
            let mut mailboxes = Vec::new();
            for part in addr.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                mailboxes.push(self.address_field(part)?);
            }
            // The caller's name is for display and wins over the address book's.
            if let ([mailbox], false) = (mailboxes.as_mut_slice(), name.is_empty()) {
                let display = match address::split_type(name) {
                    Typed::Smtp(n) => n,
                    _ => name,
                };
                let display = text::single_line(display);
                if !display.eq_ignore_ascii_case(&mailbox.address) && !display.is_empty() {
                    mailbox.name = Some(display);
                }
            }
            if mailboxes.is_empty() {
                return Err(MapiError::new(
                    MapiCode::InvalidRecips,
                    format!("empty address {addr:?}"),
                ));
            }
            return Ok(mailboxes);
        }
        if name.is_empty() {
            return Err(MapiError::new(
                MapiCode::InvalidRecips,
                "recipient has neither name nor address",
            ));
        }
        name.split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|part| {
                match self
                    .backend
                    .and_then(|(b, session)| b.resolve(session, part))
                {
                    Some(resolved) => resolved,
                    None => self.book.resolve(part),
                }
            })
            .collect()
    }

    /// An address field is used as given, never looked up: `SMTP:a@x`, `a@x` or `Name <a@x>`.
    fn address_field(&self, text: &str) -> Result<Mailbox> {
        if let Some(mailbox) = address::parse_name_addr(text) {
            return Ok(mailbox);
        }
        let bare = match address::split_type(text) {
            Typed::Smtp(a) | Typed::Untyped(a) => a,
            Typed::Other { kind, .. } => {
                return Err(MapiError::new(
                    MapiCode::UnknownRecipient,
                    format!("address type {kind}: cannot be delivered by SMTP"),
                ));
            }
        };
        address::validate(bare)
            .map_err(|why| MapiError::new(MapiCode::InvalidRecips, format!("{why}: {bare:?}")))?;
        Ok(Mailbox {
            name: self.book.name_for(bare).map(str::to_string),
            address: bare.to_string(),
        })
    }

    /// One caller recipient: its class and the mailboxes it names (one name may list several).
    pub fn recipient(
        &self,
        raw: &RawRecipient,
        utf8: bool,
    ) -> Result<(RecipientClass, Vec<Mailbox>)> {
        let class = match raw.class {
            abi::MAPI_TO => RecipientClass::To,
            abi::MAPI_CC => RecipientClass::Cc,
            abi::MAPI_BCC => RecipientClass::Bcc,
            other => {
                return Err(MapiError::new(
                    MapiCode::BadReciptype,
                    format!("recipient class {other}"),
                ));
            }
        };
        Ok((class, self.mailboxes(raw, utf8)?))
    }

    /// A usable originator, else the configured `from`, else `user@hostname`.
    fn originator(&self, raw: Option<&RawRecipient>, utf8: bool) -> Mailbox {
        let given = raw.filter(|r| {
            let has = |t: &Option<RawText>| {
                t.as_ref().is_some_and(|t| {
                    let s = self.text(Some(t), utf8, "originator");
                    !matches!(address::split_type(&s), Typed::Smtp("")) && !s.trim().is_empty()
                })
            };
            r.entry_id.is_some() || has(&r.name) || has(&r.address)
        });
        if let Some(raw) = given {
            match self.mailboxes(raw, utf8) {
                Ok(mut list) if list.len() == 1 => return list.remove(0),
                Ok(_) => {
                    tracing::warn!("originator names several mailboxes; using the configured from")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "originator unusable; using the configured from")
                }
            }
        }
        match self.from {
            Some(from) => from.clone(),
            None => {
                let fallback = fallback_sender();
                tracing::warn!(from = %fallback.address, "no `from` configured: using user@hostname");
                fallback
            }
        }
    }

    fn attachment(&self, raw: &RawAttachment, utf8: bool) -> Result<Attachment> {
        let path = match raw.path.as_ref().filter(|p| !p.is_empty()) {
            Some(p) => self.decoder.path(p, utf8),
            None => {
                return Err(MapiError::new(
                    MapiCode::AttachmentNotFound,
                    "no path given",
                ));
            }
        };
        let shown = text::bare_file_name(&self.text(raw.display_name.as_ref(), utf8, "file name"));
        let file_name = if !shown.is_empty() {
            shown
        } else {
            let from_path = text::bare_file_name(
                &path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            if from_path.is_empty() {
                "attachment".to_string()
            } else {
                from_path
            }
        };
        let data = read_regular_file(&path)?;
        Ok(Attachment {
            content_type: content_type_for(&file_name, &path),
            file_name,
            data,
            source: path,
        })
    }
}

/// Guesses a content type from the shown name, then the path. `message/*` and `multipart/*`
/// become `application/octet-stream`: those types may not be base64-encoded (RFC 2046 §5.2.1)
/// and a caller's file is not guaranteed to be valid 7-bit MIME.
pub fn content_type_for(file_name: &str, path: &Path) -> String {
    let guess = mime_guess::from_path(file_name)
        .first()
        .or_else(|| mime_guess::from_path(path).first());
    match guess {
        Some(m) if m.type_() != "message" && m.type_() != "multipart" => {
            m.essence_str().to_string()
        }
        _ => "application/octet-stream".to_string(),
    }
}

/// Reads a whole regular file now, before the caller can delete it. Directories, devices and
/// pipes are refused before anything is read, so they can neither block nor stream forever.
pub fn read_regular_file(path: &Path) -> Result<Vec<u8>> {
    let shown = path.display();
    let not_regular = || {
        MapiError::new(
            MapiCode::AttachmentOpenFailure,
            format!("{shown} is not a regular file"),
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            MapiError::new(MapiCode::AttachmentNotFound, format!("{shown}: not found"))
        }
        _ => MapiError::new(MapiCode::AttachmentOpenFailure, format!("{shown}: {e}")),
    })?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // Should the path be swapped for a FIFO after the check, opening it must not block.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options
        .open(path)
        .map_err(|e| MapiError::new(MapiCode::AttachmentOpenFailure, format!("{shown}: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| MapiError::new(MapiCode::AttachmentOpenFailure, format!("{shown}: {e}")))?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    if meta.len() > MAX_ATTACHMENT_BYTES {
        return Err(MapiError::new(
            MapiCode::AttachmentTooLarge,
            format!(
                "{shown}: {} bytes (limit {MAX_ATTACHMENT_BYTES})",
                meta.len()
            ),
        ));
    }
    let mut data = Vec::new();
    data.try_reserve_exact(meta.len() as usize).map_err(|_| {
        MapiError::new(
            MapiCode::InsufficientMemory,
            format!("{shown}: cannot hold {} bytes", meta.len()),
        )
    })?;
    file.take(MAX_ATTACHMENT_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| MapiError::new(MapiCode::AttachmentOpenFailure, format!("{shown}: {e}")))?;
    if data.len() as u64 > MAX_ATTACHMENT_BYTES {
        return Err(MapiError::new(
            MapiCode::AttachmentTooLarge,
            format!("{shown}: grew past the limit while read"),
        ));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recip(class: u32, name: Option<&str>, address: Option<&str>) -> RawRecipient {
        RawRecipient {
            class,
            name: name.map(RawText::from),
            address: address.map(RawText::from),
            entry_id: None,
        }
    }

    fn prepare(req: &SendRequest) -> Result<Message> {
        let book = AddressBook::default();
        let from = Mailbox {
            name: Some("Config".into()),
            address: "config@example.org".into(),
        };
        MessageBuilder {
            decoder: TextDecoder::default(),
            from: Some(&from),
            book: &book,
            backend: None,
        }
        .prepare(req)
    }

    #[test]
    fn caller_recipient_shapes() {
        let req = SendRequest {
            recipients: vec![
                recip(1, None, Some("SMTP:a@x.org")),
                recip(1, Some("b@x.org"), None),
                recip(2, Some("SMTP:c@x.org"), Some("SMTP:c@x.org")),
                recip(2, Some("Dee"), Some("smtp:d@x.org")),
                recip(3, Some("e@x.org;f@x.org"), None),
            ],
            ..Default::default()
        };
        let m = prepare(&req).unwrap();
        let addrs = |l: &[Mailbox]| l.iter().map(|m| m.address.clone()).collect::<Vec<_>>();
        assert_eq!(addrs(&m.to), ["a@x.org", "b@x.org"]);
        assert_eq!(addrs(&m.cc), ["c@x.org", "d@x.org"]);
        assert_eq!(m.cc[0].name, None);
        assert_eq!(m.cc[1].name.as_deref(), Some("Dee"));
        assert_eq!(addrs(&m.bcc), ["e@x.org", "f@x.org"]);
        assert_eq!(m.from.address, "config@example.org");
    }

    #[test]
    fn error_codes() {
        let code = |req: SendRequest| prepare(&req).unwrap_err().code();
        assert_eq!(code(SendRequest::default()), abi::MAPI_E_INVALID_RECIPS);
        assert_eq!(
            code(SendRequest {
                recipients: vec![recip(9, Some("a@x.org"), None)],
                ..Default::default()
            }),
            abi::MAPI_E_BAD_RECIPTYPE
        );
        assert_eq!(
            code(SendRequest {
                recipients: vec![recip(1, None, None)],
                ..Default::default()
            }),
            abi::MAPI_E_INVALID_RECIPS
        );
        assert_eq!(
            code(SendRequest {
                recipients: vec![recip(1, None, Some("a@x.org\r\nBcc: e@v.il"))],
                ..Default::default()
            }),
            abi::MAPI_E_INVALID_RECIPS
        );
        assert_eq!(
            code(SendRequest {
                recipients: vec![recip(1, Some("nobody"), None)],
                ..Default::default()
            }),
            abi::MAPI_E_UNKNOWN_RECIPIENT
        );
    }

    #[test]
    fn dialog_without_recipients_is_fine_and_originator_falls_back() {
        let req = SendRequest {
            dialog: true,
            originator: Some(recip(0, Some(""), Some("SMTP:"))),
            ..Default::default()
        };
        let m = prepare(&req).unwrap();
        assert_eq!(m.recipient_count(), 0);
        assert_eq!(m.from.address, "config@example.org");
    }

    #[test]
    fn entry_ids_round_trip() {
        let mb = Mailbox {
            name: Some("Bob".into()),
            address: "bob@x.org".into(),
        };
        assert_eq!(mailbox_from_entry_id(&entry_id(&mb)), Some(mb));
        assert_eq!(mailbox_from_entry_id(b"\x00\x00\x00\x00foreign"), None);
    }

    #[test]
    fn attachments_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tmp123.bin");
        std::fs::write(&file, b"%PDF-1.4 data").unwrap();
        let att = |path: &Path, name: Option<&str>| RawAttachment {
            path: Some(RawText::from(path.to_str().unwrap())),
            display_name: name.map(RawText::from),
        };
        let req = SendRequest {
            dialog: true,
            attachments: vec![
                att(&file, Some("C:\\Reports\\Q3 report.pdf")),
                att(&file, Some("")),
            ],
            ..Default::default()
        };
        let m = prepare(&req).unwrap();
        assert_eq!(m.attachments[0].file_name, "Q3 report.pdf");
        assert_eq!(m.attachments[0].content_type, "application/pdf");
        assert_eq!(m.attachments[1].file_name, "tmp123.bin");
        assert_eq!(m.attachments[0].data, b"%PDF-1.4 data");
        let code = |p: &Path| {
            prepare(&SendRequest {
                dialog: true,
                attachments: vec![att(p, None)],
                ..Default::default()
            })
            .unwrap_err()
            .code()
        };
        assert_eq!(
            code(&dir.path().join("missing")),
            abi::MAPI_E_ATTACHMENT_NOT_FOUND
        );
        assert_eq!(code(dir.path()), abi::MAPI_E_ATTACHMENT_OPEN_FAILURE);
        #[cfg(unix)]
        assert_eq!(
            code(Path::new("/dev/zero")),
            abi::MAPI_E_ATTACHMENT_OPEN_FAILURE
        );
    }

    #[test]
    fn eml_attachments_are_not_message_rfc822() {
        assert_eq!(
            content_type_for("forward.eml", Path::new("x")),
            "application/octet-stream"
        );
        assert_eq!(
            content_type_for("noext", Path::new("/tmp/x.png")),
            "image/png"
        );
    }
}
