//! Address syntax: `TYPE:` prefixes, addr-spec validation and `Name <addr>` parsing.
use crate::Mailbox;
use crate::text::single_line;

/// An address as callers write it: `SMTP:bob@x.org`, `bob@x.org`, or another type (`FAX:…`).
#[derive(Debug, PartialEq, Eq)]
pub enum Typed<'a> {
    Smtp(&'a str),
    Other { kind: &'a str, rest: &'a str },
    Untyped(&'a str),
}

/// Splits a `TYPE:` prefix off. `SMTP` matches in any case; a colon after an `@` or inside
/// brackets is not a prefix.
pub fn split_type(text: &str) -> Typed<'_> {
    let text = text.trim();
    if let Some((kind, rest)) = text.split_once(':') {
        let is_type = !kind.is_empty()
            && kind.len() <= 16
            && kind
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if is_type {
            return if kind.eq_ignore_ascii_case("SMTP") {
                Typed::Smtp(rest.trim())
            } else {
                Typed::Other {
                    kind,
                    rest: rest.trim(),
                }
            };
        }
    }
    Typed::Untyped(text)
}

/// Characters that make an address look like another one or break it on screen: Unicode
/// white space (no-break space, U+2028/2029 line and paragraph separators…), zero-width
/// characters and bidirectional controls (U+202E shows `bob\u{202e}gro.live@` as
/// `bob@evil.org…`-like text). None belongs in an address.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// Splits what a caller typed into one address field (`a@x.org, b@x.org` or `;`-separated)
/// at commas and semicolons outside quotes, angle brackets and comments, so
/// `"Doe, Jane" <jane@x.org>` stays one entry. Empty entries are dropped.
pub fn split_list(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut escaped, mut angle, mut comment) = (false, false, false, 0u32);
    let mut start = 0;
    for (index, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || comment > 0 => escaped = true,
            '"' if comment == 0 => quoted = !quoted,
            '(' if !quoted => comment += 1,
            ')' if !quoted => comment = comment.saturating_sub(1),
            '<' if !quoted && comment == 0 => angle = true,
            '>' if !quoted && comment == 0 => angle = false,
            ',' | ';' if !quoted && !angle && comment == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

const ATEXT_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";
const MAX_ADDRESS_LEN: usize = 254;

/// Checks a bare `local@domain` address (RFC 5321 dot-atom form, UTF-8 allowed as in
/// RFC 6531). Control characters, white space, quotes and brackets are refused, which is what
/// makes header injection through an address impossible.
pub fn validate(address: &str) -> Result<(), &'static str> {
    if address.is_empty() {
        return Err("empty address");
    }
    if address.len() > MAX_ADDRESS_LEN {
        return Err("address longer than 254 bytes");
    }
    if address.chars().any(|c| c.is_control()) {
        return Err("control character (CR/LF?) in address");
    }
    if address.chars().any(is_invisible) {
        return Err("white space, line separator or bidirectional control in address");
    }
    let (local, domain) = address.rsplit_once('@').ok_or("no @ in address")?;
    let atom_char = |c: char| c.is_alphanumeric() || ATEXT_SPECIALS.contains(c) || !c.is_ascii();
    let dot_atom = |s: &str, ok: &dyn Fn(char) -> bool| {
        !s.is_empty()
            && s.split('.')
                .all(|part| !part.is_empty() && part.chars().all(ok))
    };
    if !dot_atom(local, &atom_char) {
        return Err("invalid local part");
    }
    let is_literal = domain.starts_with('[')
        && domain.ends_with(']')
        && domain.len() > 2
        && domain[1..domain.len() - 1]
            .chars()
            .all(|c| c.is_ascii_hexdigit() || ".:".contains(c) || c.is_ascii_alphabetic());
    let label_char = |c: char| c.is_alphanumeric() || c == '-' || !c.is_ascii();
    if !is_literal && !dot_atom(domain, &label_char) {
        return Err("invalid domain");
    }
    Ok(())
}

/// Parses `Name <addr>`, `"Last, First" <addr>` or `<addr>`, with the same parser that reads
/// mail, so quoting and encoded words work. Only text with a `<…>` part is taken, and only
/// one mailbox; the address is validated.
pub fn parse_name_addr(text: &str) -> Option<Mailbox> {
    let text = text.trim();
    if !text.ends_with('>') || !text.contains('<') || text.chars().any(|c| c.is_control()) {
        return None;
    }
    let header = format!("From: {text}\r\n\r\n");
    let parsed = mail_parser::MessageParser::new().parse_headers(header.as_bytes())?;
    let list = parsed.from()?.as_list()?;
    let [addr] = list else { return None };
    let address = addr.address.as_deref()?.trim().to_string();
    validate(&address).ok()?;
    let name = addr
        .name
        .as_deref()
        .map(single_line)
        .filter(|n| !n.is_empty());
    Some(Mailbox { name, address })
}

/// Parses a configured or typed mailbox: `Name <addr>`, `SMTP:addr` or a bare address.
pub fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    if let Some(mailbox) = parse_name_addr(text) {
        return Ok(mailbox);
    }
    let address = match split_type(text) {
        Typed::Smtp(a) | Typed::Untyped(a) => a,
        Typed::Other { kind, .. } => return Err(format!("address type {kind}: is not SMTP")),
    };
    validate(address).map_err(|why| format!("{why}: {:?}", address))?;
    Ok(Mailbox {
        name: None,
        address: address.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_prefixes() {
        assert_eq!(split_type("SMTP:bob@x.org"), Typed::Smtp("bob@x.org"));
        assert_eq!(split_type("smtp:bob@x.org"), Typed::Smtp("bob@x.org"));
        assert_eq!(split_type("SMTP:"), Typed::Smtp(""));
        assert_eq!(
            split_type("FAX:123"),
            Typed::Other {
                kind: "FAX",
                rest: "123"
            }
        );
        assert_eq!(split_type("bob@x.org"), Typed::Untyped("bob@x.org"));
        assert_eq!(split_type("a@[IPv6:1::2]"), Typed::Untyped("a@[IPv6:1::2]"));
    }

    #[test]
    fn validation() {
        assert!(validate("bob@example.org").is_ok());
        assert!(validate("o'brien+tag@sub.example.org").is_ok());
        assert!(validate("bob@example.org\r\nBcc: eve@x.org").is_err());
        assert!(validate("bob example@x.org").is_err());
        assert!(validate("bob@").is_err());
        assert!(validate("@x.org").is_err());
        assert!(validate("a..b@x.org").is_err());
        assert!(validate("<bob@x.org>").is_err());
        assert!(validate("bob").is_err());
        assert!(validate("jürgen@exämple.org").is_ok());
        for hidden in [
            "bob\u{a0}@example.org",
            "bob\u{2028}x@example.org",
            "bob\u{202e}gro.live@example.org",
            "bob\u{200b}@example.org",
        ] {
            assert!(validate(hidden).is_err(), "{hidden:?}");
        }
    }

    #[test]
    fn lists() {
        assert_eq!(
            split_list("bob@x.org, carol@x.org"),
            ["bob@x.org", "carol@x.org"]
        );
        assert_eq!(split_list("a@x.org;;b@x.org ;"), ["a@x.org", "b@x.org"]);
        assert_eq!(
            split_list("\"Doe, Jane\" <jane@x.org>; Bob (a, b) <b@x.org>"),
            ["\"Doe, Jane\" <jane@x.org>", "Bob (a, b) <b@x.org>"]
        );
        assert_eq!(split_list("Bob Smith"), ["Bob Smith"]);
    }

    #[test]
    fn name_addr() {
        let m = parse_mailbox("Accounts <accounts@example.org>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Accounts"));
        assert_eq!(m.address, "accounts@example.org");
        let m = parse_mailbox("\"Doe, Jane\" <jane@example.org>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Doe, Jane"));
        let m = parse_mailbox("SMTP:bob@x.org").unwrap();
        assert_eq!(
            m,
            Mailbox {
                name: None,
                address: "bob@x.org".into()
            }
        );
        assert!(parse_mailbox("Eve <eve@x.org>\r\nBcc: y@z.org").is_err());
        assert!(parse_mailbox("EX:/o=Org/cn=bob").is_err());
    }
}
