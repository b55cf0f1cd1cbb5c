//! `[composer] kind = "window"`: a modal Win32 compose window in the DLL itself, for
//! machines with no mail program. The user finishes the message and presses Send; it is
//! resolved and delivered through the engine's [`Outgoing`] (the configured backend).
//! Elsewhere the kind refuses with [`window_unavailable`]'s reason.
use mapishim_core::address::split_list;
use mapishim_core::config::window_unavailable;
use mapishim_core::{
    Attachment, Delivery, Mailbox, MapiCode, MapiError, Message, Outgoing, Result,
};
use std::sync::Arc;

#[cfg(windows)]
mod win32;

/// The built-in compose window.
pub struct ComposeWindow;

impl mapishim_core::DialogComposer for ComposeWindow {
    fn name(&self) -> &'static str {
        "window"
    }

    /// Without the engine there is nobody to send what the user finishes.
    fn open(&self, _message: &Message) -> Result<Delivery> {
        Err(MapiError::new(
            MapiCode::NotSupported,
            "the compose window needs the engine's send path",
        ))
    }

    fn check(&self) -> std::result::Result<String, String> {
        match window_unavailable() {
            Some(why) => Err(why.into()),
            None => Ok("the built-in compose window (sends through backend)".into()),
        }
    }

    fn open_for(
        &self,
        message: &Message,
        owner: usize,
        outgoing: Arc<dyn Outgoing>,
    ) -> Result<Delivery> {
        if let Some(why) = window_unavailable() {
            return Err(MapiError::failure(why));
        }
        #[cfg(windows)]
        return if message.modeless {
            modeless(message.clone(), outgoing)
        } else {
            win32::run(message, owner, &*outgoing)
        };
        #[cfg(not(windows))]
        {
            let _ = (message, owner, outgoing);
            unreachable!("window_unavailable() refuses every non-Windows build")
        }
    }
}

/// `MAPI_DIALOG_MODELESS`: the window on a thread of its own, with its own message loop;
/// the attachments are already read, so the caller may delete its files. The call returns
/// at once; how the window ended is logged. No owner: a cross-thread owner would tie the
/// caller's input to this thread.
#[cfg(windows)]
fn modeless(message: Message, outgoing: Arc<dyn Outgoing>) -> Result<Delivery> {
    std::thread::Builder::new()
        .name("mapishim-window".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                win32::run(&message, 0, &*outgoing)
            }));
            match result {
                Ok(Ok(delivery)) => tracing::info!(?delivery, "modeless compose window: sent"),
                Ok(Err(e)) => tracing::info!("modeless compose window: not sent: {e}"),
                Err(_) => tracing::error!("modeless compose window: panicked; nothing sent"),
            }
        })
        .map_err(|e| MapiError::failure(format!("no thread for the compose window: {e}")))?;
    Ok(Delivery::Opened)
}

/// The mail program Windows names as the default (`Software\Clients\Mail`'s default value,
/// per user first, then for the machine), unless it is mapishim itself; `None` elsewhere.
/// `kind = "auto"` opens this window when there is none.
pub fn registered_mail_program() -> Option<String> {
    #[cfg(windows)]
    return win32::default_mail_client().filter(|name| !name.eq_ignore_ascii_case("mapishim"));
    #[cfg(not(windows))]
    None
}

/// `New message`, then ` - subject` when there is one.
pub fn title(subject: &str) -> String {
    let subject = subject.trim();
    if subject.is_empty() {
        "New message".into()
    } else {
        format!("New message - {subject}")
    }
}

/// An address field's text: `Name <a@x>` (the name quoted when it has list separators),
/// or what the caller typed for a name that resolved to nothing.
pub fn field_text(list: &[Mailbox]) -> String {
    let entry = |m: &Mailbox| match (&m.name, m.is_typed()) {
        (Some(name), true) => name.clone(),
        (Some(name), false) if !name.is_empty() => {
            if name.contains([',', ';', '"', '<', '>', '(', ')']) {
                let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
                format!("\"{quoted}\" <{}>", m.address)
            } else {
                format!("{name} <{}>", m.address)
            }
        }
        _ => m.address.clone(),
    };
    list.iter().map(entry).collect::<Vec<_>>().join("; ")
}

/// One line of the attachment list.
pub fn attachment_line(name: &str, bytes: usize) -> String {
    let size = match bytes {
        0..1024 => format!("{bytes} bytes"),
        1024..1_048_576 => format!("{:.1} KB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    };
    format!("{name} ({size})")
}

/// One line of the attachment list: a file the caller gave (by index), or one the user
/// added with the file dialog (read when it was added).
pub enum Listed {
    Given(usize),
    Added(Attachment),
}

/// Why Send kept the window open: the field to mark (0 To, 1 Cc, 2 Bcc), the offending
/// entry in it (UTF-16 offsets, for `EM_SETSEL`) and the text the status line shows.
#[derive(Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: usize,
    pub span: Option<(usize, usize)>,
    pub why: String,
}

/// The user's fields, resolved into the message the backend gets, with the files still in
/// the list; a [`Problem`] names the field and the entry to fix.
pub fn finish(
    message: &Message,
    fields: [&str; 3],
    subject: &str,
    body: &str,
    listed: &[Listed],
    outgoing: &dyn Outgoing,
) -> std::result::Result<Message, Problem> {
    let mut lists = [Vec::new(), Vec::new(), Vec::new()];
    for (field, (text, label)) in fields.iter().zip(["To", "Cc", "Bcc"]).enumerate() {
        // Entry by entry, so the one that fails can be selected in its field.
        for part in split_list(text) {
            let entry = part.trim();
            if entry.is_empty() {
                continue;
            }
            let resolved = outgoing.resolve_field(entry).map_err(|e| {
                let start = entry.as_ptr() as usize - text.as_ptr() as usize;
                let utf16 = |end: usize| text[..end].encode_utf16().count();
                Problem {
                    field,
                    span: Some((utf16(start), utf16(start + entry.len()))),
                    why: format!("{label}: {}", e.detail()),
                }
            })?;
            lists[field].extend(resolved);
        }
    }
    if lists.iter().all(Vec::is_empty) {
        return Err(Problem {
            field: 0,
            span: None,
            why: "Add at least one recipient in To, Cc or Bcc.".into(),
        });
    }
    let [to, cc, bcc] = lists;
    Ok(Message {
        from: message.from.clone(),
        to,
        cc,
        bcc,
        subject: subject.split(['\r', '\n']).collect::<Vec<_>>().join(" "),
        body: body.to_string(),
        attachments: listed
            .iter()
            .filter_map(|l| match l {
                Listed::Given(i) => message.attachments.get(*i).cloned(),
                Listed::Added(a) => Some(a.clone()),
            })
            .collect(),
        receipt_requested: message.receipt_requested,
        dialog: message.dialog,
        modeless: message.modeless,
        message_id: message.message_id.clone(),
        date: message.date,
    })
}

/// The paths a multi-select `GetOpenFileNameW` buffer names: one full path, or the folder
/// then the file names, each NUL-terminated, ending with an empty string.
pub fn chosen_files(buffer: &[u16]) -> Vec<std::path::PathBuf> {
    let mut parts = buffer
        .split(|&c| c == 0)
        .take_while(|p| !p.is_empty())
        .map(String::from_utf16_lossy);
    let Some(first) = parts.next() else {
        return Vec::new();
    };
    let names: Vec<String> = parts.collect();
    if names.is_empty() {
        return vec![first.into()];
    }
    let folder = std::path::PathBuf::from(first);
    names.iter().map(|n| folder.join(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_names_the_subject() {
        assert_eq!(title(""), "New message");
        assert_eq!(title("  Report "), "New message - Report");
    }

    #[test]
    fn fields_quote_names_with_separators() {
        let list = vec![
            Mailbox {
                name: Some("Doe, Jane".into()),
                address: "jane@x.org".into(),
            },
            Mailbox {
                name: None,
                address: "bob@x.org".into(),
            },
            Mailbox::typed("Alice".into()),
        ];
        assert_eq!(
            field_text(&list),
            "\"Doe, Jane\" <jane@x.org>; bob@x.org; Alice"
        );
    }

    use mapishim_core::addressbook::AddressBook;
    use mapishim_core::compose::MessageBuilder;

    /// The engine's resolution (MessageBuilder over a vCard book), with no backend.
    struct Book(AddressBook);

    impl Book {
        fn builder(&self) -> MessageBuilder<'_> {
            MessageBuilder {
                decoder: Default::default(),
                from: None,
                book: &self.0,
                backend: None,
            }
        }
    }

    impl Outgoing for Book {
        fn resolve_field(&self, text: &str) -> Result<Vec<Mailbox>> {
            self.builder().resolve_field(text)
        }
        fn send(&self, _: Message) -> Result<Delivery> {
            unreachable!("finish only resolves")
        }
    }

    #[test]
    fn a_problem_names_its_field_and_selects_the_entry() {
        let vcards = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Martin\r\nEMAIL:ana@x.org\r\nEND:VCARD\r\n\
                      BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo Martin\r\nEMAIL:bo@x.org\r\nEND:VCARD\r\n";
        let book = Book(AddressBook::new(
            AddressBook::parse_vcards(vcards, "test").unwrap(),
        ));
        let request = mapishim_core::SendRequest {
            dialog: true,
            ..Default::default()
        };
        let message = book.builder().prepare_for_composer(&request).unwrap();
        let fill = |fields, subject| finish(&message, fields, subject, "", &[], &book);
        // "é" and "😀" are one and two UTF-16 units: the span counts units, not bytes.
        let problem = fill(["", "é@x.org, 😀@x.org ;  Martin ", ""], "").unwrap_err();
        assert_eq!(problem.field, 1);
        assert_eq!(problem.span, Some((21, 27)));
        assert!(
            problem.why.starts_with("Cc: \"Martin\" matches 2 contacts"),
            "{}",
            problem.why
        );
        let sent = fill(["Ana Martin", "", "bo@x.org"], "a\nb").unwrap();
        assert_eq!(sent.to[0].address, "ana@x.org");
        assert_eq!(sent.bcc[0].address, "bo@x.org");
        assert_eq!(sent.subject, "a b");
        let none = fill([" ", "", ""], "").unwrap_err();
        assert_eq!((none.field, none.span), (0, None));
    }

    #[test]
    fn the_dialog_buffer_names_one_or_several_files() {
        let buffer = |text: &str| text.encode_utf16().collect::<Vec<_>>();
        assert_eq!(
            chosen_files(&buffer("C:\\a\\x.txt\0\0")),
            ["C:\\a\\x.txt"].map(std::path::PathBuf::from)
        );
        assert_eq!(
            chosen_files(&buffer("C:\\a\0x.txt\0y.pdf\0\0")),
            [
                std::path::Path::new("C:\\a").join("x.txt"),
                std::path::Path::new("C:\\a").join("y.pdf")
            ]
        );
        assert!(chosen_files(&buffer("\0\0")).is_empty());
    }

    #[test]
    fn attachment_sizes_read_as_people_say_them() {
        assert_eq!(attachment_line("a.txt", 12), "a.txt (12 bytes)");
        assert_eq!(attachment_line("b.pdf", 2048), "b.pdf (2.0 KB)");
        assert_eq!(attachment_line("c.zip", 3 * 1_048_576), "c.zip (3.0 MB)");
    }
}
