//! The one interface every delivery path implements.
use crate::{Message, Result};
use std::path::PathBuf;

/// What happened to a message a backend accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Written to a file (outbox, drafts, spool).
    Stored(PathBuf),
    /// Handed to a server or program that took responsibility for it.
    Sent,
}

/// A delivery path. `send` returns only when the message is safe (stored or accepted);
/// it must not keep references to the message afterwards. Called from any thread.
pub trait Backend: Send + Sync {
    /// The configuration name (`outbox`, `smtp`, …), for logs.
    fn name(&self) -> &'static str;
    fn send(&self, message: &Message) -> Result<Delivery>;
    /// Called at `MAPILogon`: a chance for bounded housekeeping (the SMTP spool).
    fn on_logon(&self) {}
}
