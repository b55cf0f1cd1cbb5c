//! `[composer] kind = "window"`: a modal Win32 compose window in the DLL itself, for
//! machines with no mail program. The user finishes the message and presses Send; it is
//! resolved and delivered through the engine's [`Outgoing`] (the configured backend).
//! Elsewhere the kind refuses with [`window_unavailable`]'s reason.
use mapishim_core::config::window_unavailable;
use mapishim_core::{Delivery, Mailbox, MapiCode, MapiError, Message, Outgoing, Result};
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

/// The user's fields, resolved into the message the backend gets, with the attachments
/// still in the list (`kept`, by index); an error names the field ("To: …") so the window
/// can say which one to fix.
pub fn finish(
    message: &Message,
    fields: [&str; 3],
    subject: &str,
    body: &str,
    kept: &[usize],
    outgoing: &dyn Outgoing,
) -> std::result::Result<Message, (usize, String)> {
    let mut lists = [Vec::new(), Vec::new(), Vec::new()];
    for (index, (text, label)) in fields.iter().zip(["To", "Cc", "Bcc"]).enumerate() {
        lists[index] = outgoing
            .resolve_field(text)
            .map_err(|e| (index, format!("{label}: {}", e.detail())))?;
    }
    if lists.iter().all(Vec::is_empty) {
        return Err((0, "Add at least one recipient in To, Cc or Bcc.".into()));
    }
    let [to, cc, bcc] = lists;
    Ok(Message {
        from: message.from.clone(),
        to,
        cc,
        bcc,
        subject: subject.split(['\r', '\n']).collect::<Vec<_>>().join(" "),
        body: body.to_string(),
        attachments: kept
            .iter()
            .filter_map(|&i| message.attachments.get(i).cloned())
            .collect(),
        receipt_requested: message.receipt_requested,
        dialog: message.dialog,
        modeless: message.modeless,
        message_id: message.message_id.clone(),
        date: message.date,
    })
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

    #[test]
    fn attachment_sizes_read_as_people_say_them() {
        assert_eq!(attachment_line("a.txt", 12), "a.txt (12 bytes)");
        assert_eq!(attachment_line("b.pdf", 2048), "b.pdf (2.0 KB)");
        assert_eq!(attachment_line("c.zip", 3 * 1_048_576), "c.zip (3.0 MB)");
    }
}
