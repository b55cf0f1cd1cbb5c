//! The forward backend: another Simple MAPI provider (`olmapi32.dll`, `mozMapi32.dll`, a
//! `.so`), loaded at run time, gets every call as the caller made it: the request with its
//! flags and `ulUIParam`, unresolved recipients, attachment paths, and logon sessions mapped
//! to the provider's own handles. See docs/forward.md.
//!
//! The only crate besides `mapi32` with `unsafe`: it calls foreign code through raw pointers.
#![deny(unsafe_op_in_unsafe_fn)]

mod identity;
mod message;
mod provider;

/// Generated from the ABI table: SDK types, `#[repr(C)]` structures, `LPMAPI…` pointer types.
#[allow(
    non_snake_case,
    non_camel_case_types,
    dead_code,
    clippy::upper_case_acronyms
)]
mod ffi {
    include!(concat!(env!("OUT_DIR"), "/types.rs"));
}

use ffi::*;
use mapishim_abi as abi;
use mapishim_core::address::{Typed, split_type, validate};
use mapishim_core::config::ForwardSettings;
use mapishim_core::text::{TextDecoder, single_line};
use mapishim_core::{
    Backend, Delivery, LogonRequest, Mailbox, MapiCode, MapiError, Message, RawText, Result,
    SendRequest,
};
use provider::Provider;
use std::collections::HashMap;
use std::ffi::c_char;
use std::sync::{Mutex, MutexGuard};

pub use identity::MARKER;

pub struct ForwardBackend {
    provider: Provider,
    decoder: TextDecoder,
    /// Our session handle → the handle the provider's `MAPILogon` gave us.
    sessions: Mutex<HashMap<usize, LHANDLE>>,
}

impl ForwardBackend {
    pub fn load(
        settings: &ForwardSettings,
        decoder: TextDecoder,
    ) -> std::result::Result<Self, String> {
        let provider = Provider::load(&settings.library).map_err(|e| format!("forward: {e}"))?;
        tracing::info!(
            provider = %provider.path.display(),
            unicode = provider.send_mail_w.is_some(),
            resolve = provider.resolve_name.is_some(),
            "forward provider loaded"
        );
        Ok(ForwardBackend {
            provider,
            decoder,
            sessions: Mutex::default(),
        })
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<usize, LHANDLE>> {
        // A panic elsewhere must not strand the sessions of the rest of the process.
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The provider's handle for our session; the shared session 0 stays 0.
    fn provider_session(&self, session: usize) -> Result<LHANDLE> {
        if session == 0 {
            return Ok(0);
        }
        self.sessions().get(&session).copied().ok_or_else(|| {
            MapiError::new(
                MapiCode::InvalidSession,
                format!("forward: session {session:#x} has no provider session"),
            )
        })
    }

    /// The caller's error for a provider's non-zero code; a value outside the SDK's
    /// return codes becomes `MAPI_E_FAILURE`.
    fn refused(&self, function: &str, code: ULONG) -> MapiError {
        MapiError::new(
            MapiCode::from_u32(code).unwrap_or(MapiCode::Failure),
            format!(
                "forward: {function} of {} returned {code}",
                self.provider.path.display()
            ),
        )
    }

    /// A narrow, NUL-terminated copy for the provider's ANSI-only entry points.
    fn ansi(&self, text: &Option<RawText>) -> Option<Vec<u8>> {
        let mut bytes = match text.as_ref()? {
            RawText::Narrow(bytes) => bytes.clone(),
            wide => self
                .decoder
                .encode_ansi(&self.decoder.decode(wide, false).text),
        };
        bytes.push(0);
        Some(bytes)
    }

    fn send(&self, session: usize, request: &SendRequest) -> Result<Delivery> {
        let handle = self.provider_session(session)?;
        let (function, code) = match self.provider.send_mail_w {
            Some(send_mail_w) => {
                let mut built = message::wide(request, &self.decoder);
                // SAFETY: the message and everything it points to live in `built` until the
                // call returns; the function type comes from the ABI table.
                let code = provider::guarded("MAPISendMailW", || unsafe {
                    send_mail_w(
                        handle,
                        request.ui_param,
                        &mut built.message,
                        request.flags,
                        0,
                    )
                })?;
                ("MAPISendMailW", code)
            }
            None if request.flags & abi::MAPI_FORCE_UNICODE != 0 => {
                return Err(MapiError::new(
                    MapiCode::UnicodeNotSupported,
                    format!(
                        "forward: {} has no MAPISendMailW and the caller set MAPI_FORCE_UNICODE",
                        self.provider.path.display()
                    ),
                ));
            }
            None => {
                let (mut built, utf8) = message::narrow(request, &self.decoder);
                if utf8 {
                    tracing::info!(
                        "forward: text outside the ANSI code page {}; sent to MAPISendMail as UTF-8 (CP_UTF8)",
                        self.decoder.ansi_name()
                    );
                }
                // SAFETY: as above.
                let code = provider::guarded("MAPISendMail", || unsafe {
                    (self.provider.send_mail)(
                        handle,
                        request.ui_param,
                        &mut built.message,
                        request.flags,
                        0,
                    )
                })?;
                ("MAPISendMail", code)
            }
        };
        match code {
            abi::SUCCESS_SUCCESS if request.dialog => Ok(Delivery::Opened),
            abi::SUCCESS_SUCCESS => Ok(Delivery::Sent),
            code => Err(self.refused(function, code)),
        }
    }

    fn resolve_name(
        &self,
        (resolve_name, free_buffer): (LPMAPIRESOLVENAME, LPMAPIFREEBUFFER),
        session: usize,
        name: &str,
    ) -> Result<Mailbox> {
        let handle = self.provider_session(session)?;
        let mut text = self.decoder.encode_ansi(name);
        text.push(0);
        let mut out: lpMapiRecipDesc = std::ptr::null_mut();
        // SAFETY: `text` is terminated and lives across the call; `out` is room for one
        // pointer. The provider owns what it writes there until MAPIFreeBuffer.
        let code = provider::guarded("MAPIResolveName", || unsafe {
            resolve_name(handle, 0, text.as_mut_ptr().cast(), 0, 0, &mut out)
        })?;
        if code != abi::SUCCESS_SUCCESS {
            // Nothing is written on error (the contract), so nothing is freed.
            return Err(self.refused("MAPIResolveName", code));
        }
        if out.is_null() {
            return Err(MapiError::failure(
                "forward: MAPIResolveName succeeded without a recipient",
            ));
        }
        if !plausible(out) {
            // Not a block it allocated: handing it to MAPIFreeBuffer could corrupt its heap.
            return Err(MapiError::failure(format!(
                "forward: MAPIResolveName returned a recipient pointer {out:p}; not read or freed"
            )));
        }
        // SAFETY: `out` is the provider's plausible result; `read_recipient` checks its strings.
        let read = unsafe { read_recipient(out) };
        // SAFETY: `out` is the block the provider returned; it is freed once, by its owner.
        match provider::guarded("MAPIFreeBuffer", || unsafe { free_buffer(out.cast()) }) {
            Ok(abi::SUCCESS_SUCCESS) | Err(_) => {}
            Ok(freed) => tracing::warn!(code = freed, "forward: provider's MAPIFreeBuffer failed"),
        }
        let (name_bytes, address_bytes) = read.map_err(|why| {
            MapiError::failure(format!("forward: MAPIResolveName returned {why}"))
        })?;
        let decode = |bytes: Vec<u8>| self.decoder.decode(&RawText::Narrow(bytes), false).text;
        let display = name_bytes
            .map(decode)
            .map(|n| single_line(&n))
            .filter(|n| !n.is_empty());
        let address = address_bytes
            .map(decode)
            .filter(|a| !a.trim().is_empty())
            .or_else(|| display.clone())
            .unwrap_or_default();
        let bare = match split_type(&address) {
            Typed::Smtp(a) | Typed::Untyped(a) => a.to_string(),
            Typed::Other { kind, .. } => {
                return Err(MapiError::new(
                    MapiCode::UnknownRecipient,
                    format!("forward: {name:?} resolved to a {kind}: address, not SMTP"),
                ));
            }
        };
        validate(&bare).map_err(|why| {
            MapiError::new(
                MapiCode::UnknownRecipient,
                format!("forward: {name:?} resolved to {bare:?}: {why}"),
            )
        })?;
        Ok(Mailbox {
            name: display.filter(|n| *n != bare),
            address: bare,
        })
    }
}

/// Lowest address a real pointer can have: Windows and Linux keep the first 64 KiB unmapped,
/// so smaller values are small integers mistaken for pointers.
const MIN_ADDRESS: usize = 0x1_0000;
/// Longest name or address read from the provider; longer means no terminator.
const MAX_STRING: usize = 64 * 1024;

fn plausible<T>(ptr: *const T) -> bool {
    ptr as usize >= MIN_ADDRESS && ptr.is_aligned()
}

/// Copies a provider string: NULL is `None`; implausible or unterminated is an error.
///
/// # Safety
/// `ptr` is NULL or points to memory the provider handed out.
unsafe fn provider_string(ptr: *const c_char) -> std::result::Result<Option<Vec<u8>>, String> {
    if ptr.is_null() {
        return Ok(None);
    }
    if !plausible(ptr) {
        return Err(format!("a string pointer {ptr:p}"));
    }
    let mut bytes = Vec::new();
    for i in 0..MAX_STRING {
        // SAFETY: the provider's string, read byte by byte up to its terminator or the limit.
        let byte = unsafe { ptr.add(i).read() } as u8;
        if byte == 0 {
            return Ok(Some(bytes));
        }
        bytes.push(byte);
    }
    Err(format!("a string without terminator in {MAX_STRING} bytes"))
}

type NameAndAddress = (Option<Vec<u8>>, Option<Vec<u8>>);

/// # Safety
/// `recipient` is non-NULL and came from the provider's `MAPIResolveName`.
unsafe fn read_recipient(
    recipient: lpMapiRecipDesc,
) -> std::result::Result<NameAndAddress, String> {
    if !plausible(recipient) {
        return Err(format!("a recipient pointer {recipient:p}"));
    }
    // SAFETY: plausible and aligned; the provider promised one MapiRecipDesc there.
    let desc = unsafe { recipient.read() };
    // SAFETY: the provider's strings inside its block; checked before reading.
    unsafe {
        Ok((
            provider_string(desc.lpszName)?,
            provider_string(desc.lpszAddress)?,
        ))
    }
}

impl Backend for ForwardBackend {
    fn name(&self) -> &'static str {
        "forward"
    }

    /// Not reached: the engine hands forward the request itself ([`Backend::send_request`]).
    /// A resolved message has lost what the provider needs (attachment paths, its own
    /// recipient resolution), so it is refused rather than passed on half.
    fn send(&self, _message: &Message) -> Result<Delivery> {
        Err(MapiError::new(
            MapiCode::NotSupported,
            "forward passes requests through unresolved; a resolved message cannot be forwarded",
        ))
    }

    fn send_request(&self, session: usize, request: &SendRequest) -> Option<Result<Delivery>> {
        Some(self.send(session, request))
    }

    fn resolve(&self, session: usize, name: &str) -> Option<Result<Mailbox>> {
        let functions = self.provider.resolve_name?;
        Some(self.resolve_name(functions, session, name))
    }

    fn logon(&self, session: usize, request: &LogonRequest) -> Result<()> {
        let mut profile = self.ansi(&request.profile);
        let mut password = self.ansi(&request.password);
        let ptr = |s: &mut Option<Vec<u8>>| {
            s.as_mut()
                .map_or(std::ptr::null_mut(), |b| b.as_mut_ptr().cast::<c_char>())
        };
        let mut handle: LHANDLE = 0;
        // SAFETY: the strings are terminated (or NULL) and live across the call; `handle` is
        // room for the provider's session handle.
        let code = provider::guarded("MAPILogon", || unsafe {
            (self.provider.logon)(
                request.ui_param,
                ptr(&mut profile),
                ptr(&mut password),
                request.flags,
                0,
                &mut handle,
            )
        })?;
        if code != abi::SUCCESS_SUCCESS {
            return Err(self.refused("MAPILogon", code));
        }
        tracing::info!(session, provider_session = handle, "forward: logon");
        self.sessions().insert(session, handle);
        Ok(())
    }

    fn logoff(&self, session: usize) {
        let Some(handle) = self.sessions().remove(&session) else {
            return;
        };
        // SAFETY: a handle the provider's MAPILogon issued, logged off once.
        let Ok(code) = provider::guarded("MAPILogoff", || unsafe {
            (self.provider.logoff)(handle, 0, 0, 0)
        }) else {
            return;
        };
        if code != abi::SUCCESS_SUCCESS {
            tracing::warn!(
                session,
                provider_session = handle,
                code,
                "forward: provider's MAPILogoff failed"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_strings_are_checked_before_reading() {
        // SAFETY: NULL and small values are refused without being read.
        unsafe {
            assert_eq!(provider_string(std::ptr::null()), Ok(None));
            assert!(provider_string(0x10 as *const c_char).is_err());
            assert!(read_recipient(0x20 as lpMapiRecipDesc).is_err());
        }
        let text = b"SMTP:a@b.org\0";
        // SAFETY: a terminated string.
        let read = unsafe { provider_string(text.as_ptr().cast()) };
        assert_eq!(read, Ok(Some(b"SMTP:a@b.org".to_vec())));
        let unterminated = vec![b'x'; MAX_STRING + 1];
        // SAFETY: readable for MAX_STRING + 1 bytes, which is past the limit.
        assert!(unsafe { provider_string(unterminated.as_ptr().cast()) }.is_err());
    }

    #[test]
    fn a_missing_or_foreign_library_is_a_configuration_error() {
        let decoder = TextDecoder::default();
        let missing = ForwardSettings {
            library: "/nonexistent/provider.so".into(),
        };
        let err = ForwardBackend::load(&missing, decoder).err().unwrap();
        assert!(
            err.starts_with("forward: cannot read the provider"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("renamed-provider.so");
        std::fs::write(
            &copy,
            std::fs::read(std::env::current_exe().unwrap()).unwrap(),
        )
        .unwrap();
        let err = ForwardBackend::load(&ForwardSettings { library: copy }, decoder)
            .err()
            .unwrap();
        assert!(err.contains("it is mapishim itself"), "{err}");
    }
}
