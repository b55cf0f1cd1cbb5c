//! The entry IDs `MAPIResolveName` hands out, and reading them back in `MAPISendMail`.
use crate::{Mailbox, address, text};

const ENTRY_ID_MAGIC: &[u8] = b"MAPISHIM-EID1\0";

/// The entry ID `MAPIResolveName` hands out: `MAPISendMail` turns it back into the mailbox.
pub fn entry_id(mailbox: &Mailbox) -> Vec<u8> {
    let mut id = ENTRY_ID_MAGIC.to_vec();
    id.extend_from_slice(mailbox.name.as_deref().unwrap_or("").as_bytes());
    id.push(0);
    id.extend_from_slice(mailbox.address.as_bytes());
    id
}

/// Reads one of our entry IDs; `None` for foreign ones (they fall back to name and address).
pub fn mailbox_from_entry_id(id: &[u8]) -> Option<Mailbox> {
    let rest = id.strip_prefix(ENTRY_ID_MAGIC)?;
    let text = std::str::from_utf8(rest).ok()?;
    let (name, addr) = text.split_once('\0')?;
    address::validate(addr).ok()?;
    let name = text::single_line(name);
    Some(Mailbox {
        name: (!name.is_empty()).then_some(name),
        address: addr.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_round_trip() {
        let mb = Mailbox {
            name: Some("Bob".into()),
            address: "bob@x.org".into(),
        };
        assert_eq!(mailbox_from_entry_id(&entry_id(&mb)), Some(mb));
        assert_eq!(mailbox_from_entry_id(b"\x00\x00\x00\x00foreign"), None);
    }
}
