//! Top-level keys: `from`, `ansi_codepage`, `on_failure` (`backend` is in `backend.rs`).
use super::ConfigError;
use super::Ctx;
use crate::Mailbox;
use crate::address;
use crate::text::TextDecoder;
use serde::Deserialize;
use toml::Spanned;

/// What a transmitting backend does when the server cannot be reached for now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Keep the message in the outbox (the spool) and report success.
    #[default]
    Spool,
    /// Report `MAPI_E_NETWORK_FAILURE`.
    Error,
}

/// `from`: the sender when the caller gives none.
pub(super) fn from(
    value: Option<&Spanned<String>>,
    ctx: &Ctx<'_>,
) -> Result<Option<Mailbox>, ConfigError> {
    value
        .map(|f| address::parse_mailbox(f.get_ref()).map_err(|why| ctx.at(f, "from", why)))
        .transpose()
}

/// `ansi_codepage`: how narrow (`A`) strings are decoded.
pub(super) fn decoder(
    value: Option<&Spanned<String>>,
    ctx: &Ctx<'_>,
) -> Result<TextDecoder, ConfigError> {
    let Some(label) = value else {
        return Ok(TextDecoder::default());
    };
    TextDecoder::from_label(label.get_ref()).ok_or_else(|| {
        ctx.at(
            label,
            "ansi_codepage",
            format!("unknown encoding {:?}", label.get_ref()),
        )
    })
}
