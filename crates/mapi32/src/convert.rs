//! Copies the caller's C structures into owned, safe Rust values.
//!
//! The structures arrive as the generated `caller::` forms, whose pointer fields are the FFI
//! layer's wrappers: strings, entry IDs and arrays are copied through them, and counts are
//! checked against NULL arrays and limits before anything is read. Nothing here keeps a
//! pointer.
use crate::abi::*;
use mapishim_abi as abi;
use mapishim_engine::c_api::{
    MAX_ATTACHMENTS, MAX_RECIPIENTS, MapiCode, RawAttachment, RawRecipient, RawText, Result,
    SendRequest,
};
use mapishim_ffi::InArray;

/// Larger entry IDs are not ours; they are ignored rather than read.
const MAX_ENTRY_ID: u32 = 4096;

/// One reader per structure form; the narrow and wide forms differ only in string type.
macro_rules! message_reader {
    ($form:ident, $Message:ident, $Recip:ident) => {
        pub(crate) mod $form {
            use super::*;

            pub(crate) fn recipient(r: &caller::$Recip) -> Result<RawRecipient> {
                Ok(RawRecipient {
                    class: r.ulRecipClass,
                    name: r.lpszName.read()?,
                    address: r.lpszAddress.read()?,
                    entry_id: r.lpEntryID.read(r.ulEIDSize, MAX_ENTRY_ID),
                })
            }

            /// A recipient array (`MAPIAddress`), counts checked first.
            #[allow(dead_code, reason = "the ANSI form is used; the W form has no W caller")]
            pub(crate) fn recipients(
                p: &InArray<caller::$Recip>,
                count: u32,
            ) -> Result<Vec<RawRecipient>> {
                p.read(
                    count,
                    MAX_RECIPIENTS,
                    MapiCode::InvalidRecips,
                    MapiCode::TooManyRecipients,
                    "recipients",
                )?
                .iter()
                .map(recipient)
                .collect()
            }

            pub(crate) fn message(
                m: &caller::$Message,
                flags: u32,
                ui_param: usize,
            ) -> Result<SendRequest> {
                let recips = m.lpRecips.read(
                    m.nRecipCount,
                    MAX_RECIPIENTS,
                    MapiCode::InvalidRecips,
                    MapiCode::TooManyRecipients,
                    "recipients",
                )?;
                let files = m.lpFiles.read(
                    m.nFileCount,
                    MAX_ATTACHMENTS,
                    MapiCode::InvalidMessage,
                    MapiCode::TooManyFiles,
                    "attachments",
                )?;
                let originator = m.lpOriginator.get().map(recipient).transpose()?;
                let recipients = recips.iter().map(recipient).collect::<Result<Vec<_>>>()?;
                let mut attachments = Vec::with_capacity(files.len());
                for f in files {
                    // nPosition and lpFileType are deliberately not used.
                    attachments.push(RawAttachment {
                        path: f.lpszPathName.read()?,
                        display_name: f.lpszFileName.read()?,
                    });
                }
                Ok(SendRequest {
                    narrow_is_utf8: m.ulReserved == abi::CP_UTF8,
                    subject: m.lpszSubject.read()?,
                    body: m.lpszNoteText.read()?,
                    message_type: m.lpszMessageType.read()?,
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
    };
}

message_reader!(ansi, MapiMessage, MapiRecipDesc);
message_reader!(unicode, MapiMessageW, MapiRecipDescW);

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
}
