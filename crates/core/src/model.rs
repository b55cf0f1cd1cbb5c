//! The message model: what callers hand us (`Raw*`, still undecoded) and what backends get.
use std::path::PathBuf;

/// A caller's string, copied out of its memory but not yet decoded: narrow strings are in
/// the ANSI code page or UTF-8 (see [`SendRequest::narrow_is_utf8`]), wide ones are UTF-16.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawText {
    Narrow(Vec<u8>),
    Wide(Vec<u16>),
}

impl RawText {
    pub fn is_empty(&self) -> bool {
        match self {
            RawText::Narrow(b) => b.is_empty(),
            RawText::Wide(w) => w.is_empty(),
        }
    }
}

impl From<&str> for RawText {
    fn from(s: &str) -> Self {
        RawText::Narrow(s.as_bytes().to_vec())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRecipient {
    /// `ulRecipClass` as the caller gave it; validated in [`crate::compose`].
    pub class: u32,
    pub name: Option<RawText>,
    pub address: Option<RawText>,
    pub entry_id: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAttachment {
    pub path: Option<RawText>,
    pub display_name: Option<RawText>,
}

/// One `MAPISendMail`-style request, copied out of the caller's structures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendRequest {
    /// `MapiMessage.ulReserved == CP_UTF8`: narrow strings are UTF-8 regardless of code page.
    pub narrow_is_utf8: bool,
    pub subject: Option<RawText>,
    pub body: Option<RawText>,
    pub message_type: Option<RawText>,
    pub originator: Option<RawRecipient>,
    pub recipients: Vec<RawRecipient>,
    pub attachments: Vec<RawAttachment>,
    pub receipt_requested: bool,
    /// `MAPI_DIALOG` or `MAPI_DIALOG_MODELESS`: the caller asked for a compose window.
    pub dialog: bool,
    pub modeless: bool,
    /// The call's `flFlags` as given, for pass-through backends (unknown bits included).
    pub flags: u32,
    /// The caller's `ulUIParam` (a parent window handle on Windows), for pass-through backends.
    pub ui_param: usize,
}

/// A `MAPILogon` call, copied: pass-through backends hand it to their provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogonRequest {
    pub ui_param: usize,
    pub profile: Option<RawText>,
    pub password: Option<RawText>,
    pub flags: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientClass {
    To,
    Cc,
    Bcc,
}

/// A resolved mailbox: a bare `local@domain` address and an optional display name,
/// both free of control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

impl Mailbox {
    /// What a caller typed that resolved to no mailbox, kept for a compose window only
    /// ([`crate::compose::MessageBuilder::prepare_for_composer`]): the text as name, no address.
    pub fn typed(text: String) -> Mailbox {
        Mailbox {
            name: Some(text),
            address: String::new(),
        }
    }

    /// Whether this is typed text rather than a mailbox (see [`Mailbox::typed`]).
    pub fn is_typed(&self) -> bool {
        self.address.is_empty()
    }

    pub fn display(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.address)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// A bare file name, safe for any header and any file system.
    pub file_name: String,
    pub content_type: String,
    pub data: Vec<u8>,
    /// Where the caller's file was; for logs only.
    pub source: PathBuf,
}

/// A fully resolved message, ready for any backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub subject: String,
    /// UTF-8 text with CRLF line ends.
    pub body: String,
    pub attachments: Vec<Attachment>,
    pub receipt_requested: bool,
    pub dialog: bool,
    pub modeless: bool,
    /// Without angle brackets.
    pub message_id: String,
    /// Seconds since the Unix epoch.
    pub date: i64,
}

impl Message {
    pub fn recipient_count(&self) -> usize {
        self.to.len() + self.cc.len() + self.bcc.len()
    }

    /// The SMTP envelope: To, Cc and Bcc, each address once.
    pub fn envelope_recipients(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        self.to
            .iter()
            .chain(&self.cc)
            .chain(&self.bcc)
            .map(|m| m.address.as_str())
            .filter(|a| seen.insert(a.to_ascii_lowercase()))
            .collect()
    }
}
