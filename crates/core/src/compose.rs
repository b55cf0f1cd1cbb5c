//! Turns a caller's [`SendRequest`] into a resolved [`Message`]: decodes strings, resolves
//! recipients, and reads every attachment before the call returns.
use crate::address::{self, Typed};
use crate::addressbook::AddressBook;
use crate::attachment::read_attachment;
use crate::entry_id::mailbox_from_entry_id;
use crate::text::{self, TextDecoder};
use crate::{
    Attachment, Mailbox, MapiCode, MapiError, Message, RawAttachment, RawRecipient, RawText,
    RecipientClass, Result, SendRequest,
};
use mapishim_abi as abi;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds that keep a hostile or broken caller from exhausting memory.
pub const MAX_RECIPIENTS: usize = 10_000;
pub const MAX_ATTACHMENTS: usize = 1_000;
pub const MAX_SUBJECT_BYTES: usize = 16 * 1024;
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Characters in one name or address field (a field may hold a list, item 13).
pub const MAX_NAME_CHARS: usize = 1024;

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

    /// The message a backend delivers: every recipient resolved, or the call fails.
    pub fn prepare(&self, req: &SendRequest) -> Result<Message> {
        self.build(req, false)
    }

    /// The message for a compose window (docs/api.md, "What the address field may hold"):
    /// for a dialog request, text that resolves to no mailbox goes to the composer as typed
    /// ([`Mailbox::typed`]), the way Outlook and Thunderbird put it in the window.
    pub fn prepare_for_composer(&self, req: &SendRequest) -> Result<Message> {
        self.build(req, req.dialog || req.modeless)
    }

    fn build(&self, req: &SendRequest, keep_typed: bool) -> Result<Message> {
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
        let mut count = 0usize;
        for (index, raw) in req.recipients.iter().enumerate() {
            let (class, mailboxes) = self.classify(raw, utf8, keep_typed).map_err(|e| {
                MapiError::new(
                    e.mapi_code(),
                    format!("recipient #{}: {}", index + 1, e.detail()),
                )
            })?;
            // Lists inside one recipient count mailbox by mailbox (item 9).
            count += mailboxes.len();
            if count > MAX_RECIPIENTS {
                return Err(MapiError::new(
                    MapiCode::TooManyRecipients,
                    format!(
                        "more than {MAX_RECIPIENTS} mailboxes by recipient #{} (lists count each mailbox)",
                        index + 1
                    ),
                ));
            }
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

    /// Entry ID → address field (a list, each entry used as given or resolved when it is a
    /// bare name) → name field (resolved, possibly a `;` list). With `keep_typed`, what
    /// resolves to nothing is kept as typed for a composer.
    fn mailboxes(&self, raw: &RawRecipient, utf8: bool, keep_typed: bool) -> Result<Vec<Mailbox>> {
        if let Some(mailbox) = raw.entry_id.as_deref().and_then(mailbox_from_entry_id) {
            return Ok(vec![mailbox]);
        }
        let name = self.text(raw.name.as_ref(), utf8, "recipient name");
        let addr = self.text(raw.address.as_ref(), utf8, "recipient address");
        if name.chars().count() > MAX_NAME_CHARS || addr.chars().count() > MAX_NAME_CHARS {
            return Err(MapiError::new(
                MapiCode::InvalidRecips,
                format!("name or address longer than {MAX_NAME_CHARS} characters"),
            ));
        }
        let (name, addr) = (name.trim(), addr.trim());
        if !addr.is_empty() {
            let mut mailboxes = Vec::new();
            for part in address::split_list(addr) {
                mailboxes.push(self.address_entry(part, keep_typed)?);
            }
            // The caller's name is for display and wins over the address book's.
            if let ([mailbox], false) = (mailboxes.as_mut_slice(), name.is_empty()) {
                let display = match address::split_type(name) {
                    Typed::Smtp(n) => n,
                    _ => name,
                };
                let display = text::single_line(display);
                let shown = !display.eq_ignore_ascii_case(&mailbox.address) && !display.is_empty();
                if shown && !mailbox.is_typed() {
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
            .map(|part| self.resolve_name(part, keep_typed))
            .collect()
    }

    /// A name: the backend's directory first, then the address book.
    fn resolve_name(&self, name: &str, keep_typed: bool) -> Result<Mailbox> {
        let resolved = match self
            .backend
            .and_then(|(b, session)| b.resolve(session, name))
        {
            Some(resolved) => resolved,
            None => self.book.resolve(name),
        };
        match resolved {
            Err(e) if keep_typed && name.chars().all(|c| !c.is_control()) => {
                tracing::info!(typed = %name, "not resolved ({e}): passed to the composer as typed");
                Ok(Mailbox::typed(text::single_line(name)))
            }
            other => other,
        }
    }

    /// An address field as a user typed it (`;` or `,` list), each entry resolved; what
    /// resolves to nothing, or to several contacts, is an error.
    pub fn resolve_field(&self, text: &str) -> Result<Vec<Mailbox>> {
        address::split_list(text)
            .into_iter()
            .map(|part| self.address_entry(part.trim(), false))
            .collect()
    }

    /// One entry of an address field: `SMTP:a@x`, `a@x` or `Name <a@x>` is used as given;
    /// text with neither `@` nor an address type (`Bob Smith`, as 7-Zip passes what the user
    /// typed) is resolved like a name.
    fn address_entry(&self, text: &str, keep_typed: bool) -> Result<Mailbox> {
        if let Some(mailbox) = address::parse_name_addr(text) {
            return Ok(mailbox);
        }
        let bare = match address::split_type(text) {
            Typed::Smtp(a) => a,
            Typed::Untyped(a) if a.contains('@') => a,
            Typed::Untyped(a) => return self.resolve_name(a, keep_typed),
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
        self.classify(raw, utf8, false)
    }

    fn classify(
        &self,
        raw: &RawRecipient,
        utf8: bool,
        keep_typed: bool,
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
        Ok((class, self.mailboxes(raw, utf8, keep_typed)?))
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
            match self.mailboxes(raw, utf8, false) {
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
        read_attachment(
            &path,
            &self.text(raw.display_name.as_ref(), utf8, "file name"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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

    fn book() -> AddressBook {
        let vcard =
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Smith\r\nEMAIL:bob@x.org\r\nEND:VCARD\r\n";
        AddressBook::new(AddressBook::parse_vcards(vcard, "test").unwrap())
    }

    fn prepare_with(req: &SendRequest, composer: bool) -> Result<Message> {
        let book = book();
        let c = MessageBuilder {
            decoder: TextDecoder::default(),
            from: None,
            book: &book,
            backend: None,
        };
        if composer {
            c.prepare_for_composer(req)
        } else {
            c.prepare(req)
        }
    }

    #[test]
    fn typed_address_fields_are_resolved_and_split() {
        let req = SendRequest {
            dialog: true,
            recipients: vec![
                recip(1, None, Some("Bob Smith")),
                recip(1, None, Some("bob@x.org, carol@x.org")),
                recip(2, None, Some("\"Doe, Jane\" <jane@x.org>; dan@x.org")),
            ],
            ..Default::default()
        };
        let m = prepare_with(&req, false).unwrap();
        let shown = |l: &[Mailbox]| {
            l.iter()
                .map(|m| format!("{:?} {}", m.name, m.address))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            shown(&m.to),
            [
                "Some(\"Bob Smith\") bob@x.org",
                "Some(\"Bob Smith\") bob@x.org",
                "None carol@x.org"
            ]
        );
        assert_eq!(
            shown(&m.cc),
            ["Some(\"Doe, Jane\") jane@x.org", "None dan@x.org"]
        );
    }

    #[test]
    fn unresolved_text_goes_to_a_composer_as_typed_only() {
        let req = SendRequest {
            dialog: true,
            recipients: vec![
                recip(1, None, Some("Nobody Known; bob@x.org")),
                recip(2, Some("Also Unknown"), None),
            ],
            ..Default::default()
        };
        let code = prepare_with(&req, false).unwrap_err().code();
        assert_eq!(code, abi::MAPI_E_UNKNOWN_RECIPIENT);
        let m = prepare_with(&req, true).unwrap();
        assert_eq!(m.to[0], Mailbox::typed("Nobody Known".into()));
        assert!(m.to[0].is_typed() && !m.to[1].is_typed());
        assert_eq!(m.cc, [Mailbox::typed("Also Unknown".into())]);
        // Without MAPI_DIALOG nothing is kept as typed, composer or not.
        let silent = SendRequest {
            dialog: false,
            ..req
        };
        assert!(prepare_with(&silent, true).is_err());
        // Invalid addresses stay invalid: only names are kept as typed.
        let bad = SendRequest {
            dialog: true,
            recipients: vec![recip(1, None, Some("bob\u{a0}@x.org"))],
            ..Default::default()
        };
        let code = prepare_with(&bad, true).unwrap_err().code();
        assert_eq!(code, abi::MAPI_E_INVALID_RECIPS);
    }

    #[test]
    fn lists_count_against_the_recipient_limit() {
        // 200 entries of 60 mailboxes each: 12,000 mailboxes from 200 entries.
        let entry = |i: usize| {
            let list: Vec<String> = (0..60).map(|j| format!("a{i}x{j}@x.org")).collect();
            recip(3, None, Some(&list.join(";")))
        };
        let req = SendRequest {
            recipients: (0..200).map(entry).collect(),
            ..Default::default()
        };
        let err = prepare(&req).unwrap_err();
        assert_eq!(err.code(), abi::MAPI_E_TOO_MANY_RECIPIENTS, "{err}");
        let within = SendRequest {
            recipients: (0..166).map(entry).collect(),
            ..Default::default()
        };
        assert_eq!(prepare(&within).unwrap().bcc.len(), 9960);
    }

    #[test]
    fn a_typed_field_resolves_each_entry_or_names_the_problem() {
        let vcard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Smith\r\nEMAIL:bob@x.org\r\nEND:VCARD\r\n\
                     BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Jones\r\nEMAIL:jones@x.org\r\nEND:VCARD\r\n";
        let book = AddressBook::new(AddressBook::parse_vcards(vcard, "test").unwrap());
        let c = MessageBuilder {
            decoder: TextDecoder::default(),
            from: None,
            book: &book,
            backend: None,
        };
        let got = c
            .resolve_field("a@y.org; Bob Smith, \"Doe, J\" <j@y.org>")
            .unwrap();
        let addresses: Vec<&str> = got.iter().map(|m| m.address.as_str()).collect();
        assert_eq!(addresses, ["a@y.org", "bob@x.org", "j@y.org"]);
        assert!(c.resolve_field("  ").unwrap().is_empty());
        let ambiguous = c.resolve_field("Bob").unwrap_err();
        assert_eq!(
            ambiguous.mapi_code(),
            MapiCode::AmbiguousRecipient,
            "{ambiguous}"
        );
        assert!(c.resolve_field("Nobody Here").is_err());
        assert!(c.resolve_field("not an address@").is_err());
    }
}
