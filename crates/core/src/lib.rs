//! The safe core of mapishim.
//!
//! Everything here works on owned Rust values: the FFI crate copies the caller's C structures
//! into a [`SendRequest`], [`compose::MessageBuilder::prepare`] resolves it into a [`Message`], and a
//! [`Backend`] delivers it. No raw pointer ever reaches this crate.
#![forbid(unsafe_code)]

pub mod address;
pub mod addressbook;
pub mod attachment;
pub mod backend;
pub mod compose;
pub mod config;
pub mod entry_id;
pub mod error;
pub mod files;
pub mod header;
pub mod html;
pub mod mime;
pub mod model;
pub mod scratch;
pub mod text;

pub use backend::{Backend, Delivery, DialogComposer, DraftStore, Outgoing, StoredDraft};
pub use error::{MapiCode, MapiError, Result};
pub use model::{
    Attachment, LogonRequest, Mailbox, Message, RawAttachment, RawRecipient, RawText,
    RecipientClass, SendRequest,
};
