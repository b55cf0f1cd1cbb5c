//! The address book: contacts from vCard files, and the name resolution rules of
//! `MAPIResolveName` and of name-only recipients.
use crate::address::{self, Typed};
use crate::text::single_line;
use crate::{Mailbox, MapiCode, MapiError, Result};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    /// Preferred address first.
    pub emails: Vec<String>,
    /// Lower-case words of the full name, structured name and nicknames, for prefix search.
    words: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AddressBook {
    contacts: Vec<Contact>,
}

/// Undoes vCard text escaping (`\,` `\;` `\\` `\n`).
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push(' '),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn is_preferred(params: &Option<Vec<(String, Vec<String>)>>) -> bool {
    params.iter().flatten().any(|(key, values)| {
        (key.eq_ignore_ascii_case("TYPE") && values.iter().any(|v| v.eq_ignore_ascii_case("pref")))
            || key.eq_ignore_ascii_case("PREF")
    })
}

fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

impl AddressBook {
    pub fn new(contacts: Vec<Contact>) -> Self {
        Self { contacts }
    }

    pub fn contacts(&self) -> &[Contact] {
        &self.contacts
    }

    /// Reads vCard 3.0 and 4.0 text; contacts without an e-mail address are skipped.
    pub fn parse_vcards(text: &str, origin: &str) -> std::result::Result<Vec<Contact>, String> {
        let mut contacts = Vec::new();
        for (index, card) in ical::VcardParser::new(text.as_bytes()).enumerate() {
            let card = card.map_err(|e| format!("{origin}: vCard #{}: {e}", index + 1))?;
            let (mut full_name, mut structured, mut nicknames) = (None, None, Vec::new());
            let mut emails: Vec<(bool, String)> = Vec::new();
            for prop in card.properties {
                let Some(value) = prop.value.as_deref() else {
                    continue;
                };
                match prop.name.to_ascii_uppercase().as_str() {
                    "FN" => full_name = Some(single_line(&unescape(value))),
                    "N" => {
                        structured =
                            Some(value.split(';').map(unescape).collect::<Vec<_>>().join(" "))
                    }
                    "NICKNAME" => nicknames.push(unescape(value)),
                    "EMAIL" => {
                        let raw = unescape(value);
                        let bare = raw.trim().trim_start_matches("mailto:").to_string();
                        if address::validate(&bare).is_ok() {
                            emails.push((is_preferred(&prop.params), bare));
                        }
                    }
                    _ => {}
                }
            }
            emails.sort_by_key(|(pref, _)| !*pref);
            let name = full_name
                .or_else(|| structured.clone().map(|n| single_line(&n)))
                .unwrap_or_default();
            if emails.is_empty() {
                continue;
            }
            let mut words: Vec<String> = words_of(&name).collect();
            words.extend(structured.iter().flat_map(|n| words_of(n)));
            words.extend(nicknames.iter().flat_map(|n| words_of(n)));
            words.sort();
            words.dedup();
            contacts.push(Contact {
                name,
                emails: emails.into_iter().map(|(_, e)| e).collect(),
                words,
            });
        }
        Ok(contacts)
    }

    pub fn load(paths: &[impl AsRef<Path>]) -> std::result::Result<Self, String> {
        let mut contacts = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let text = String::from_utf8_lossy(&bytes);
            contacts.extend(Self::parse_vcards(&text, &path.display().to_string())?);
        }
        Ok(Self { contacts })
    }

    fn mailbox(contact: &Contact) -> Mailbox {
        let name = (!contact.name.is_empty()).then(|| contact.name.clone());
        Mailbox {
            name,
            address: contact.emails[0].clone(),
        }
    }

    /// The book's display name for an address, if the address is in it.
    pub fn name_for(&self, address: &str) -> Option<&str> {
        self.contacts
            .iter()
            .find(|c| c.emails.iter().any(|e| e.eq_ignore_ascii_case(address)))
            .map(|c| c.name.as_str())
            .filter(|n| !n.is_empty())
    }

    /// Resolves one name as `MAPIResolveName` does:
    /// - `SMTP:addr` or an e-mail literal resolves to itself, named from the book if it is there;
    /// - `Name <addr>` resolves to that mailbox;
    /// - otherwise a case-insensitive full name, then a unique word or prefix of a name.
    ///
    /// Several matches give `MAPI_E_AMBIGUOUS_RECIPIENT`, none `MAPI_E_UNKNOWN_RECIPIENT`.
    pub fn resolve(&self, query: &str) -> Result<Mailbox> {
        let query = query.trim();
        if query.chars().any(|c| c == '\r' || c == '\n') {
            return Err(MapiError::new(
                MapiCode::InvalidRecips,
                format!("line break in name {query:?}"),
            ));
        }
        if let Some(mailbox) = address::parse_name_addr(query) {
            return Ok(mailbox);
        }
        let literal = match address::split_type(query) {
            Typed::Smtp(addr) => Some(addr),
            Typed::Other { kind, .. } => {
                return Err(MapiError::new(
                    MapiCode::UnknownRecipient,
                    format!("address type {kind}: cannot be delivered by SMTP"),
                ));
            }
            Typed::Untyped(text) if text.contains('@') => Some(text),
            Typed::Untyped(_) => None,
        };
        if let Some(addr) = literal {
            address::validate(addr).map_err(|why| {
                MapiError::new(MapiCode::InvalidRecips, format!("{why}: {addr:?}"))
            })?;
            let name = self.name_for(addr).map(str::to_string);
            return Ok(Mailbox {
                name,
                address: addr.to_string(),
            });
        }
        let needle = single_line(query).to_lowercase();
        if needle.is_empty() {
            return Err(MapiError::new(MapiCode::UnknownRecipient, "empty name"));
        }
        let exact: Vec<&Contact> = self
            .contacts
            .iter()
            .filter(|c| c.name.to_lowercase() == needle)
            .collect();
        let candidates = if exact.is_empty() {
            self.contacts
                .iter()
                .filter(|c| {
                    c.name.to_lowercase().starts_with(&needle)
                        || c.words.iter().any(|w| w.starts_with(&needle))
                })
                .collect()
        } else {
            exact
        };
        match candidates.as_slice() {
            [one] => Ok(Self::mailbox(one)),
            [] => Err(MapiError::new(
                MapiCode::UnknownRecipient,
                format!("no contact matches {query:?}"),
            )),
            many => Err(MapiError::new(
                MapiCode::AmbiguousRecipient,
                format!(
                    "{query:?} matches {} contacts: {}",
                    many.len(),
                    many.iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapishim_abi as abi;

    const CARDS: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Alice Martin\r\nN:Martin;Alice;;;\r\n\
EMAIL;TYPE=INTERNET:alice@work.example\r\nEMAIL;TYPE=INTERNET,pref:alice@example.org\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bob Martin\r\nNICKNAME:Bobby\r\nEMAIL;PREF=1:bob@example.org\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Carol Noaddress\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Dupont\\, Jean\r\nEMAIL:jean@example.fr\r\nEND:VCARD\r\n";

    fn book() -> AddressBook {
        AddressBook::new(AddressBook::parse_vcards(CARDS, "test").unwrap())
    }

    #[test]
    fn full_name_word_prefix_and_nickname() {
        let b = book();
        assert_eq!(
            b.resolve("alice martin").unwrap().address,
            "alice@example.org"
        );
        assert_eq!(b.resolve("Ali").unwrap().address, "alice@example.org");
        assert_eq!(b.resolve("bobby").unwrap().address, "bob@example.org");
        assert_eq!(
            b.resolve("Dupont, Jean").unwrap().name.as_deref(),
            Some("Dupont, Jean")
        );
    }

    #[test]
    fn ambiguity_and_misses() {
        let b = book();
        assert_eq!(
            b.resolve("Martin").unwrap_err().code(),
            abi::MAPI_E_AMBIGUOUS_RECIPIENT
        );
        assert_eq!(
            b.resolve("Carol").unwrap_err().code(),
            abi::MAPI_E_UNKNOWN_RECIPIENT
        );
        assert_eq!(
            b.resolve("Zed").unwrap_err().code(),
            abi::MAPI_E_UNKNOWN_RECIPIENT
        );
        assert_eq!(
            b.resolve("FAX:1234").unwrap_err().code(),
            abi::MAPI_E_UNKNOWN_RECIPIENT
        );
    }

    #[test]
    fn literals_resolve_to_themselves() {
        let b = book();
        let m = b.resolve("SMTP:bob@example.org").unwrap();
        assert_eq!(
            m,
            Mailbox {
                name: Some("Bob Martin".into()),
                address: "bob@example.org".into()
            }
        );
        let m = b.resolve("stranger@elsewhere.example").unwrap();
        assert_eq!(
            m,
            Mailbox {
                name: None,
                address: "stranger@elsewhere.example".into()
            }
        );
        let m = b.resolve("Some One <one@x.example>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Some One"));
        assert_eq!(
            b.resolve("bad@@x").unwrap_err().code(),
            abi::MAPI_E_INVALID_RECIPS
        );
    }
}
