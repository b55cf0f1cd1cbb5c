//! The implementations behind the generated exports. Each one checks its pointers, copies
//! its input, asks the engine, and writes out-parameters only on success.
#![allow(non_snake_case)]

use crate::abi::*;
use crate::buffers::{self, BlockWriter};
use crate::convert;
use mapishim_abi as abi;
use mapishim_core::compose::entry_id;
use mapishim_core::{LogonRequest, Mailbox, MapiError, Result, SendRequest};
use mapishim_engine::Engine;
use std::ffi::c_char;

/// Turns a result into the caller's code, logging failures with the SDK name.
fn code(function: &str, result: Result<()>) -> ULONG {
    match result {
        Ok(()) => abi::SUCCESS_SUCCESS,
        Err(e) => {
            tracing::info!(function, code = e.code(), "{e}");
            e.code()
        }
    }
}

fn null(what: &str) -> MapiError {
    MapiError::failure(format!("{what} is NULL"))
}

/// # Safety
/// Pointers as in the Simple MAPI contract; each is checked for NULL before use.
pub(crate) unsafe fn logon(
    ulUIParam: ULONG_PTR,
    lpszProfileName: LPSTR,
    lpszPassword: LPSTR,
    flFlags: FLAGS,
    _ulReserved: ULONG,
    lplhSession: LPLHANDLE,
) -> ULONG {
    // Profiles and passwords mean nothing to our own backends; `forward` passes them on.
    let result = (|| {
        if lplhSession.is_null() {
            return Err(null("lplhSession"));
        }
        // SAFETY: NULL or terminated, per the contract.
        let request = unsafe {
            LogonRequest {
                ui_param: ulUIParam,
                profile: convert::narrow(lpszProfileName)?,
                password: convert::narrow(lpszPassword)?,
                flags: flFlags,
            }
        };
        let handle = Engine::global().logon(&request)?;
        // SAFETY: non-NULL, and the caller provides room for one handle.
        unsafe { lplhSession.write_unaligned(handle) };
        Ok(())
    })();
    code("MAPILogon", result)
}

/// # Safety
/// No pointers are read.
pub(crate) unsafe fn logoff(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
) -> ULONG {
    code("MAPILogoff", Engine::global().logoff(lhSession))
}

/// The shared body of `MAPISendMail` and `MAPISendMailW`: the session is checked first,
/// then the message is copied by `read` (`None` for a NULL message) and sent.
fn send(
    function: &str,
    session: LHANDLE,
    read: impl FnOnce() -> Result<Option<SendRequest>>,
) -> ULONG {
    let result = (|| {
        // The session is checked before the message is read; its runtime then sends.
        let runtime = Engine::global().session(session)?;
        let request = read()?
            .ok_or_else(|| MapiError::new(abi::MAPI_E_INVALID_MESSAGE, "lpMessage is NULL"))?;
        runtime.send_for(session, &request).map(drop)
    })();
    code(function, result)
}

/// # Safety
/// `lpMessage` is NULL or a readable message (see `convert`).
pub(crate) unsafe fn send_mail(
    lhSession: LHANDLE,
    ulUIParam: ULONG_PTR,
    lpMessage: lpMapiMessage,
    flFlags: FLAGS,
    _ulReserved: ULONG,
) -> ULONG {
    send("MAPISendMail", lhSession, || {
        // SAFETY: `as_ref` checks NULL; the caller's contract covers the rest.
        unsafe {
            lpMessage
                .as_ref()
                .map(|m| convert::ansi::message(m, flFlags, ulUIParam))
                .transpose()
        }
    })
}

/// # Safety
/// `lpMessage` is NULL or a readable UTF-16 message.
pub(crate) unsafe fn send_mail_w(
    lhSession: LHANDLE,
    ulUIParam: ULONG_PTR,
    lpMessage: lpMapiMessageW,
    flFlags: FLAGS,
    _ulReserved: ULONG,
) -> ULONG {
    send("MAPISendMailW", lhSession, || {
        // SAFETY: `as_ref` checks NULL; the caller's contract covers the rest.
        unsafe {
            lpMessage
                .as_ref()
                .map(|m| convert::unicode::message(m, flFlags, ulUIParam))
                .transpose()
        }
    })
}

/// # Safety
/// Each string is NULL or terminated.
pub(crate) unsafe fn send_documents(
    _ulUIParam: ULONG_PTR,
    lpszDelimChar: LPSTR,
    lpszFilePaths: LPSTR,
    lpszFileNames: LPSTR,
    _ulReserved: ULONG,
) -> ULONG {
    let result = (|| {
        // SAFETY: NULL or terminated, per the contract.
        let (delimiter, paths, names) = unsafe {
            (
                convert::narrow(lpszDelimChar)?,
                convert::narrow(lpszFilePaths)?,
                convert::narrow(lpszFileNames)?,
            )
        };
        let request = convert::documents(delimiter, paths, names);
        Engine::global().session(0)?.send_for(0, &request).map(drop)
    })();
    code("MAPISendDocuments", result)
}

/// Lays out one `MapiRecipDesc` with its strings and entry ID in a single freeable block.
fn recipient_block(
    mailbox: &Mailbox,
    class: ULONG,
    encode: impl Fn(&str) -> Vec<u8>,
) -> *mut MapiRecipDesc {
    let name = encode(mailbox.display());
    let address = format!("SMTP:{}", mailbox.address).into_bytes();
    let id = entry_id(mailbox);
    let size = std::mem::size_of::<MapiRecipDesc>() + name.len() + address.len() + id.len() + 2;
    let mut block = BlockWriter::new(size);
    let desc = block.reserve::<MapiRecipDesc>();
    let recip = MapiRecipDesc {
        ulReserved: 0,
        ulRecipClass: class,
        lpszName: block.put(&name, true).cast::<c_char>(),
        lpszAddress: block.put(&address, true).cast::<c_char>(),
        ulEIDSize: id.len() as ULONG,
        lpEntryID: block.put(&id, false).cast(),
    };
    // SAFETY: `desc` is aligned room for one MapiRecipDesc inside the block.
    unsafe { desc.write(recip) };
    block.finish().cast()
}

/// # Safety
/// `lpszName` is NULL or terminated; `lppRecip` is NULL or writable.
pub(crate) unsafe fn resolve_name(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpszName: LPSTR,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
    lppRecip: *mut lpMapiRecipDesc,
) -> ULONG {
    let result = (|| {
        let runtime = Engine::global().session(lhSession)?;
        if lppRecip.is_null() {
            return Err(null("lppRecip"));
        }
        // SAFETY: NULL or terminated, per the contract.
        let name = unsafe { convert::narrow(lpszName) }?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| MapiError::new(abi::MAPI_E_UNKNOWN_RECIPIENT, "empty name"))?;
        let mailbox = runtime.resolve_for(lhSession, &name, false)?;
        let decoder = runtime.settings.decoder;
        let block = recipient_block(&mailbox, abi::MAPI_TO, |s| decoder.encode_ansi(s));
        // SAFETY: non-NULL (checked) and writable per the contract; written only on success.
        unsafe { lppRecip.write_unaligned(block) };
        Ok(())
    })();
    code("MAPIResolveName", result)
}

/// # Safety
/// `pv` is never dereferenced: only looked up among our blocks.
pub(crate) unsafe fn free_buffer(pv: LPVOID) -> ULONG {
    if pv.is_null() || buffers::release(pv as usize) {
        return abi::SUCCESS_SUCCESS;
    }
    tracing::warn!(pointer = ?pv, "MAPIFreeBuffer: not a block from this library (foreign or already freed); ignored");
    abi::MAPI_E_FAILURE
}

fn not_supported(function: &str) -> Result<()> {
    Err(MapiError::new(
        abi::MAPI_E_NOT_SUPPORTED,
        format!("{function} is not supported yet"),
    ))
}

/// # Safety
/// Only NULL checks are made; nothing is read.
pub(crate) unsafe fn find_next(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    _lpszMessageType: LPSTR,
    _lpszSeedMessageID: LPSTR,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
    lpszMessageID: LPSTR,
) -> ULONG {
    let result = (|| {
        Engine::global().explicit_session(lhSession)?;
        if lpszMessageID.is_null() {
            return Err(null("lpszMessageID"));
        }
        not_supported("MAPIFindNext")
    })();
    code("MAPIFindNext", result)
}

/// # Safety
/// Only NULL checks are made; nothing is read.
pub(crate) unsafe fn read_mail(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpszMessageID: LPSTR,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
    lppMessage: *mut lpMapiMessage,
) -> ULONG {
    let result = (|| {
        Engine::global().explicit_session(lhSession)?;
        if lpszMessageID.is_null() {
            return Err(MapiError::new(
                abi::MAPI_E_INVALID_MESSAGE,
                "lpszMessageID is NULL",
            ));
        }
        if lppMessage.is_null() {
            return Err(null("lppMessage"));
        }
        not_supported("MAPIReadMail")
    })();
    code("MAPIReadMail", result)
}

/// # Safety
/// Only NULL checks are made; nothing is read.
pub(crate) unsafe fn save_mail(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpMessage: lpMapiMessage,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
    lpszMessageID: LPSTR,
) -> ULONG {
    let result = (|| {
        Engine::global().explicit_session(lhSession)?;
        if lpMessage.is_null() {
            return Err(MapiError::new(
                abi::MAPI_E_INVALID_MESSAGE,
                "lpMessage is NULL",
            ));
        }
        if lpszMessageID.is_null() {
            return Err(null("lpszMessageID"));
        }
        not_supported("MAPISaveMail")
    })();
    code("MAPISaveMail", result)
}

/// # Safety
/// Only NULL checks are made; nothing is read.
pub(crate) unsafe fn delete_mail(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpszMessageID: LPSTR,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
) -> ULONG {
    let result = (|| {
        Engine::global().explicit_session(lhSession)?;
        if lpszMessageID.is_null() {
            return Err(MapiError::new(
                abi::MAPI_E_INVALID_MESSAGE,
                "lpszMessageID is NULL",
            ));
        }
        not_supported("MAPIDeleteMail")
    })();
    code("MAPIDeleteMail", result)
}

/// # Safety
/// Only NULL checks and counts are examined; nothing is read.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn address(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    _lpszCaption: LPSTR,
    nEditFields: ULONG,
    _lpszLabels: LPSTR,
    nRecips: ULONG,
    lpRecips: lpMapiRecipDesc,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
    lpnNewRecips: LPULONG,
    lppNewRecips: *mut lpMapiRecipDesc,
) -> ULONG {
    let result = (|| {
        Engine::global().session(lhSession)?;
        if nEditFields > 4 {
            return Err(MapiError::new(
                abi::MAPI_E_INVALID_EDITFIELDS,
                format!("nEditFields {nEditFields} (0 to 4)"),
            ));
        }
        if nRecips > 0 && lpRecips.is_null() {
            return Err(MapiError::new(
                abi::MAPI_E_INVALID_RECIPS,
                "nRecips > 0 with NULL lpRecips",
            ));
        }
        if lpnNewRecips.is_null() || lppNewRecips.is_null() {
            return Err(null("lpnNewRecips or lppNewRecips"));
        }
        not_supported("MAPIAddress")
    })();
    code("MAPIAddress", result)
}

/// # Safety
/// Only NULL checks are made; nothing is read.
pub(crate) unsafe fn details(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpRecip: lpMapiRecipDesc,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
) -> ULONG {
    let result = (|| {
        Engine::global().session(lhSession)?;
        if lpRecip.is_null() {
            return Err(MapiError::new(
                abi::MAPI_E_INVALID_RECIPS,
                "lpRecip is NULL",
            ));
        }
        not_supported("MAPIDetails")
    })();
    code("MAPIDetails", result)
}
