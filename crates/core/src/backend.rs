//! The one interface every delivery path implements.
use crate::{LogonRequest, Mailbox, Message, Result, SendRequest};
use std::path::PathBuf;

/// What happened to a message a backend accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Written to a file (outbox, drafts, spool).
    Stored(PathBuf),
    /// Handed to a server or program that took responsibility for it.
    Sent,
    /// Opened in the user's mail composer; the user decides what happens next.
    Opened,
}

/// A delivery path. `send` returns only when the message is safe (stored or accepted);
/// it must not keep references to the message afterwards. Called from any thread.
///
/// Session numbers are the handles `MAPILogon` issued; 0 is the shared session.
pub trait Backend: Send + Sync {
    /// The configuration name (`outbox`, `smtp`, …), for logs.
    fn name(&self) -> &'static str;
    fn send(&self, message: &Message) -> Result<Delivery>;

    /// `send` on behalf of the `MAPILogon` session `session` (0: the shared session), for
    /// backends that keep per-session state (SMTP keeps each session's own connection).
    fn send_in_session(&self, _session: usize, message: &Message) -> Result<Delivery> {
        self.send(message)
    }

    /// Pass-through backends (`forward`) take the request before recipients are resolved,
    /// so that their provider resolves them. `None`: not handled here, `send` gets it.
    fn send_request(&self, _session: usize, _request: &SendRequest) -> Option<Result<Delivery>> {
        None
    }

    /// Name resolution by the backend (`forward`, plugins). `None`: use the address book.
    fn resolve(&self, _session: usize, _name: &str) -> Option<Result<Mailbox>> {
        None
    }

    /// Called at `MAPILogon` before the handle is returned; an error fails the logon.
    /// Also a chance for bounded housekeeping (the SMTP spool).
    fn logon(&self, _session: usize, _request: &LogonRequest) -> Result<()> {
        Ok(())
    }

    /// Called at `MAPILogoff` for a session `logon` accepted.
    fn logoff(&self, _session: usize) {}
}

/// Where `MAPI_DIALOG` requests go when a `[composer]` is configured: a program in which
/// the user finishes the message. Called from any thread.
pub trait DialogComposer: Send + Sync {
    /// The configured kind's name (`xdg-email`, `auto`, …), for logs.
    fn name(&self) -> &'static str;
    /// Shows the message to the user; `Delivery::Opened` once it is shown.
    fn open(&self, message: &Message) -> Result<Delivery>;
    /// For `config check`: what would open the message, or why nothing can.
    fn check(&self) -> std::result::Result<String, String>;

    /// `open` for a composer that finishes the send itself (the built-in window): `owner`
    /// is the caller's `ulUIParam`, `outgoing` resolves names and delivers like a send
    /// without a dialog (shared: a modeless window outlives the call). Others ignore both.
    fn open_for(
        &self,
        message: &Message,
        _owner: usize,
        _outgoing: std::sync::Arc<dyn Outgoing>,
    ) -> Result<Delivery> {
        self.open(message)
    }
}

/// The engine's send path, for a composer that sends what the user finished.
pub trait Outgoing: Send + Sync {
    /// One address field as typed (a `;` or `,` list): each entry resolved as
    /// `MAPIResolveName` would; an unknown or ambiguous name is an error naming it.
    fn resolve_field(&self, text: &str) -> Result<Vec<Mailbox>>;
    /// Delivers through the configured backend. Taken by value: the message holds the
    /// attachments' bytes, and the engine adjusts it before delivery without a copy.
    fn send(&self, message: Message) -> Result<Delivery>;
}

/// A draft the server confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredDraft {
    /// A link that opens this very draft in the webmail (Graph's `webLink`), when the
    /// server gives one.
    pub web_link: Option<String>,
}

/// Where the `drafts` composer stores a rendered message: an IMAP Drafts mailbox, or
/// Microsoft Graph. Called from any thread.
pub trait DraftStore: Send + Sync {
    /// Stores `data` (RFC 5322, Bcc kept) as a draft; never sends it. The error's code is
    /// the caller's: 23 unreachable, 3 sign-in refused, 2 refused otherwise.
    fn upload(&self, data: &[u8]) -> Result<StoredDraft>;
    /// Where drafts go, for log lines: "the IMAP server", "Microsoft Graph".
    fn place(&self) -> &'static str;
    /// For `config check`: the server and folder, never a secret.
    fn describe(&self) -> String;
}
