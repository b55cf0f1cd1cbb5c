//! A [`SendRequest`] laid out again as the provider's C structures: `MapiMessageW` for a
//! provider with `MAPISendMailW`, `MapiMessage` (ANSI, or UTF-8 with `CP_UTF8`) otherwise.
//! Everything the structures point to is owned by [`Built`] and lives until the call returns.
use crate::ffi::*;
use mapishim_abi as abi;
use mapishim_core::entry_id::mailbox_from_entry_id;
use mapishim_core::text::TextDecoder;
use mapishim_core::{RawRecipient, RawText, SendRequest};
use std::borrow::Cow;
use std::ptr::null_mut;

/// The structures of one call and the buffers they point into. Moving a `Vec` does not move
/// its heap data, so the pointers stay valid for as long as this value lives.
pub struct Built<M, R, F, C> {
    strings: Vec<Vec<C>>,
    entry_ids: Vec<Vec<u8>>,
    recipients: Vec<R>,
    files: Vec<F>,
    originator: Option<Box<R>>,
    pub message: M,
}

pub type Narrow = Built<MapiMessage, MapiRecipDesc, MapiFileDesc, u8>;
pub type Wide = Built<MapiMessageW, MapiRecipDescW, MapiFileDescW, u16>;

impl<M, R, F, C: Copy + Default + PartialEq> Built<M, R, F, C> {
    /// Keeps a NUL-terminated copy (cut at an inner NUL, which C would stop at anyway).
    fn keep(&mut self, mut text: Vec<C>) -> *mut C {
        if let Some(end) = text.iter().position(|&c| c == C::default()) {
            text.truncate(end);
        }
        text.push(C::default());
        let ptr = text.as_mut_ptr();
        self.strings.push(text);
        ptr
    }

    fn keep_id(&mut self, id: &Option<Vec<u8>>) -> (ULONG, LPVOID) {
        match id {
            Some(id) if !id.is_empty() => {
                let mut copy = id.clone();
                let ptr = copy.as_mut_ptr().cast();
                self.entry_ids.push(copy);
                (id.len() as ULONG, ptr)
            }
            _ => (0, null_mut()),
        }
    }
}

/// One body for both forms, so they cannot drift apart. `$text` turns a caller's string into
/// the form's code units.
macro_rules! build {
    ($request:expr, $message:ident, $recip:ident, $file:ident, $unit:ty, $reserved:expr, $text:expr) => {{
        let request: &SendRequest = $request;
        let text = $text;
        let mut built: Built<$message, $recip, $file, $unit> = Built {
            strings: Vec::new(),
            entry_ids: Vec::new(),
            recipients: Vec::with_capacity(request.recipients.len()),
            files: Vec::with_capacity(request.attachments.len()),
            originator: None,
            message: $message {
                ulReserved: $reserved,
                lpszSubject: null_mut(),
                lpszNoteText: null_mut(),
                lpszMessageType: null_mut(),
                lpszDateReceived: null_mut(),
                lpszConversationID: null_mut(),
                flFlags: if request.receipt_requested {
                    abi::MAPI_RECEIPT_REQUESTED
                } else {
                    0
                },
                lpOriginator: null_mut(),
                nRecipCount: 0,
                lpRecips: null_mut(),
                nFileCount: 0,
                lpFiles: null_mut(),
            },
        };
        // NULL stays NULL and "" stays "": providers may treat them differently.
        let string =
            |built: &mut Built<$message, $recip, $file, $unit>, raw: &Option<RawText>| match raw {
                Some(raw) => built.keep(text(raw)).cast(),
                None => null_mut(),
            };
        let recipient = |built: &mut Built<$message, $recip, $file, $unit>, r: &RawRecipient| {
            let (id_size, id) = built.keep_id(&r.entry_id);
            $recip {
                ulReserved: 0,
                ulRecipClass: r.class,
                lpszName: string(built, &r.name),
                lpszAddress: string(built, &r.address),
                ulEIDSize: id_size,
                lpEntryID: id,
            }
        };
        built.message.lpszSubject = string(&mut built, &request.subject);
        built.message.lpszNoteText = string(&mut built, &request.body);
        built.message.lpszMessageType = string(&mut built, &request.message_type);
        if let Some(originator) = &request.originator {
            let desc = Box::new(recipient(&mut built, originator));
            built.originator = Some(desc);
        }
        for r in &request.recipients {
            let desc = recipient(&mut built, r);
            built.recipients.push(desc);
        }
        for a in &request.attachments {
            let file = $file {
                ulReserved: 0,
                flFlags: 0,
                nPosition: abi::NO_POSITION,
                lpszPathName: string(&mut built, &a.path),
                lpszFileName: string(&mut built, &a.display_name),
                lpFileType: null_mut(),
            };
            built.files.push(file);
        }
        built.message.lpOriginator = built
            .originator
            .as_deref_mut()
            .map_or(null_mut(), |o| o as *mut _);
        if !built.recipients.is_empty() {
            built.message.nRecipCount = built.recipients.len() as ULONG;
            built.message.lpRecips = built.recipients.as_mut_ptr();
        }
        if !built.files.is_empty() {
            built.message.nFileCount = built.files.len() as ULONG;
            built.message.lpFiles = built.files.as_mut_ptr();
        }
        built
    }};
}

/// The request with our own entry IDs (from our `MAPIResolveName`/`MAPIAddress`) taken out:
/// they mean nothing to the provider, and Outlook refuses a recipient whose ID it cannot
/// read. Such a recipient goes by address instead (`SMTP:<address>` from the ID, and its name,
/// where the caller left them out). Foreign IDs pass unchanged.
fn without_own_ids(request: &SendRequest) -> Cow<'_, SendRequest> {
    let ours = |r: &RawRecipient| {
        r.entry_id
            .as_deref()
            .is_some_and(|id| mailbox_from_entry_id(id).is_some())
    };
    if !request
        .originator
        .iter()
        .chain(&request.recipients)
        .any(ours)
    {
        return Cow::Borrowed(request);
    }
    let mut request = request.clone();
    for r in request.originator.iter_mut().chain(&mut request.recipients) {
        let Some(mailbox) = r.entry_id.as_deref().and_then(mailbox_from_entry_id) else {
            continue;
        };
        r.entry_id = None;
        // Wide, so that the form's usual rules encode it (ANSI, else UTF-8 for the message).
        let text = |s: &str| Some(RawText::Wide(s.encode_utf16().collect()));
        if blank(&r.address) {
            r.address = text(&format!("SMTP:{}", mailbox.address));
        }
        if blank(&r.name)
            && let Some(name) = &mailbox.name
        {
            r.name = text(name);
        }
    }
    Cow::Owned(request)
}

/// NULL, empty or only spaces.
fn blank(text: &Option<RawText>) -> bool {
    match text {
        None => true,
        Some(RawText::Narrow(b)) => b.iter().all(u8::is_ascii_whitespace),
        Some(RawText::Wide(w)) => w
            .iter()
            .all(|&u| u < 0x80 && (u as u8).is_ascii_whitespace()),
    }
}

/// Every caller string of a request (for deciding the narrow encoding once per message).
fn texts(request: &SendRequest) -> impl Iterator<Item = &RawText> {
    fn recipient(r: &RawRecipient) -> [Option<&RawText>; 2] {
        [r.name.as_ref(), r.address.as_ref()]
    }
    [
        request.subject.as_ref(),
        request.body.as_ref(),
        request.message_type.as_ref(),
    ]
    .into_iter()
    .chain(request.originator.iter().flat_map(recipient))
    .chain(request.recipients.iter().flat_map(recipient))
    .chain(
        request
            .attachments
            .iter()
            .flat_map(|a| [a.path.as_ref(), a.display_name.as_ref()]),
    )
    .flatten()
}

/// For `MAPISendMailW`: wide strings as given, narrow ones decoded (ANSI or UTF-8).
pub fn wide(request: &SendRequest, decoder: &TextDecoder) -> Wide {
    let request = &*without_own_ids(request);
    let utf8 = request.narrow_is_utf8;
    build!(
        request,
        MapiMessageW,
        MapiRecipDescW,
        MapiFileDescW,
        u16,
        0,
        |raw: &RawText| -> Vec<u16> {
            match raw {
                RawText::Wide(units) => units.clone(),
                narrow => decoder.decode(narrow, utf8).text.encode_utf16().collect(),
            }
        }
    )
}

/// For `MAPISendMail`, and whether the message had to go as UTF-8.
///
/// Narrow strings pass byte for byte with the caller's `ulReserved`. Wide strings are
/// encoded in the ANSI code page; when one of them has a character the code page lacks, the
/// whole message goes as UTF-8 with `ulReserved = CP_UTF8` (which Simple MAPI defines and
/// current providers honour) rather than with `?` in place of the character.
pub fn narrow(request: &SendRequest, decoder: &TextDecoder) -> (Narrow, bool) {
    let request = &*without_own_ids(request);
    let fits_ansi = |text: &str| {
        let encoded = RawText::Narrow(decoder.encode_ansi(text));
        decoder.decode(&encoded, false).text == text.replace('\0', "")
    };
    let wide_text = |units: &[u16]| decoder.decode(&RawText::Wide(units.to_vec()), false).text;
    let any_wide = texts(request).any(|t| matches!(t, RawText::Wide(_)));
    let utf8 = request.narrow_is_utf8
        || (any_wide
            && !texts(request).all(|t| match t {
                RawText::Wide(units) => fits_ansi(&wide_text(units)),
                RawText::Narrow(_) => true,
            }));
    let fallback = utf8 && !request.narrow_is_utf8;
    let reserved = if utf8 { abi::CP_UTF8 } else { 0 };
    let built = build!(
        request,
        MapiMessage,
        MapiRecipDesc,
        MapiFileDesc,
        u8,
        reserved,
        |raw: &RawText| -> Vec<u8> {
            match raw {
                RawText::Wide(units) if utf8 => wide_text(units).into_bytes(),
                RawText::Wide(units) => decoder.encode_ansi(&wide_text(units)),
                // Only a request mixing wide and ANSI strings gets here (a recipient filled in
                // from our entry ID): the ANSI strings follow the message into UTF-8.
                RawText::Narrow(_) if fallback => decoder.decode(raw, false).text.into_bytes(),
                RawText::Narrow(bytes) => bytes.clone(),
            }
        }
    );
    (built, fallback)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapishim_core::RawAttachment;
    use std::ffi::CStr;

    fn cp1252() -> TextDecoder {
        TextDecoder::from_label("windows-1252").unwrap()
    }

    fn wide(s: &str) -> Option<RawText> {
        Some(RawText::Wide(s.encode_utf16().collect()))
    }

    fn request(subject: Option<RawText>) -> SendRequest {
        SendRequest {
            subject,
            body: Some(RawText::Narrow(Vec::new())),
            recipients: vec![RawRecipient {
                class: abi::MAPI_CC,
                name: None,
                address: Some("SMTP:a@b.org".into()),
                entry_id: Some(vec![1, 2, 3]),
            }],
            attachments: vec![RawAttachment {
                path: Some("/tmp/x".into()),
                display_name: None,
            }],
            receipt_requested: true,
            ..Default::default()
        }
    }

    fn c(ptr: *mut std::ffi::c_char) -> Vec<u8> {
        assert!(!ptr.is_null());
        // SAFETY: test pointers come from `keep`, which terminates every string.
        unsafe { CStr::from_ptr(ptr) }.to_bytes().to_vec()
    }

    #[test]
    fn narrow_bytes_pass_untouched_with_the_callers_code_page() {
        let mut r = request(Some(RawText::Narrow(vec![0xE9, b'!'])));
        let (built, fallback) = narrow(&r, &cp1252());
        assert!(!fallback);
        let m = &built.message;
        assert_eq!(m.ulReserved, 0);
        assert_eq!(c(m.lpszSubject), [0xE9, b'!']);
        assert_eq!(c(m.lpszNoteText), b"");
        assert!(m.lpszMessageType.is_null() && m.lpOriginator.is_null());
        assert_eq!(m.flFlags, abi::MAPI_RECEIPT_REQUESTED);
        assert_eq!(m.nRecipCount, 1);
        // SAFETY: one recipient and one file, pointing into `built`.
        let (recip, file) = unsafe { (&*m.lpRecips, &*m.lpFiles) };
        assert_eq!(recip.ulRecipClass, abi::MAPI_CC);
        assert!(recip.lpszName.is_null());
        assert_eq!(c(recip.lpszAddress), b"SMTP:a@b.org");
        assert_eq!(recip.ulEIDSize, 3);
        assert_eq!(c(file.lpszPathName), b"/tmp/x");
        assert!(file.lpszFileName.is_null());
        assert_eq!(file.nPosition, abi::NO_POSITION);

        r.narrow_is_utf8 = true;
        assert_eq!(narrow(&r, &cp1252()).0.message.ulReserved, abi::CP_UTF8);
    }

    #[test]
    fn wide_text_goes_ansi_when_it_fits_and_utf8_when_not() {
        let (built, fallback) = narrow(&request(wide("café")), &cp1252());
        assert!(!fallback);
        assert_eq!(built.message.ulReserved, 0);
        assert_eq!(c(built.message.lpszSubject), b"caf\xE9");

        let (built, fallback) = narrow(&request(wide("café 漢字")), &cp1252());
        assert!(fallback);
        assert_eq!(built.message.ulReserved, abi::CP_UTF8);
        assert_eq!(c(built.message.lpszSubject), "café 漢字".as_bytes());
    }

    #[test]
    fn wide_form_decodes_narrow_text() {
        let built = super::wide(&request(Some(RawText::Narrow(vec![0x80]))), &cp1252());
        let subject = built.message.lpszSubject;
        // SAFETY: `keep` terminated it; "€" is one UTF-16 unit.
        let units = unsafe { std::slice::from_raw_parts(subject, 2) };
        assert_eq!(units, [0x20AC, 0]);
        assert_eq!(built.message.ulReserved, 0);
    }

    #[test]
    fn inner_nul_ends_the_string() {
        let (built, _) = narrow(&request(Some(RawText::Narrow(b"a\0b".to_vec()))), &cp1252());
        assert_eq!(c(built.message.lpszSubject), b"a");
    }

    #[test]
    fn our_entry_ids_are_replaced_by_the_address_and_foreign_ones_pass() {
        use mapishim_core::Mailbox;
        use mapishim_core::entry_id::entry_id;
        let ours = entry_id(&Mailbox {
            name: Some("Zoë Example".into()),
            address: "zoe@example.org".into(),
        });
        let mut r = request(Some("s".into()));
        r.recipients = vec![
            // Only the ID, as a caller that copied just the entry ID would send it.
            RawRecipient {
                class: abi::MAPI_TO,
                name: None,
                address: None,
                entry_id: Some(ours.clone()),
            },
            // The caller's own name and address win over the ID's.
            RawRecipient {
                class: abi::MAPI_CC,
                name: Some("Mine".into()),
                address: Some("SMTP:mine@example.org".into()),
                entry_id: Some(ours.clone()),
            },
            RawRecipient {
                class: abi::MAPI_BCC,
                name: None,
                address: Some("".into()),
                entry_id: Some(vec![0xDE, 0xAD]),
            },
        ];
        r.originator = Some(RawRecipient {
            class: abi::MAPI_ORIG,
            entry_id: Some(ours),
            ..Default::default()
        });
        let (built, fallback) = narrow(&r, &cp1252());
        assert!(!fallback, "the name fits cp1252");
        let m = &built.message;
        // SAFETY: three recipients and an originator, pointing into `built`.
        let (recips, from) =
            unsafe { (std::slice::from_raw_parts(m.lpRecips, 3), &*m.lpOriginator) };
        for desc in [&recips[0], &recips[1], from] {
            assert_eq!((desc.ulEIDSize, desc.lpEntryID.is_null()), (0, true));
        }
        assert_eq!(c(recips[0].lpszName), b"Zo\xEB Example");
        assert_eq!(c(recips[0].lpszAddress), b"SMTP:zoe@example.org");
        assert_eq!(c(from.lpszAddress), b"SMTP:zoe@example.org");
        assert_eq!(c(recips[1].lpszName), b"Mine");
        assert_eq!(c(recips[1].lpszAddress), b"SMTP:mine@example.org");
        assert_eq!(recips[2].ulEIDSize, 2, "a foreign ID passes");
        assert_eq!(c(recips[2].lpszAddress), b"", "with its address as given");

        let built = super::wide(&r, &cp1252());
        // SAFETY: as above.
        let first = unsafe { &*built.message.lpRecips };
        assert_eq!((first.ulEIDSize, first.lpEntryID.is_null()), (0, true));
        // SAFETY: `keep` terminated it.
        let address = unsafe { std::slice::from_raw_parts(first.lpszAddress, 20) };
        assert_eq!(String::from_utf16(address).unwrap(), "SMTP:zoe@example.org");
    }
}
