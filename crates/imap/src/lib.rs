//! Webmail drafts and sent copies through IMAP (docs/webmail.md).
//!
//! - [`ImapDrafts`]: the `drafts` composer's store (`mapishim_composer::DraftsComposer`)
//!   over IMAP: the rendered message is APPENDed to the account's `\Drafts` mailbox with
//!   `\Draft \Seen`.
//! - [`SentCopy`]: wraps the SMTP backend for `save_sent`: a delivered message is also
//!   APPENDed to `\Sent` with `\Seen`; a failed copy is logged, never the send's failure.
#![forbid(unsafe_code)]

mod client;
mod protocol;

pub use client::{Account, Appended, Failure, SpecialUse, display_name};

use mapishim_core::config::{ImapSettings, OAuth2Settings};
use mapishim_core::mime::{self, BccHeader};
use mapishim_core::{
    Backend, Delivery, DraftStore, LogonRequest, MapiCode, MapiError, Message, Result, SendRequest,
    StoredDraft,
};

const DRAFT_FLAGS: &[&str] = &["\\Draft", "\\Seen"];
const SENT_FLAGS: &[&str] = &["\\Seen"];

impl Failure {
    fn code(&self) -> MapiCode {
        match self {
            Failure::Unreachable(_) => MapiCode::NetworkFailure,
            Failure::Auth(_) => MapiCode::LogonFailure,
            Failure::Refused(_) => MapiCode::Failure,
        }
    }
}

/// The `drafts` composer's store over IMAP: `APPEND` to the `\Drafts` mailbox.
pub struct ImapDrafts {
    account: Account,
}

impl ImapDrafts {
    pub fn new(imap: &ImapSettings, oauth2: Option<&OAuth2Settings>) -> Self {
        ImapDrafts {
            account: Account::new(imap.clone(), oauth2),
        }
    }

    pub fn account(&self) -> &Account {
        &self.account
    }
}

impl DraftStore for ImapDrafts {
    fn upload(&self, data: &[u8]) -> Result<StoredDraft> {
        let appended = self
            .account
            .append(SpecialUse::Drafts, data, DRAFT_FLAGS)
            .map_err(|failure| MapiError::new(failure.code(), failure.to_string()))?;
        tracing::info!(
            mailbox = %display_name(&appended.mailbox),
            uid = ?appended.uid,
            bytes = data.len(),
            "draft stored by IMAP APPEND"
        );
        Ok(StoredDraft::default())
    }

    fn place(&self) -> &'static str {
        "the IMAP server"
    }

    fn describe(&self) -> String {
        let s = self.account.settings();
        let folder = s
            .drafts_folder
            .clone()
            .unwrap_or_else(|| "the \\Drafts special-use mailbox, else \"Drafts\"".into());
        format!("IMAP {}:{} into {folder}", s.host, s.port)
    }
}

/// `save_sent`: the SMTP backend, plus a copy of each delivered message in `\Sent`.
pub struct SentCopy<B: Backend> {
    inner: B,
    account: Account,
}

impl<B: Backend> SentCopy<B> {
    pub fn new(inner: B, imap: &ImapSettings, oauth2: Option<&OAuth2Settings>) -> Self {
        SentCopy {
            inner,
            account: Account::new(imap.clone(), oauth2),
        }
    }

    fn copy(&self, message: &Message, delivery: &Delivery) {
        if !matches!(delivery, Delivery::Sent) {
            return;
        }
        let data = mime::to_vec(message, BccHeader::Keep);
        match self.account.append(SpecialUse::Sent, &data, SENT_FLAGS) {
            Ok(a) => {
                tracing::info!(mailbox = %display_name(&a.mailbox), uid = ?a.uid, "sent copy stored")
            }
            Err(failure) => {
                tracing::warn!("message sent, but no copy in the Sent folder: {failure}")
            }
        }
    }
}

impl<B: Backend> Backend for SentCopy<B> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn send(&self, message: &Message) -> Result<Delivery> {
        let delivery = self.inner.send(message)?;
        self.copy(message, &delivery);
        Ok(delivery)
    }

    fn send_in_session(&self, session: usize, message: &Message) -> Result<Delivery> {
        let delivery = self.inner.send_in_session(session, message)?;
        self.copy(message, &delivery);
        Ok(delivery)
    }

    fn send_request(&self, session: usize, request: &SendRequest) -> Option<Result<Delivery>> {
        self.inner.send_request(session, request)
    }

    fn resolve(&self, session: usize, name: &str) -> Option<Result<mapishim_core::Mailbox>> {
        self.inner.resolve(session, name)
    }

    fn logon(&self, session: usize, request: &LogonRequest) -> Result<()> {
        self.inner.logon(session, request)
    }

    fn logoff(&self, session: usize) {
        self.inner.logoff(session)
    }
}
