//! Loads backend plugins through the versioned `mapishim_backend_v1` C ABI.
use mapishim_core::config::PluginSettings;
use mapishim_core::{Backend, Delivery, MapiError, Message, Result};

pub struct PluginBackend {}

impl PluginBackend {
    pub fn load(_settings: &PluginSettings) -> std::result::Result<Self, String> {
        Err("plugin: TODO".into())
    }
}

impl Backend for PluginBackend {
    fn name(&self) -> &'static str {
        "plugin"
    }

    fn send(&self, _message: &Message) -> Result<Delivery> {
        Err(MapiError::new(
            mapishim_abi::MAPI_E_NOT_SUPPORTED,
            "plugin: TODO",
        ))
    }
}
