//! Write mapishim backend plugins in Rust.
//!
//! A plugin is a shared library (`.so`, `.dylib`, `.dll`) that exports the versioned C entry
//! point `mapishim_backend_v1` (see `include/mapishim_plugin.h` and `docs/plugins.md`).
//! [`export_backend!`] turns any [`Backend`] plus a constructor into that entry point:
//!
//! ```
//! use mapishim_plugin::mapishim_core::{Backend, Delivery, Mailbox, Message, Result};
//! use mapishim_plugin::toml::Table;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! /// Accepts everything and counts it (calls come from many threads: no `&mut self`).
//! struct Counter {
//!     sent: AtomicU64,
//!     limit: u64,
//! }
//!
//! impl Counter {
//!     fn new(options: &Table) -> std::result::Result<Counter, String> {
//!         let limit = match options.get("limit") {
//!             Some(v) => v.as_integer().filter(|n| *n > 0).ok_or("limit must be a positive integer")?,
//!             None => 1000,
//!         };
//!         Ok(Counter { sent: AtomicU64::new(0), limit: limit as u64 })
//!     }
//! }
//!
//! impl Backend for Counter {
//!     fn name(&self) -> &'static str { "counter" }
//!     fn send(&self, _message: &Message) -> Result<Delivery> {
//!         if self.sent.fetch_add(1, Ordering::Relaxed) >= self.limit {
//!             return Err(mapishim_plugin::mapishim_core::MapiError::new(
//!                 mapishim_plugin::mapishim_core::MapiCode::Failure, "limit reached"));
//!         }
//!         Ok(Delivery::Sent)
//!     }
//!     // Optional; the default (None) sends every name to the address book.
//!     fn resolve(&self, _session: usize, _name: &str) -> Option<Result<Mailbox>> { None }
//! }
//!
//! mapishim_plugin::export_backend!("counter", Counter, Counter::new);
//! # fn main() {}
//! ```
//!
//! Every call is wrapped in `catch_unwind`: a panic becomes `MAPI_E_FAILURE` with the panic
//! message as the error text, so it never unwinds into the host.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod abi;
mod parse;

pub use mapishim_abi;
pub use mapishim_core;
pub use parse::{Envelope, message_from_rfc5322};
pub use toml;

use abi::{BackendV1, EnvelopeV1};
use mapishim_abi as mapi;
use mapishim_core::{Backend, MapiCode, MapiError, Result};
use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What [`export_backend!`] implements: the backend type and how options make one.
pub trait Plugin {
    type Backend: Backend;
    fn create(options: &toml::Table) -> std::result::Result<Self::Backend, String>;
}

/// Exports `mapishim_backend_v1` for a [`Backend`]:
/// `export_backend!("name", BackendType, constructor)` where the constructor is a
/// `fn(&toml::Table) -> Result<BackendType, String>` (a path or a non-capturing closure).
/// Use it once per library.
#[macro_export]
macro_rules! export_backend {
    ($name:literal, $backend:ty, $create:expr $(,)?) => {
        /// The mapishim plugin entry point (`mapishim_backend_v1` C ABI).
        #[unsafe(no_mangle)]
        pub extern "C" fn mapishim_backend_v1() -> *const $crate::abi::BackendV1 {
            struct Exported;
            impl $crate::Plugin for Exported {
                type Backend = $backend;
                fn create(
                    options: &$crate::toml::Table,
                ) -> ::std::result::Result<$backend, ::std::string::String> {
                    let create: fn(
                        &$crate::toml::Table,
                    )
                        -> ::std::result::Result<$backend, ::std::string::String> = $create;
                    create(options)
                }
            }
            static BACKEND: $crate::abi::BackendV1 =
                $crate::vtable::<Exported>($crate::plugin_name(concat!($name, "\0")));
            &BACKEND
        }
    };
}

/// A NUL-terminated literal as a `CStr`, checked at compile time.
#[doc(hidden)]
pub const fn plugin_name(with_nul: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(with_nul.as_bytes()) {
        Ok(name) => name,
        Err(_) => panic!("plugin name must not contain NUL"),
    }
}

/// The function table for `P`. Public so that tests (and hosts embedding a plugin
/// statically) can use a plugin without a shared library.
pub const fn vtable<P: Plugin>(name: &'static CStr) -> BackendV1 {
    BackendV1 {
        abi_version: abi::ABI_VERSION,
        struct_size: BackendV1::SIZE,
        name: name.as_ptr(),
        create: Some(create::<P>),
        destroy: Some(destroy::<P>),
        capabilities: Some(capabilities),
        send: Some(send::<P>),
        resolve: Some(resolve::<P>),
    }
}

/// Runs `f`, turning a panic into `MAPI_E_FAILURE`.
fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(MapiError::failure(format!("plugin panicked: {why}")))
    })
}

/// Copies `text` into a caller's buffer of `len` bytes, NUL-terminated, cut at a character
/// boundary if it does not fit. Returns whether all of it fit.
///
/// # Safety
/// `buf` is NULL or valid for `len` bytes of writes.
pub unsafe fn write_c_string(buf: *mut c_char, len: usize, text: &str) -> bool {
    if buf.is_null() || len == 0 {
        return text.is_empty();
    }
    let mut end = text.len().min(len - 1);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    // SAFETY: `end < len` and the caller promises `len` writable bytes; the source is a
    // separate Rust string, so the ranges cannot overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), end);
        *buf.add(end) = 0;
    }
    end == text.len()
}

/// A MAPI code for the host, with the detail written into its error buffer.
///
/// # Safety
/// As for [`write_c_string`].
unsafe fn finish(result: Result<()>, error: *mut c_char, error_len: usize) -> u32 {
    match result {
        Ok(()) => mapi::SUCCESS_SUCCESS,
        Err(e) => {
            // SAFETY: forwarded from the caller's contract.
            unsafe { write_c_string(error, error_len, e.detail()) };
            match e.code() {
                mapi::SUCCESS_SUCCESS => mapi::MAPI_E_FAILURE,
                code => code,
            }
        }
    }
}

/// # Safety
/// `state` is NULL or came from `create::<P>` and was not destroyed.
unsafe fn backend<'a, P: Plugin>(state: *mut c_void) -> Result<&'a P::Backend> {
    // SAFETY: per the contract, a non-NULL `state` is a live `Box<P::Backend>`; it is only
    // shared (`Backend: Sync`) until `destroy`.
    unsafe { state.cast::<P::Backend>().as_ref() }
        .ok_or_else(|| MapiError::failure("plugin called with a NULL state"))
}

/// Reads a NUL-terminated UTF-8 string from the host.
///
/// # Safety
/// `text` is NULL or a NUL-terminated string.
unsafe fn utf8<'a>(text: *const c_char, what: &str) -> Result<&'a str> {
    if text.is_null() {
        return Err(MapiError::failure(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    unsafe { CStr::from_ptr(text) }
        .to_str()
        .map_err(|_| MapiError::failure(format!("{what} is not UTF-8")))
}

/// # Safety
/// `envelope` is NULL or points to a host's `mapishim_envelope_v1` with valid strings.
unsafe fn read_envelope(envelope: *const EnvelopeV1) -> Result<Envelope> {
    // SAFETY: NULL or a valid envelope per the contract.
    let envelope =
        unsafe { envelope.as_ref() }.ok_or_else(|| MapiError::failure("envelope is NULL"))?;
    if envelope.struct_size < EnvelopeV1::SIZE {
        return Err(MapiError::failure("envelope struct_size is too small"));
    }
    let count = envelope.recipient_count;
    let pointers: &[*const c_char] = if count == 0 {
        &[]
    } else if envelope.recipients.is_null() {
        return Err(MapiError::failure(
            "envelope has recipients but a NULL array",
        ));
    } else {
        // SAFETY: the host passes `recipient_count` valid pointers at `recipients`.
        unsafe { std::slice::from_raw_parts(envelope.recipients, count) }
    };
    let recipients = pointers
        .iter()
        // SAFETY: each entry is a NUL-terminated string per the contract.
        .map(|&p| unsafe { utf8(p, "envelope recipient") }.map(str::to_string))
        .collect::<Result<Vec<_>>>()?;
    Ok(Envelope {
        // SAFETY: as above.
        from: unsafe { utf8(envelope.from, "envelope sender") }?.to_string(),
        recipients,
        dialog: envelope.flags & abi::ENVELOPE_DIALOG != 0,
        modeless: envelope.flags & abi::ENVELOPE_MODELESS != 0,
    })
}

unsafe extern "C" fn create<P: Plugin>(
    options_toml: *const c_char,
    len: usize,
    error: *mut c_char,
    error_len: usize,
) -> *mut c_void {
    let result = guard(|| {
        let bytes: &[u8] = if options_toml.is_null() || len == 0 {
            &[]
        } else {
            // SAFETY: the host passes `len` readable bytes at `options_toml`.
            unsafe { std::slice::from_raw_parts(options_toml.cast::<u8>(), len) }
        };
        let text = std::str::from_utf8(bytes)
            .map_err(|e| MapiError::failure(format!("options are not UTF-8: {e}")))?;
        let options: toml::Table = text
            .parse()
            .map_err(|e| MapiError::failure(format!("options are not TOML: {e}")))?;
        P::create(&options).map_err(MapiError::failure)
    });
    match result {
        Ok(backend) => Box::into_raw(Box::new(backend)).cast(),
        Err(e) => {
            // SAFETY: the host passes `error_len` writable bytes at `error` (or NULL).
            unsafe { write_c_string(error, error_len, e.detail()) };
            std::ptr::null_mut()
        }
    }
}

unsafe extern "C" fn destroy<P: Plugin>(state: *mut c_void) {
    if state.is_null() {
        return;
    }
    // A panicking Drop must not unwind into the host; the backend is gone either way.
    let _ = guard(|| {
        // SAFETY: `state` came from `create::<P>` (Box::into_raw) and the host destroys it
        // once, after every other call on it has returned.
        drop(unsafe { Box::from_raw(state.cast::<P::Backend>()) });
        Ok(())
    });
}

unsafe extern "C" fn capabilities(_state: *mut c_void) -> u32 {
    // `Backend::resolve` has a default, so every Rust backend can answer; one that does not
    // resolve returns MAPI_E_NOT_SUPPORTED, which sends the host to its address book.
    abi::CAP_SEND | abi::CAP_RESOLVE
}

unsafe extern "C" fn send<P: Plugin>(
    state: *mut c_void,
    envelope: *const EnvelopeV1,
    message: *const u8,
    message_len: usize,
    error: *mut c_char,
    error_len: usize,
) -> u32 {
    let result = guard(|| {
        // SAFETY: `state` is the host's live state (ABI contract).
        let backend = unsafe { backend::<P>(state) }?;
        // SAFETY: the host passes a valid envelope.
        let envelope = unsafe { read_envelope(envelope) }?;
        if message.is_null() {
            return Err(MapiError::failure("message is NULL"));
        }
        // SAFETY: non-NULL, and the host passes `message_len` readable bytes.
        let raw = unsafe { std::slice::from_raw_parts(message, message_len) };
        let message = message_from_rfc5322(raw, &envelope)?;
        backend.send(&message).map(drop)
    });
    // SAFETY: the host passes `error_len` writable bytes at `error` (or NULL).
    unsafe { finish(result, error, error_len) }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn resolve<P: Plugin>(
    state: *mut c_void,
    name_utf8: *const c_char,
    display_out: *mut c_char,
    display_len: usize,
    address_out: *mut c_char,
    address_len: usize,
    error: *mut c_char,
    error_len: usize,
) -> u32 {
    let result = guard(|| {
        // SAFETY: `state` is the host's live state (ABI contract).
        let backend = unsafe { backend::<P>(state) }?;
        // SAFETY: the host passes a NUL-terminated name.
        let name = unsafe { utf8(name_utf8, "name") }?;
        let mailbox = match backend.resolve(0, name) {
            Some(found) => found?,
            None => {
                return Err(MapiError::new(
                    MapiCode::NotSupported,
                    "not resolved by this plugin",
                ));
            }
        };
        let display = mailbox.name.as_deref().unwrap_or("");
        // SAFETY: the host passes buffers of the given sizes.
        let fits = unsafe {
            write_c_string(display_out, display_len, display)
                && write_c_string(address_out, address_len, &mailbox.address)
        };
        if !fits {
            return Err(MapiError::failure(format!(
                "resolved mailbox does not fit the host's buffers: {display} <{}>",
                mailbox.address
            )));
        }
        Ok(())
    });
    // SAFETY: the host passes `error_len` writable bytes at `error` (or NULL).
    unsafe { finish(result, error, error_len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_strings_are_cut_at_character_boundaries() {
        let mut buf = [0x55 as c_char; 5];
        // SAFETY: `buf` has 5 writable bytes.
        assert!(!unsafe { write_c_string(buf.as_mut_ptr(), buf.len(), "aé€") });
        // SAFETY: the function NUL-terminated it.
        assert_eq!(
            unsafe { CStr::from_ptr(buf.as_ptr()) }.to_bytes(),
            "aé".as_bytes()
        );
        // SAFETY: as above.
        assert!(unsafe { write_c_string(buf.as_mut_ptr(), buf.len(), "abcd") });
        // SAFETY: a NULL buffer is allowed.
        assert!(!unsafe { write_c_string(std::ptr::null_mut(), 0, "x") });
    }

    #[test]
    fn names_are_checked_at_compile_time() {
        assert_eq!(plugin_name("archive\0").to_str(), Ok("archive"));
    }
}
