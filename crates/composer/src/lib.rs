//! Opens `MAPI_DIALOG` requests in the user's mail composer.
#![forbid(unsafe_code)]

use mapishim_core::config::ComposerSettings;
use mapishim_core::{Delivery, MapiError, Message, Result};

pub struct Launcher {
    settings: ComposerSettings,
}

impl Launcher {
    pub fn new(settings: ComposerSettings) -> Self {
        Launcher { settings }
    }

    pub fn open(&self, _message: &Message) -> Result<Delivery> {
        let _ = &self.settings;
        Err(MapiError::failure("composer: TODO"))
    }
}
