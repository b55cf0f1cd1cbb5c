//! Example mapishim plugin: each message is archived as one `.eml` file (Bcc kept, written
//! atomically like the outbox) in the folder named by `folder`, and names resolve from the
//! `names` table. Messages larger than `max_bytes` are refused.
//!
//! ```toml
//! backend = "plugin"
//! [plugin]
//! library = "/usr/lib/mapishim/libmapishim_archive.so"
//! [plugin.options]
//! folder = "/var/mail/archive"
//! max_bytes = 10_000_000
//! names = { "Support" = "Help Desk <help@example.org>", "Billing" = "billing@example.org" }
//! ```
#![forbid(unsafe_code)]

use mapishim_plugin::mapishim_core::address::parse_mailbox;
use mapishim_plugin::mapishim_core::mime::{self, BccHeader};
use mapishim_plugin::mapishim_core::{
    Backend, Delivery, Mailbox, MapiCode, MapiError, Message, Result,
};
use mapishim_plugin::toml::{Table, Value};
use std::io::Write;
use std::path::PathBuf;

pub struct Archive {
    folder: PathBuf,
    /// Lower-cased name → mailbox.
    names: Vec<(String, Mailbox)>,
    max_bytes: Option<u64>,
}

impl Archive {
    pub fn from_options(options: &Table) -> std::result::Result<Archive, String> {
        if let Some(key) = options
            .keys()
            .find(|k| !["folder", "names", "max_bytes"].contains(&k.as_str()))
        {
            return Err(format!(
                "unknown option `{key}` (expected folder, names, max_bytes)"
            ));
        }
        let folder = match options.get("folder") {
            Some(Value::String(s)) if PathBuf::from(s).is_absolute() => PathBuf::from(s),
            Some(Value::String(s)) => return Err(format!("folder {s:?} is not an absolute path")),
            Some(_) => return Err("folder must be a string".into()),
            None => return Err("option `folder` is missing".into()),
        };
        let max_bytes = match options.get("max_bytes") {
            None => None,
            Some(Value::Integer(n)) if *n > 0 => Some(*n as u64),
            Some(_) => return Err("max_bytes must be a positive integer".into()),
        };
        let mut names = Vec::new();
        match options.get("names") {
            None => {}
            Some(Value::Table(table)) => {
                for (name, value) in table {
                    let text = value
                        .as_str()
                        .ok_or_else(|| format!("names.{name} must be a string"))?;
                    let mut mailbox =
                        parse_mailbox(text).map_err(|why| format!("names.{name}: {why}"))?;
                    // A bare address shows under the table's name.
                    mailbox.name.get_or_insert_with(|| name.clone());
                    names.push((name.to_lowercase(), mailbox));
                }
            }
            Some(_) => return Err("names must be a table".into()),
        }
        Ok(Archive {
            folder,
            names,
            max_bytes,
        })
    }
}

impl Backend for Archive {
    fn name(&self) -> &'static str {
        "archive"
    }

    fn send(&self, message: &Message) -> Result<Delivery> {
        // An archive copy keeps Bcc: the host passed it in the envelope only.
        let bytes = mime::to_vec(message, BccHeader::Keep);
        if let Some(max) = self.max_bytes.filter(|max| bytes.len() as u64 > *max) {
            return Err(MapiError::new(
                MapiCode::AttachmentTooLarge,
                format!("message of {} bytes exceeds max_bytes = {max}", bytes.len()),
            ));
        }
        let path =
            mapishim_outbox::store(&self.folder, |out: &mut dyn Write| out.write_all(&bytes))?;
        Ok(Delivery::Stored(path))
    }

    fn resolve(&self, _session: usize, name: &str) -> Option<Result<Mailbox>> {
        let wanted = name.trim().to_lowercase();
        // Names not in the table go to the host's address book.
        self.names
            .iter()
            .find(|(key, _)| *key == wanted)
            .map(|(_, mailbox)| Ok(mailbox.clone()))
    }
}

mapishim_plugin::export_backend!("archive", Archive, Archive::from_options);

#[cfg(test)]
mod tests {
    use super::*;
    use mapishim_plugin::mapishim_abi as mapi;

    fn options(text: &str) -> Table {
        text.parse().unwrap()
    }

    #[test]
    fn options_are_checked() {
        let err = |t: &str| Archive::from_options(&options(t)).err().unwrap();
        assert!(err("").contains("`folder` is missing"));
        assert!(err("folder = \"relative\"").contains("not an absolute path"));
        assert!(err("folder = \"/x\"\nfolfer = 1").contains("unknown option `folfer`"));
        assert!(err("folder = \"/x\"\nnames = { A = \"not an address\" }").contains("names.A"));
        assert!(err("folder = \"/x\"\nmax_bytes = 0").contains("positive"));
    }

    #[test]
    fn resolves_from_the_table_only() {
        let archive = Archive::from_options(&options(
            "folder = \"/x\"\nnames = { \"Help Desk\" = \"Support <help@example.org>\", Billing = \"SMTP:billing@example.org\" }",
        ))
        .unwrap();
        let found = archive.resolve(0, " help desk ").unwrap().unwrap();
        assert_eq!(found.name.as_deref(), Some("Support"));
        assert_eq!(found.address, "help@example.org");
        let bare = archive.resolve(0, "billing").unwrap().unwrap();
        assert_eq!(bare.name.as_deref(), Some("Billing"));
        assert!(archive.resolve(0, "Alice").is_none());
    }

    #[test]
    fn archives_with_bcc_and_enforces_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "folder = {:?}\nmax_bytes = 2000",
            dir.path().display().to_string()
        );
        let archive = Archive::from_options(&options(&text)).unwrap();
        let mailbox = |a: &str| Mailbox {
            name: None,
            address: a.into(),
        };
        let mut message = Message {
            from: mailbox("s@example.org"),
            to: vec![mailbox("t@example.org")],
            cc: vec![],
            bcc: vec![mailbox("hidden@example.org")],
            subject: "hi".into(),
            body: "body\r\n".into(),
            attachments: vec![],
            receipt_requested: false,
            dialog: false,
            modeless: false,
            message_id: "m@example.org".into(),
            date: 0,
        };
        let Ok(Delivery::Stored(path)) = archive.send(&message) else {
            panic!("not stored")
        };
        let stored = std::fs::read_to_string(path).unwrap();
        assert!(stored.contains("Bcc: <hidden@example.org>"), "{stored}");
        message.body = "x".repeat(3000);
        let err = archive.send(&message).unwrap_err();
        assert_eq!(err.code(), mapi::MAPI_E_ATTACHMENT_TOO_LARGE);
    }
}
