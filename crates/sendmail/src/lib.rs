//! The sendmail backend: pipes each message to a sendmail-compatible program.
#![forbid(unsafe_code)]

use mapishim_core::config::SendmailSettings;
use mapishim_core::{Backend, Delivery, MapiError, Message, Result};
use std::path::PathBuf;

pub struct SendmailBackend {
    settings: SendmailSettings,
    outbox_dir: PathBuf,
}

impl SendmailBackend {
    /// `outbox_dir` receives drafts of recipient-less dialog requests (DECISIONS.md §1).
    pub fn new(settings: SendmailSettings, outbox_dir: PathBuf) -> Self {
        SendmailBackend {
            settings,
            outbox_dir,
        }
    }
}

impl Backend for SendmailBackend {
    fn name(&self) -> &'static str {
        "sendmail"
    }

    fn send(&self, _message: &Message) -> Result<Delivery> {
        let _ = (&self.settings, &self.outbox_dir);
        Err(MapiError::new(
            mapishim_abi::MAPI_E_NOT_SUPPORTED,
            "sendmail: TODO",
        ))
    }
}
