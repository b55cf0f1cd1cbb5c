//! The forward backend: another Simple MAPI provider, loaded at run time.
use mapishim_core::config::ForwardSettings;
use mapishim_core::text::TextDecoder;
use mapishim_core::{Backend, Delivery, MapiError, Message, Result};

pub struct ForwardBackend {}

impl ForwardBackend {
    pub fn load(
        _settings: &ForwardSettings,
        _decoder: TextDecoder,
    ) -> std::result::Result<Self, String> {
        Err("forward: TODO".into())
    }
}

impl Backend for ForwardBackend {
    fn name(&self) -> &'static str {
        "forward"
    }

    fn send(&self, _message: &Message) -> Result<Delivery> {
        Err(MapiError::new(
            mapishim_abi::MAPI_E_NOT_SUPPORTED,
            "forward: TODO",
        ))
    }
}
