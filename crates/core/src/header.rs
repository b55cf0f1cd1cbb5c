//! Header values written by hand: display names (RFC 5322 phrases with RFC 2047 §5 encoded
//! words), unstructured text, and folding at 78 characters (never past 998, RFC 5322 §2.1.1).
//!
//! mail-builder 0.4 puts encoded words inside quoted strings with specials left raw (an
//! injection: `é",<evil@x.org>,"` became three mailboxes), never folds encoded words, and
//! writes text that merely looks like an encoded word raw, so readers decode it. Each rule
//! here exists because a reader (Python's `email`, mail-parser) read the other way wrongly.
use crate::Mailbox;

/// RFC 5322 §2.1.1: lines should stay within 78 characters.
pub const FOLD_AT: usize = 78;
/// Payload bytes per encoded word: `=?utf-8?q?` + 63 + `?=` is 75, RFC 2047's word limit.
const WORD_PAYLOAD: usize = 63;
const WORD_END: &str = "?=";

/// A header line being built: `Name: value`, folded before whitespace when the next token
/// would pass [`FOLD_AT`]. Folding only inserts CRLF before a space that is there anyway, so
/// unfolding (RFC 5322 §2.2.3) gives back the value exactly.
pub struct Folder {
    out: String,
    column: usize,
}

impl Folder {
    pub fn new(name: &str) -> Self {
        Folder {
            out: format!("{name}:"),
            column: name.len() + 1,
        }
    }

    /// Appends `token` after one space, folding there when the line would grow too long.
    pub fn word(&mut self, token: &str) {
        let width = token.chars().count();
        if self.column + 1 + width > FOLD_AT && self.column > 1 && !token.is_empty() {
            self.out.push_str("\r\n ");
            self.column = 1;
        } else {
            self.out.push(' ');
            self.column += 1;
        }
        self.out.push_str(token);
        self.column += width;
    }

    /// Appends `token` with no space before it (it cannot be folded there).
    pub fn glue(&mut self, token: &str) {
        self.out.push_str(token);
        self.column += token.chars().count();
    }

    /// The finished line, with its CRLF.
    pub fn finish(mut self) -> String {
        self.out.push_str("\r\n");
        self.out
    }
}

/// Whether `text` holds something a reader would take for an encoded word (item: a subject
/// that is literally `=?utf-8?B?…?=` must read back as typed, so it gets encoded itself).
fn looks_encoded(text: &str) -> bool {
    text.contains("=?")
}

/// RFC 2047 §5 (3): inside a phrase, a `Q` word may hold only letters, digits and `!*+-/`;
/// everything else is `=XX`, space is `_`. Using this set for unstructured text too keeps
/// one encoder (it is a subset of what §5 (1) allows there).
fn q_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!*+-/".contains(&b)
}

/// One character's `Q` form.
fn q_piece(ch: char) -> String {
    let mut buf = [0u8; 4];
    let mut piece = String::new();
    for &b in ch.encode_utf8(&mut buf).as_bytes() {
        match b {
            b' ' => piece.push('_'),
            b if q_plain(b) => piece.push(b as char),
            b => piece.push_str(&format!("={b:02X}")),
        }
    }
    piece
}

/// `text` as a run of encoded words, each at most 75 characters and each holding whole
/// characters (RFC 2047 §5: a word never splits a character). `Q` when that is shorter
/// (mostly ASCII), else `B` (a non-ASCII letter costs 6 characters in `Q`, under 3 in `B`).
pub fn encoded_words(text: &str) -> Vec<String> {
    let q_len: usize = text.chars().map(|c| q_piece(c).len()).sum();
    let b_len = text.len().div_ceil(3) * 4;
    if q_len <= b_len {
        return pack(
            text,
            "=?utf-8?q?",
            |chunk| chunk.chars().map(q_piece).collect(),
            |s| s.chars().map(|c| q_piece(c).len()).sum(),
        );
    }
    use base64::Engine;
    let b64 = |chunk: &str| base64::engine::general_purpose::STANDARD.encode(chunk);
    pack(text, "=?utf-8?b?", b64, |s| s.len().div_ceil(3) * 4)
}

/// Splits `text` at character boundaries into the fewest words whose payload fits.
fn pack(
    text: &str,
    start: &str,
    encode: impl Fn(&str) -> String,
    cost: impl Fn(&str) -> usize,
) -> Vec<String> {
    let mut words = Vec::new();
    let mut from = 0;
    let mut end = 0;
    for (index, ch) in text.char_indices() {
        let next = index + ch.len_utf8();
        if cost(&text[from..next]) > WORD_PAYLOAD && end > from {
            words.push(format!("{start}{}{WORD_END}", encode(&text[from..end])));
            from = end;
        }
        end = next;
    }
    if from < text.len() || words.is_empty() {
        words.push(format!("{start}{}{WORD_END}", encode(&text[from..])));
    }
    words
}

/// RFC 5322 `atext`.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// A word short enough to stand on a folded line of its own.
fn foldable(word: &str) -> bool {
    word.len() <= FOLD_AT - 2
}

/// A display name as phrase words: atoms when it is plain ASCII words; one quoted string
/// when it is printable ASCII with specials and fits on a line; otherwise plain words stay
/// atoms and each run of other words becomes encoded words, never inside quotes.
///
/// Readers disagree on the space between two adjacent encoded words in a phrase: RFC 2047
/// §6.2 (and mail-parser, and Python's `decode_header`) drop it, Python's default policy
/// keeps it. So a run is one encoded word whenever it fits, and spaces inside a run are
/// encoded; only runs too long for one word (over ~45 bytes) read differently there.
/// Names are single-line with single spaces ([`crate::text::single_line`]).
pub fn phrase(name: &str) -> Vec<String> {
    let printable = name.chars().all(|c| c == ' ' || c.is_ascii_graphic());
    let single_spaced = !name.starts_with(' ') && !name.ends_with(' ') && !name.contains("  ");
    let plain_atom =
        |w: &str| !w.is_empty() && w.chars().all(is_atext) && foldable(w) && !looks_encoded(w);
    if printable && single_spaced && !looks_encoded(name) && !name.is_empty() {
        if name.split(' ').all(plain_atom) {
            return name.split(' ').map(str::to_string).collect();
        }
        let quoted = format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""));
        if quoted.len() <= FOLD_AT - 6 {
            return vec![quoted];
        }
    }
    if !single_spaced {
        return encoded_words(name);
    }
    let mut out = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for word in name.split(' ') {
        if plain_atom(word) {
            if !run.is_empty() {
                out.extend(encoded_words(&run.join(" ")));
                run.clear();
            }
            out.push(word.to_string());
        } else {
            run.push(word);
        }
    }
    if !run.is_empty() {
        out.extend(encoded_words(&run.join(" ")));
    }
    out
}

/// Unstructured text (Subject): raw words when printable ASCII that no reader decodes and
/// every word can be folded, else encoded words only.
pub fn unstructured(text: &str) -> Vec<String> {
    let printable = text.chars().all(|c| c == ' ' || c.is_ascii_graphic());
    let single_spaced = !text.starts_with(' ') && !text.ends_with(' ') && !text.contains("  ");
    if printable && single_spaced && !looks_encoded(text) && text.split(' ').all(foldable) {
        return text.split(' ').map(str::to_string).collect();
    }
    encoded_words(text)
}

/// `Name: text`, folded.
pub fn text_header(name: &str, text: &str) -> String {
    let mut line = Folder::new(name);
    for word in unstructured(text) {
        line.word(&word);
    }
    line.finish()
}

/// `Name: phrase <addr>, <addr>, …`, folded between words and after commas.
pub fn address_header(name: &str, list: &[Mailbox]) -> String {
    let mut line = Folder::new(name);
    for (index, mailbox) in list.iter().enumerate() {
        if index > 0 {
            line.glue(",");
        }
        if let Some(display) = mailbox.name.as_deref().filter(|n| !n.is_empty()) {
            for word in phrase(display) {
                line.word(&word);
            }
        }
        line.word(&format!("<{}>", mailbox.address));
    }
    line.finish()
}

/// `Name: value; p1; p2…` for MIME parameters that are already encoded (RFC 2231 pieces),
/// folded after each `;`.
pub fn parameter_header(name: &str, value: &str, parameters: &[String]) -> String {
    let mut line = Folder::new(name);
    line.word(value);
    for parameter in parameters {
        line.glue(";");
        line.word(parameter);
    }
    line.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unfold(s: &str) -> String {
        s.replace("\r\n ", " ")
    }

    #[test]
    fn plain_names_stay_readable() {
        assert_eq!(phrase("Bob Smith"), ["Bob", "Smith"]);
        assert_eq!(phrase("Doe, Jane"), ["\"Doe, Jane\""]);
        assert_eq!(phrase("Müller \"Hans\""), encoded_words("Müller \"Hans\""));
        assert_eq!(phrase("Zoë Martin"), ["=?utf-8?q?Zo=C3=AB?=", "Martin"]);
        assert_eq!(phrase("a\\b \"c\""), ["\"a\\\\b \\\"c\\\"\""]);
    }

    #[test]
    fn encoded_words_hold_no_specials_and_whole_characters() {
        for word in encoded_words(&"é\",<evil@x.org>,\" ".repeat(20)) {
            assert!(word.len() <= 75, "{word}");
            let Some(inner) = word.strip_prefix("=?utf-8?q?") else {
                continue;
            };
            let inner = &inner[..inner.len() - 2];
            assert!(
                inner.bytes().all(|b| q_plain(b) || b == b'=' || b == b'_'),
                "{word}"
            );
            // Never a split UTF-8 sequence: é is =C3=A9, always both halves.
            assert_eq!(inner.matches("=C3").count(), inner.matches("=A9").count());
        }
    }

    #[test]
    fn literal_encoded_words_are_encoded() {
        let subject = "=?utf-8?B?SGk=?=";
        let words = unstructured(subject);
        assert!(words.iter().all(|w| w.starts_with("=?utf-8?")), "{words:?}");
        assert_ne!(phrase(subject), [subject]);
    }

    #[test]
    fn long_values_fold_within_limits() {
        for name in ["a".repeat(1000), "é".repeat(1000), "ab ".repeat(333)] {
            let mailbox = Mailbox {
                name: Some(name.clone()),
                address: "bob@example.org".into(),
            };
            for line in [
                address_header("To", &[mailbox]),
                text_header("Subject", &name),
            ] {
                for l in line.split("\r\n") {
                    assert!(l.len() <= FOLD_AT, "{} bytes: {l}", l.len());
                }
            }
        }
        let line = text_header("Subject", &"word ".repeat(100).trim_end().to_string());
        assert_eq!(
            unfold(&line),
            format!("Subject: {}\r\n", "word ".repeat(100).trim_end())
        );
    }
}
