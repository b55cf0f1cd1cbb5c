//! The implementations behind the generated exports. Each one gets its pointers already
//! typed by the FFI layer, copies its input, asks the engine, and sets out-parameters only
//! on success. Refusals are returned; the boundary logs them.
#![allow(non_snake_case)]

use crate::abi::*;
use crate::convert;
use mapishim_abi as abi;
use mapishim_engine::Engine;
use mapishim_engine::c_api::{
    LogonRequest, Mailbox, MapiCode, MapiError, RawText, ReadMessage, ReadRecipient, Result,
    SendRequest, TextDecoder, entry_id,
};
use mapishim_ffi::block::{self, BlockWriter};
use mapishim_ffi::{Address, InArray, InRef, InStr, Out, OutStr};
use std::ffi::c_char;

pub(crate) fn logon(
    ulUIParam: ULONG_PTR,
    lpszProfileName: InStr,
    lpszPassword: InStr,
    flFlags: FLAGS,
    _ulReserved: ULONG,
    lplhSession: Out<LHANDLE>,
) -> Result<()> {
    // Profiles and passwords mean nothing to our own backends; `forward` passes them on.
    lplhSession.require("lplhSession")?;
    let request = LogonRequest {
        ui_param: ulUIParam,
        profile: lpszProfileName.read()?,
        password: lpszPassword.read()?,
        flags: flFlags,
    };
    lplhSession.set(Engine::global().logon(&request)?);
    Ok(())
}

pub(crate) fn logoff(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
) -> Result<()> {
    Engine::global().logoff(lhSession)
}

/// The shared body of `MAPISendMail` and `MAPISendMailW`: the session is checked first,
/// then the message is copied by `read` (`None` for a NULL message) and sent.
fn send(session: LHANDLE, read: impl FnOnce() -> Result<Option<SendRequest>>) -> Result<()> {
    // The session is checked before the message is read; its runtime then sends.
    let runtime = Engine::global().session(session)?;
    let request =
        read()?.ok_or_else(|| MapiError::new(MapiCode::InvalidMessage, "lpMessage is NULL"))?;
    runtime.send_for(session, &request).map(drop)
}

pub(crate) fn send_mail(
    lhSession: LHANDLE,
    ulUIParam: ULONG_PTR,
    lpMessage: InRef<caller::MapiMessage>,
    flFlags: FLAGS,
    _ulReserved: ULONG,
) -> Result<()> {
    send(lhSession, || {
        lpMessage
            .get()
            .map(|m| convert::ansi::message(m, flFlags, ulUIParam))
            .transpose()
    })
}

pub(crate) fn send_mail_w(
    lhSession: LHANDLE,
    ulUIParam: ULONG_PTR,
    lpMessage: InRef<caller::MapiMessageW>,
    flFlags: FLAGS,
    _ulReserved: ULONG,
) -> Result<()> {
    send(lhSession, || {
        lpMessage
            .get()
            .map(|m| convert::unicode::message(m, flFlags, ulUIParam))
            .transpose()
    })
}

pub(crate) fn send_documents(
    _ulUIParam: ULONG_PTR,
    lpszDelimChar: InStr,
    lpszFilePaths: InStr,
    lpszFileNames: InStr,
    _ulReserved: ULONG,
) -> Result<()> {
    let request = convert::documents(
        lpszDelimChar.read()?,
        lpszFilePaths.read()?,
        lpszFileNames.read()?,
    );
    Engine::global().session(0)?.send_for(0, &request).map(drop)
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
    let array = block.reserve::<MapiRecipDesc>(parts.len().max(1));
    for (i, part) in parts.iter().enumerate() {
        let desc = part.write(&mut block);
        block.write(&array, i, desc);
    }
    block.finish().cast()
}

pub(crate) fn resolve_name(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpszName: InStr,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
    lppRecip: Out<lpMapiRecipDesc>,
) -> Result<()> {
    let runtime = Engine::global().session(lhSession)?;
    lppRecip.require("lppRecip")?;
    let name = lpszName
        .read()?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| MapiError::new(MapiCode::UnknownRecipient, "empty name"))?;
    let mailbox = runtime.resolve_for(lhSession, &name, false)?;
    let decoder = runtime.settings.decoder;
    lppRecip.set(recipients_block(&[(abi::MAPI_TO, mailbox)], |s| {
        decoder.encode_ansi(s)
    }));
    Ok(())
}

/// `pv` is never dereferenced: only looked up among our blocks.
pub(crate) fn free_buffer(pv: Address) -> Result<()> {
    if pv.is_null() || block::release(pv.addr()) {
        return Ok(());
    }
    Err(MapiError::failure(format!(
        "pointer {pv:?} is not a block from this library (foreign or already freed); ignored"
    )))
}

/// A message ID argument: IDs are ASCII (see docs/mailbox.md), so anything else is unknown.
fn message_id(text: Option<RawText>, what: &str) -> Result<Option<String>> {
    match text {
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
fn write_id(out: OutStr, id: &str, flags: FLAGS) -> Result<()> {
    let room = if flags & abi::MAPI_LONG_MSGID != 0 {
        LONG_ID_BYTES
    } else {
        ID_BYTES
    };
    out.set(id.as_bytes(), room)
        .map_err(|_| MapiError::failure(format!("message ID {id} does not fit {room} bytes")))
}

pub(crate) fn find_next(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpszMessageType: InStr,
    lpszSeedMessageID: InStr,
    flFlags: FLAGS,
    _ulReserved: ULONG,
    lpszMessageID: OutStr,
) -> Result<()> {
    let runtime = Engine::global().explicit_session(lhSession)?;
    lpszMessageID.require("lpszMessageID")?;
    let message_type = lpszMessageType
        .read()?
        .map(|t| runtime.settings.decoder.decode(&t, false).text);
    let seed = message_id(lpszSeedMessageID.read()?, "lpszSeedMessageID")?;
    let id = runtime.find_next(message_type.as_deref(), seed.as_deref(), flFlags)?;
    write_id(lpszMessageID, &id, flFlags)
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
    let head = block.reserve::<MapiMessage>(1);
    let origin_desc = block.reserve::<MapiRecipDesc>(usize::from(originator.is_some()));
    let recip_array = block.reserve::<MapiRecipDesc>(recipients.len());
    let file_array = block.reserve::<MapiFileDesc>(files.len());
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
        block.write(&origin_desc, 0, d);
    }
    for (i, r) in recipients.iter().enumerate() {
        let d = r.write(&mut block);
        block.write(&recip_array, i, d);
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
        block.write(&file_array, i, d);
    }
    let m = MapiMessage {
        ulReserved: 0,
        lpszSubject,
        lpszNoteText,
        lpszMessageType: std::ptr::null_mut(),
        lpszDateReceived,
        lpszConversationID,
        flFlags: message.flags,
        lpOriginator: origin_desc.ptr(),
        nRecipCount: recipients.len() as ULONG,
        lpRecips: recip_array.ptr(),
        nFileCount: files.len() as ULONG,
        lpFiles: file_array.ptr(),
    };
    block.write(&head, 0, m);
    block.finish().cast()
}

pub(crate) fn read_mail(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpszMessageID: InStr,
    flFlags: FLAGS,
    _ulReserved: ULONG,
    lppMessage: Out<lpMapiMessage>,
) -> Result<()> {
    let runtime = Engine::global().explicit_session(lhSession)?;
    let id = message_id(lpszMessageID.read()?, "lpszMessageID")?
        .ok_or_else(|| MapiError::new(MapiCode::InvalidMessage, "no message ID given"))?;
    lppMessage.require("lppMessage")?;
    let message = runtime.read_mail(&id, flFlags)?;
    lppMessage.set(message_block(&message, runtime.settings.decoder));
    Ok(())
}

pub(crate) fn save_mail(
    lhSession: LHANDLE,
    ulUIParam: ULONG_PTR,
    lpMessage: InRef<caller::MapiMessage>,
    flFlags: FLAGS,
    _ulReserved: ULONG,
    lpszMessageID: OutStr,
) -> Result<()> {
    // Session 0 is a temporary session for MAPISaveMail, as for sends.
    let runtime = Engine::global().session(lhSession)?;
    lpszMessageID.require("lpszMessageID")?;
    let request = lpMessage
        .get()
        .map(|m| convert::ansi::message(m, flFlags, ulUIParam))
        .transpose()?
        .ok_or_else(|| MapiError::new(MapiCode::InvalidMessage, "lpMessage is NULL"))?;
    let replace = message_id(lpszMessageID.read()?, "lpszMessageID")?;
    let id = runtime.save_mail(lhSession, &request, replace.as_deref())?;
    write_id(lpszMessageID, &id, flFlags)
}

pub(crate) fn delete_mail(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpszMessageID: InStr,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
) -> Result<()> {
    let runtime = Engine::global().explicit_session(lhSession)?;
    let id = message_id(lpszMessageID.read()?, "lpszMessageID")?
        .ok_or_else(|| MapiError::new(MapiCode::InvalidMessage, "no message ID given"))?;
    runtime.delete_mail(&id)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn address(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    _lpszCaption: InStr,
    nEditFields: ULONG,
    _lpszLabels: InStr,
    nRecips: ULONG,
    lpRecips: InArray<caller::MapiRecipDesc>,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
    lpnNewRecips: Out<ULONG>,
    lppNewRecips: Out<lpMapiRecipDesc>,
) -> Result<()> {
    let runtime = Engine::global().session(lhSession)?;
    if nEditFields > 4 {
        return Err(MapiError::new(
            MapiCode::InvalidEditfields,
            format!("nEditFields {nEditFields} (0 to 4)"),
        ));
    }
    lpnNewRecips
        .require("lpnNewRecips")
        .and_then(|()| lppNewRecips.require("lppNewRecips"))
        .map_err(|_| MapiError::failure("lpnNewRecips or lppNewRecips is NULL"))?;
    let given = convert::ansi::recipients(&lpRecips, nRecips)?;
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
    lpnNewRecips.set(resolved.len() as ULONG);
    lppNewRecips.set(block);
    Ok(())
}

pub(crate) fn details(
    lhSession: LHANDLE,
    _ulUIParam: ULONG_PTR,
    lpRecip: InRef<caller::MapiRecipDesc>,
    _flFlags: FLAGS,
    _ulReserved: ULONG,
) -> Result<()> {
    Engine::global().session(lhSession)?;
    let Some(recip) = lpRecip.get() else {
        return Err(MapiError::new(MapiCode::InvalidRecips, "lpRecip is NULL"));
    };
    convert::ansi::recipient(recip)?;
    // The details dialog is the whole point of MAPIDetails.
    Err(MapiError::new(
        MapiCode::NotSupported,
        "MAPIDetails shows a dialog; mapishim has no dialogs",
    ))
}
