//! The implementations behind the generated exports. Each one checks its pointers, copies
//! its input, asks the engine, and writes out-parameters only on success.
#![allow(non_snake_case)]

use crate::abi::*;
use crate::buffers::{self, BlockWriter};
use crate::convert;
use mapishim_abi as abi;
use mapishim_core::compose::entry_id;
use mapishim_core::text::TextDecoder;
use mapishim_core::{LogonRequest, Mailbox, MapiCode, MapiError, RawText, Result, SendRequest};
use mapishim_engine::Engine;
use mapishim_mailbox::{ReadMessage, ReadRecipient};
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
        let request =
            read()?.ok_or_else(|| MapiError::new(MapiCode::InvalidMessage, "lpMessage is NULL"))?;
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

/// One recipient's strings and entry ID, encoded, before they are laid out in a block.
struct RecipParts {
    class: ULONG,
    name: Vec<u8>,
    address: Vec<u8>,
    entry_id: Vec<u8>,
}

impl RecipParts {
    fn new(class: ULONG, mailbox: &Mailbox, encode: &impl Fn(&str) -> Vec<u8>) -> Self {
        RecipParts {
            class,
            name: encode(mailbox.display()),
            address: format!("SMTP:{}", mailbox.address).into_bytes(),
            entry_id: entry_id(mailbox),
        }
    }

    /// Bytes its strings and entry ID take in a block.
    fn data_len(&self) -> usize {
        self.name.len() + self.address.len() + self.entry_id.len() + 2
    }

    /// Copies the strings and entry ID into `block`; returns the descriptor pointing there.
    fn write(&self, block: &mut BlockWriter) -> MapiRecipDesc {
        MapiRecipDesc {
            ulReserved: 0,
            ulRecipClass: self.class,
            lpszName: block.put(&self.name, true).cast::<c_char>(),
            lpszAddress: block.put(&self.address, true).cast::<c_char>(),
            ulEIDSize: self.entry_id.len() as ULONG,
            lpEntryID: block.put(&self.entry_id, false).cast(),
        }
    }
}

/// Lays out recipients as one array block (one `MapiRecipDesc` for `MAPIResolveName`),
/// strings and entry IDs included, freed with one `MAPIFreeBuffer`.
fn recipients_block(
    recipients: &[(ULONG, Mailbox)],
    encode: impl Fn(&str) -> Vec<u8>,
) -> *mut MapiRecipDesc {
    let parts: Vec<RecipParts> = recipients
        .iter()
        .map(|(class, m)| RecipParts::new(*class, m, &encode))
        .collect();
    let size = parts.len().max(1) * std::mem::size_of::<MapiRecipDesc>()
        + 8
        + parts.iter().map(RecipParts::data_len).sum::<usize>();
    let mut block = BlockWriter::new(size);
    let array = block.reserve_array::<MapiRecipDesc>(parts.len().max(1));
    for (i, part) in parts.iter().enumerate() {
        let desc = part.write(&mut block);
        // SAFETY: the array has room for parts.len() descriptors; i is in range.
        unsafe { array.add(i).write(desc) };
    }
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
            .ok_or_else(|| MapiError::new(MapiCode::UnknownRecipient, "empty name"))?;
        let mailbox = runtime.resolve_for(lhSession, &name, false)?;
        let decoder = runtime.settings.decoder;
        let block = recipients_block(&[(abi::MAPI_TO, mailbox)], |s| decoder.encode_ansi(s));
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

/// A message ID argument: IDs are ASCII (see docs/mailbox.md), so anything else is unknown.
///
/// # Safety
/// `p` is NULL or terminated.
unsafe fn message_id(p: LPSTR, what: &str) -> Result<Option<String>> {
    // SAFETY: NULL or terminated, per the contract.
    match unsafe { convert::narrow(p) }? {
        None => Ok(None),
        Some(RawText::Narrow(bytes)) if bytes.is_empty() => Ok(None),
        Some(RawText::Narrow(bytes)) if bytes.is_ascii() && bytes.len() <= LONG_ID_BYTES => {
            Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
        }
        Some(_) => Err(MapiError::new(
            MapiCode::InvalidMessage,
            format!("{what} is not a message ID of this mailbox"),
        )),
    }
}

/// The room the SDK tells callers to give a message ID, terminator included.
const ID_BYTES: usize = 64;
const LONG_ID_BYTES: usize = 512;

/// Writes `id` and its terminator into the caller's buffer, if it fits the documented size.
///
/// # Safety
/// `out` is non-NULL and has room for 64 bytes, or 512 with `MAPI_LONG_MSGID`.
unsafe fn write_id(out: LPSTR, id: &str, flags: FLAGS) -> Result<()> {
    let room = if flags & abi::MAPI_LONG_MSGID != 0 {
        LONG_ID_BYTES
    } else {
        ID_BYTES
    };
    if id.len() + 1 > room {
        return Err(MapiError::failure(format!(
            "message ID {id} does not fit {room} bytes"
        )));
    }
    // SAFETY: non-NULL and `room` bytes long per the contract; id.len() + 1 <= room.
    unsafe {
        std::ptr::copy_nonoverlapping(id.as_ptr(), out.cast::<u8>(), id.len());
        out.add(id.len()).write(0);
    }
    Ok(())
}

/// # Safety
/// Strings are NULL or terminated; `lpszMessageID` is NULL or 64 (512) writable bytes.
pub(crate) unsafe fn find_next(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpszMessageType: LPSTR,
    lpszSeedMessageID: LPSTR,
    flFlags: FLAGS,
    _ulReserved: ULONG,
    lpszMessageID: LPSTR,
) -> ULONG {
    let result = (|| {
        let runtime = Engine::global().explicit_session(lhSession)?;
        if lpszMessageID.is_null() {
            return Err(null("lpszMessageID"));
        }
        // SAFETY: NULL or terminated, per the contract.
        let message_type = unsafe { convert::narrow(lpszMessageType) }?
            .map(|t| runtime.settings.decoder.decode(&t, false).text);
        // SAFETY: as above.
        let seed = unsafe { message_id(lpszSeedMessageID, "lpszSeedMessageID") }?;
        let id = runtime.find_next(message_type.as_deref(), seed.as_deref(), flFlags)?;
        // SAFETY: non-NULL (checked), sized per the contract; written only on success.
        unsafe { write_id(lpszMessageID, &id, flFlags) }
    })();
    code("MAPIFindNext", result)
}

/// Lays out a read message as one `MapiMessage` block: the structure, the originator, the
/// recipient and file arrays, then every string.
fn message_block(message: &ReadMessage, decoder: TextDecoder) -> *mut MapiMessage {
    let text = |s: &str| decoder.encode_ansi(s);
    let path = |p: &std::path::Path| -> Vec<u8> {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            p.as_os_str().as_bytes().to_vec()
        }
        #[cfg(not(unix))]
        decoder.encode_ansi(&p.to_string_lossy())
    };
    // Read recipients keep the store's display name, which may be empty.
    let recip = |r: &ReadRecipient| {
        let bare = r.address.strip_prefix("SMTP:").unwrap_or(&r.address);
        let mailbox = Mailbox {
            name: Some(r.name.clone()).filter(|n| !n.is_empty()),
            address: bare.to_string(),
        };
        RecipParts {
            class: r.class,
            name: text(&r.name),
            address: text(&r.address),
            entry_id: entry_id(&mailbox),
        }
    };
    let originator = message.originator.as_ref().map(recip);
    let recipients: Vec<RecipParts> = message.recipients.iter().map(recip).collect();
    let files: Vec<(Vec<u8>, Vec<u8>)> = message
        .attachments
        .iter()
        .map(|a| (path(&a.path), text(&a.file_name)))
        .collect();
    let subject = text(&message.subject);
    let note = message.note_text.as_deref().map(text);
    let date = message.date_received.as_deref().map(text);
    let conversation = message.conversation_id.as_deref().map(text);

    let size = std::mem::size_of::<MapiMessage>()
        + (1 + recipients.len()) * std::mem::size_of::<MapiRecipDesc>()
        + files.len() * std::mem::size_of::<MapiFileDesc>()
        + 4 * 8 // alignment between the parts
        + subject.len() + 1
        + note.as_ref().map_or(0, |n| n.len() + 1)
        + date.as_ref().map_or(0, |d| d.len() + 1)
        + conversation.as_ref().map_or(0, |c| c.len() + 1)
        + originator.iter().chain(&recipients).map(RecipParts::data_len).sum::<usize>()
        + files.iter().map(|(p, n)| p.len() + n.len() + 2).sum::<usize>();
    let mut block = BlockWriter::new(size);
    let head = block.reserve::<MapiMessage>();
    let origin_desc = originator
        .as_ref()
        .map_or(std::ptr::null_mut(), |_| block.reserve::<MapiRecipDesc>());
    let recip_array = block.reserve_array::<MapiRecipDesc>(recipients.len());
    let file_array = block.reserve_array::<MapiFileDesc>(files.len());
    let mut put_text = |bytes: &Option<Vec<u8>>| match bytes {
        Some(b) => block.put(b, true).cast::<c_char>(),
        None => std::ptr::null_mut(),
    };
    let lpszSubject = put_text(&Some(subject));
    let lpszNoteText = put_text(&note);
    let lpszDateReceived = put_text(&date);
    let lpszConversationID = put_text(&conversation);
    if let Some(o) = &originator {
        let d = o.write(&mut block);
        // SAFETY: `origin_desc` is aligned room for one MapiRecipDesc inside the block.
        unsafe { origin_desc.write(d) };
    }
    for (i, r) in recipients.iter().enumerate() {
        let d = r.write(&mut block);
        // SAFETY: `recip_array` has room for recipients.len() descriptors; i is in range.
        unsafe { recip_array.add(i).write(d) };
    }
    for (i, (path, name)) in files.iter().enumerate() {
        let d = MapiFileDesc {
            ulReserved: 0,
            flFlags: 0,
            nPosition: abi::NO_POSITION,
            lpszPathName: block.put(path, true).cast::<c_char>(),
            lpszFileName: block.put(name, true).cast::<c_char>(),
            lpFileType: std::ptr::null_mut(),
        };
        // SAFETY: `file_array` has room for files.len() descriptors; i is in range.
        unsafe { file_array.add(i).write(d) };
    }
    let m = MapiMessage {
        ulReserved: 0,
        lpszSubject,
        lpszNoteText,
        lpszMessageType: std::ptr::null_mut(),
        lpszDateReceived,
        lpszConversationID,
        flFlags: message.flags,
        lpOriginator: origin_desc,
        nRecipCount: recipients.len() as ULONG,
        lpRecips: recip_array,
        nFileCount: files.len() as ULONG,
        lpFiles: file_array,
    };
    // SAFETY: `head` is aligned room for the MapiMessage at the start of the block.
    unsafe { head.write(m) };
    block.finish().cast()
}

/// # Safety
/// `lpszMessageID` is NULL or terminated; `lppMessage` is NULL or writable.
pub(crate) unsafe fn read_mail(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpszMessageID: LPSTR,
    flFlags: FLAGS,
    _ulReserved: ULONG,
    lppMessage: *mut lpMapiMessage,
) -> ULONG {
    let result = (|| {
        let runtime = Engine::global().explicit_session(lhSession)?;
        // SAFETY: NULL or terminated, per the contract.
        let id = unsafe { message_id(lpszMessageID, "lpszMessageID") }?
            .ok_or_else(|| MapiError::new(MapiCode::InvalidMessage, "no message ID given"))?;
        if lppMessage.is_null() {
            return Err(null("lppMessage"));
        }
        let message = runtime.read_mail(&id, flFlags)?;
        let block = message_block(&message, runtime.settings.decoder);
        // SAFETY: non-NULL (checked) and writable per the contract; written only on success.
        unsafe { lppMessage.write_unaligned(block) };
        Ok(())
    })();
    code("MAPIReadMail", result)
}

/// # Safety
/// `lpMessage` is NULL or a readable message; `lpszMessageID` is NULL or a terminated string
/// in a buffer of 64 (512 with `MAPI_LONG_MSGID`) bytes.
pub(crate) unsafe fn save_mail(
    lhSession: LHANDLE,
    ulUIParam: ULONG_PTR,
    lpMessage: lpMapiMessage,
    flFlags: FLAGS,
    _ulReserved: ULONG,
    lpszMessageID: LPSTR,
) -> ULONG {
    let result = (|| {
        // Session 0 is a temporary session for MAPISaveMail, as for sends.
        let runtime = Engine::global().session(lhSession)?;
        if lpszMessageID.is_null() {
            return Err(null("lpszMessageID"));
        }
        // SAFETY: `as_ref` checks NULL; the caller's contract covers the rest.
        let request = unsafe {
            lpMessage
                .as_ref()
                .map(|m| convert::ansi::message(m, flFlags, ulUIParam))
                .transpose()
        }?
        .ok_or_else(|| MapiError::new(MapiCode::InvalidMessage, "lpMessage is NULL"))?;
        // SAFETY: non-NULL (checked) and terminated per the contract.
        let replace = unsafe { message_id(lpszMessageID, "lpszMessageID") }?;
        let id = runtime.save_mail(lhSession, &request, replace.as_deref())?;
        // SAFETY: non-NULL, sized per the contract; written only on success.
        unsafe { write_id(lpszMessageID, &id, flFlags) }
    })();
    code("MAPISaveMail", result)
}

/// # Safety
/// `lpszMessageID` is NULL or terminated.
pub(crate) unsafe fn delete_mail(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpszMessageID: LPSTR,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
) -> ULONG {
    let result = (|| {
        let runtime = Engine::global().explicit_session(lhSession)?;
        // SAFETY: NULL or terminated, per the contract.
        let id = unsafe { message_id(lpszMessageID, "lpszMessageID") }?
            .ok_or_else(|| MapiError::new(MapiCode::InvalidMessage, "no message ID given"))?;
        runtime.delete_mail(&id)
    })();
    code("MAPIDeleteMail", result)
}

/// # Safety
/// `lpRecips` is NULL or `nRecips` readable descriptors; the out-parameters are NULL or
/// writable.
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
        let runtime = Engine::global().session(lhSession)?;
        if nEditFields > 4 {
            return Err(MapiError::new(
                MapiCode::InvalidEditfields,
                format!("nEditFields {nEditFields} (0 to 4)"),
            ));
        }
        if lpnNewRecips.is_null() || lppNewRecips.is_null() {
            return Err(null("lpnNewRecips or lppNewRecips"));
        }
        // SAFETY: NULL-with-count and the limit are checked before anything is read.
        let given = unsafe { convert::ansi::recipients(lpRecips, nRecips) }?;
        if nEditFields == 0 || given.is_empty() {
            // Browsing the address book, or picking recipients, is a dialog.
            return Err(MapiError::new(
                MapiCode::NotSupported,
                "MAPIAddress needs an address book dialog for this request (no recipients given, or nEditFields = 0); mapishim has no dialogs",
            ));
        }
        let resolved = runtime.address(lhSession, &given, false)?;
        let decoder = runtime.settings.decoder;
        let block = recipients_block(&resolved, |s| decoder.encode_ansi(s));
        // SAFETY: both non-NULL (checked) and writable per the contract; written only on
        // success.
        unsafe {
            lpnNewRecips.write_unaligned(resolved.len() as ULONG);
            lppNewRecips.write_unaligned(block);
        }
        Ok(())
    })();
    code("MAPIAddress", result)
}

/// # Safety
/// `lpRecip` is NULL or one readable descriptor.
pub(crate) unsafe fn details(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpRecip: lpMapiRecipDesc,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
) -> ULONG {
    let result = (|| {
        Engine::global().session(lhSession)?;
        // SAFETY: NULL-with-count is checked before anything is read.
        let given = unsafe { convert::ansi::recipients(lpRecip, u32::from(!lpRecip.is_null())) }?;
        if given.is_empty() {
            return Err(MapiError::new(MapiCode::InvalidRecips, "lpRecip is NULL"));
        }
        // The details dialog is the whole point of MAPIDetails.
        Err(MapiError::new(
            MapiCode::NotSupported,
            "MAPIDetails shows a dialog; mapishim has no dialogs",
        ))
    })();
    code("MAPIDetails", result)
}
