//! Copies the caller's C structures into owned, safe Rust values.
//!
//! Nothing here keeps a pointer: strings, entry IDs and arrays are copied, and counts are
//! checked against NULL arrays and limits before anything is read.
use crate::abi::*;
use mapishim_abi as abi;
use mapishim_core::compose::{MAX_ATTACHMENTS, MAX_RECIPIENTS};
use mapishim_core::{
    MapiCode, MapiError, RawAttachment, RawRecipient, RawText, Result, SendRequest,
};
use std::ffi::c_char;

/// Longest string read from a caller, in code units: a bound on a missing terminator.
const MAX_STRING_UNITS: usize = 256 * 1024 * 1024;
/// Larger entry IDs are not ours; they are ignored rather than read.
const MAX_ENTRY_ID: u32 = 4096;

fn too_long() -> MapiError {
    MapiError::new(
        MapiCode::TextTooLarge,
        "string without terminator within 256 M units",
    )
}

/// Copies a NUL-terminated narrow string; `None` for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string.
pub(crate) unsafe fn narrow(p: *const c_char) -> Result<Option<RawText>> {
    if p.is_null() {
        return Ok(None);
    }
    let mut len = 0;
    // SAFETY: the caller promises a terminated string; we stop at the terminator or the bound.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
        if len > MAX_STRING_UNITS {
            return Err(too_long());
        }
    }
    // SAFETY: the `len` bytes before the terminator were just read one by one.
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) };
    Ok(Some(RawText::Narrow(bytes.to_vec())))
}

/// Copies a NUL-terminated UTF-16 string; `None` for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated UTF-16 string.
pub(crate) unsafe fn wide(p: *const u16) -> Result<Option<RawText>> {
    if p.is_null() {
        return Ok(None);
    }
    let mut len = 0;
    // SAFETY: as in `narrow`, for 16-bit units.
    while unsafe { p.add(len).read_unaligned() } != 0 {
        len += 1;
        if len > MAX_STRING_UNITS {
            return Err(too_long());
        }
    }
    let units = (0..len).map(|i| {
        // SAFETY: every unit before the terminator was read above. Unaligned reads, because
        // callers' wide strings are not always 2-aligned.
        unsafe { p.add(i).read_unaligned() }
    });
    Ok(Some(RawText::Wide(units.collect())))
}

/// Copies an entry ID if it is plausibly ours.
///
/// # Safety
/// `p` is NULL or points to `size` readable bytes.
unsafe fn entry_id(size: u32, p: *const core::ffi::c_void) -> Option<Vec<u8>> {
    if p.is_null() || size == 0 || size > MAX_ENTRY_ID {
        return None;
    }
    // SAFETY: the caller states `size` readable bytes at `p`, and size is bounded.
    Some(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), size as usize) }.to_vec())
}

/// Checks an array pointer against its count and the limit, then views it as a slice.
///
/// # Safety
/// `p` is NULL or points to `count` elements.
unsafe fn array<'a, T>(
    p: *const T,
    count: u32,
    limit: usize,
    null_code: MapiCode,
    limit_code: MapiCode,
    what: &str,
) -> Result<&'a [T]> {
    if count == 0 {
        // A non-NULL array with a count of 0 is normal; it is not read.
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(MapiError::new(
            null_code,
            format!("{count} {what} announced but the array is NULL"),
        ));
    }
    if count as usize > limit {
        return Err(MapiError::new(
            limit_code,
            format!("{count} {what} (limit {limit})"),
        ));
    }
    // SAFETY: non-NULL, and the caller states `count` elements; count is bounded.
    Ok(unsafe { std::slice::from_raw_parts(p, count as usize) })
}

/// One reader per structure form; the narrow and wide forms differ only in string type.
macro_rules! message_reader {
    ($form:ident, $Message:ty, $Recip:ty, $File:ty, $read:ident) => {
        pub(crate) mod $form {
            use super::*;

            /// # Safety
            /// `r` points to a readable recipient whose strings are terminated.
            pub(crate) unsafe fn recipient(r: &$Recip) -> Result<RawRecipient> {
                // SAFETY: the fields come from the caller's structure under the same contract.
                unsafe {
                    Ok(RawRecipient {
                        class: r.ulRecipClass,
                        name: $read(r.lpszName)?,
                        address: $read(r.lpszAddress)?,
                        entry_id: entry_id(r.ulEIDSize, r.lpEntryID),
                    })
                }
            }

            /// A recipient array (`MAPIAddress`, `MAPIDetails`), counts checked first.
            #[allow(dead_code, reason = "the ANSI form is used; the W form has no W caller")]
            ///
            /// # Safety
            /// `p` is NULL or points to `count` readable recipients.
            pub(crate) unsafe fn recipients(p: *const $Recip, count: u32) -> Result<Vec<RawRecipient>> {
                // SAFETY: as stated in the contract above; counts are checked by `array`.
                unsafe {
                    let recips = array(p, count, MAX_RECIPIENTS, MapiCode::InvalidRecips, MapiCode::TooManyRecipients, "recipients")?;
                    recips.iter().map(|r| recipient(r)).collect()
                }
            }

            /// # Safety
            /// `m` points to a readable message: every string terminated, every array as
            /// long as its count says.
            pub(crate) unsafe fn message(m: &$Message, flags: u32, ui_param: usize) -> Result<SendRequest> {
                // SAFETY: as stated in the contract above; counts are checked by `array`.
                unsafe {
                    let recips = array(m.lpRecips, m.nRecipCount, MAX_RECIPIENTS, MapiCode::InvalidRecips, MapiCode::TooManyRecipients, "recipients")?;
                    let files = array(m.lpFiles, m.nFileCount, MAX_ATTACHMENTS, MapiCode::InvalidMessage, MapiCode::TooManyFiles, "attachments")?;
                    let originator = match m.lpOriginator.as_ref() {
                        Some(o) => Some(recipient(o)?),
                        None => None,
                    };
                    let mut recipients = Vec::with_capacity(recips.len());
                    for r in recips {
                        recipients.push(recipient(r)?);
                    }
                    let mut attachments = Vec::with_capacity(files.len());
                    for f in files {
                        // nPosition and lpFileType are deliberately not used.
                        attachments.push(RawAttachment { path: $read(f.lpszPathName)?, display_name: $read(f.lpszFileName)? });
                    }
                    Ok(SendRequest {
                        narrow_is_utf8: m.ulReserved == abi::CP_UTF8,
                        subject: $read(m.lpszSubject)?,
                        body: $read(m.lpszNoteText)?,
                        message_type: $read(m.lpszMessageType)?,
                        originator,
                        recipients,
                        attachments,
                        receipt_requested: m.flFlags & abi::MAPI_RECEIPT_REQUESTED != 0,
                        dialog: flags & (abi::MAPI_DIALOG | abi::MAPI_DIALOG_MODELESS) != 0,
                        // MAPI_DIALOG_MODELESS is 0x4 | MAPI_DIALOG: its own bit is 0x4.
                        modeless: flags & (abi::MAPI_DIALOG_MODELESS & !abi::MAPI_DIALOG) != 0,
                        flags,
                        ui_param,
                    })
                }
            }
        }
    };
}

message_reader!(ansi, MapiMessage, MapiRecipDesc, MapiFileDesc, narrow);
message_reader!(unicode, MapiMessageW, MapiRecipDescW, MapiFileDescW, wide);

/// `MAPISendDocuments`: paths and display names separated by the first character of
/// `delimiter` (`;` when none is given).
pub(crate) fn documents(
    delimiter: Option<RawText>,
    paths: Option<RawText>,
    names: Option<RawText>,
) -> SendRequest {
    let delim = match delimiter {
        Some(RawText::Narrow(d)) if !d.is_empty() => d[0],
        _ => b';',
    };
    let split = |text: Option<RawText>| -> Vec<Vec<u8>> {
        match text {
            Some(RawText::Narrow(bytes)) => {
                bytes.split(|b| *b == delim).map(<[u8]>::to_vec).collect()
            }
            _ => Vec::new(),
        }
    };
    let names = split(names);
    let attachments = split(paths)
        .into_iter()
        .enumerate()
        .filter(|(_, p)| !p.iter().all(u8::is_ascii_whitespace))
        .map(|(i, p)| RawAttachment {
            path: Some(RawText::Narrow(p)),
            display_name: names.get(i).cloned().map(RawText::Narrow),
        })
        .collect();
    SendRequest {
        attachments,
        dialog: true,
        flags: abi::MAPI_DIALOG,
        ..SendRequest::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_on_the_delimiter() {
        let r = documents(
            Some("|".into()),
            Some("/a/x.pdf|/b/y.txt|".into()),
            Some("X.pdf".into()),
        );
        assert_eq!(r.attachments.len(), 2);
        assert_eq!(r.attachments[0].display_name, Some("X.pdf".into()));
        assert_eq!(r.attachments[1].display_name, None);
        assert!(r.dialog && r.recipients.is_empty());
    }

    #[test]
    fn null_arrays_with_counts_are_refused() {
        // SAFETY: a NULL array with a count is the case under test; it is never read.
        let err = unsafe {
            array::<u8>(
                std::ptr::null(),
                3,
                10,
                MapiCode::InvalidRecips,
                MapiCode::TooManyRecipients,
                "recipients",
            )
        }
        .unwrap_err();
        assert_eq!(err.code(), 25);
        let err = unsafe {
            array::<u8>(
                [0u8; 1].as_ptr(),
                11,
                10,
                MapiCode::InvalidRecips,
                MapiCode::TooManyRecipients,
                "recipients",
            )
        }
        .unwrap_err();
        assert_eq!(err.code(), 10);
    }
}
