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
    /// Nothing is folded before the first token: a value starting with a fold reads back
    /// with a leading space in Python's `email`.
    empty: bool,
}

impl Folder {
    pub fn new(name: &str) -> Self {
        Folder {
            out: format!("{name}:"),
            column: name.len() + 1,
            empty: true,
        }
    }

    /// Appends `token` after one space, folding there when the line would grow too long.
    pub fn word(&mut self, token: &str) {
        let width = token.chars().count();
        if self.column + 1 + width > FOLD_AT && !self.empty && !token.is_empty() {
            self.out.push_str("\r\n ");
            self.column = 1;
        } else {
            self.out.push(' ');
            self.column += 1;
        }
        self.out.push_str(token);
        self.column += width;
        self.empty = false;
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

/// `text` as a run of encoded words, each at most 75 characters (the first at most
/// `first` payload bytes, so that it fits after the header name) and each holding whole
/// characters (RFC 2047 §5: a word never splits a character). `Q` when that is shorter
/// (mostly ASCII), else `B` (a non-ASCII letter costs 6 characters in `Q`, under 3 in `B`).
pub fn encoded_words(text: &str, first: usize) -> Vec<String> {
    let q_len: usize = text.chars().map(|c| q_piece(c).len()).sum();
    let b_len = text.len().div_ceil(3) * 4;
    if q_len <= b_len {
        let q = |chunk: &str| chunk.chars().map(q_piece).collect::<String>();
        return pack(text, "=?utf-8?q?", first, q, |s| q(s).len());
    }
    use base64::Engine;
    let b64 = |chunk: &str| base64::engine::general_purpose::STANDARD.encode(chunk);
    pack(text, "=?utf-8?b?", first, b64, |s| s.len().div_ceil(3) * 4)
}

/// Splits `text` into the fewest words whose payload fits, at a space where the chunk has
/// one (readers that wrongly keep the space between two words then show two spaces, not a
/// space inside a word), else at a character boundary.
fn pack(
    text: &str,
    start: &str,
    first: usize,
    encode: impl Fn(&str) -> String,
    cost: impl Fn(&str) -> usize,
) -> Vec<String> {
    let mut words = Vec::new();
    let mut from = 0;
    let mut end = 0;
    for (index, ch) in text.char_indices() {
        let next = index + ch.len_utf8();
        let limit = if words.is_empty() {
            first
        } else {
            WORD_PAYLOAD
        };
        if cost(&text[from..next]) > limit && end > from {
            let cut = match text[from..end].rfind(' ') {
                Some(space) if space > 0 => from + space,
                _ => end,
            };
            words.push(format!("{start}{}{WORD_END}", encode(&text[from..cut])));
            from = cut;
        }
        end = next;
    }
    if from < text.len() || words.is_empty() {
        words.push(format!("{start}{}{WORD_END}", encode(&text[from..])));
    }
    words
}

/// Payload bytes the first encoded word may hold after `column` characters of a line.
pub fn first_payload(column: usize) -> usize {
    FOLD_AT
        .saturating_sub(column + 1 + "=?utf-8?q??=".len())
        .clamp(8, WORD_PAYLOAD)
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
pub fn phrase(name: &str, first: usize) -> Vec<String> {
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
        return encoded_words(name, first);
    }
    let mut out = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for word in name.split(' ') {
        if plain_atom(word) {
            if !run.is_empty() {
                let budget = if out.is_empty() { first } else { WORD_PAYLOAD };
                out.extend(encoded_words(&run.join(" "), budget));
                run.clear();
            }
            out.push(word.to_string());
        } else {
            run.push(word);
        }
    }
    if !run.is_empty() {
        let budget = if out.is_empty() { first } else { WORD_PAYLOAD };
        out.extend(encoded_words(&run.join(" "), budget));
    }
    out
}

/// Unstructured text (Subject): raw words when printable ASCII that no reader decodes and
/// every word can be folded, else encoded words only.
pub fn unstructured(text: &str, first: usize) -> Vec<String> {
    let printable = text.chars().all(|c| c == ' ' || c.is_ascii_graphic());
    let single_spaced = !text.starts_with(' ') && !text.ends_with(' ') && !text.contains("  ");
    if printable && single_spaced && !looks_encoded(text) && text.split(' ').all(foldable) {
        return text.split(' ').map(str::to_string).collect();
    }
    encoded_words(text, first)
}

/// `Name: text`, folded.
pub fn text_header(name: &str, text: &str) -> String {
    let mut line = Folder::new(name);
    for word in unstructured(text, first_payload(name.len() + 1)) {
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
            let first = if index == 0 {
                first_payload(name.len() + 1)
            } else {
                WORD_PAYLOAD
            };
            for word in phrase(display, first) {
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
        assert_eq!(phrase("Bob Smith", 63), ["Bob", "Smith"]);
        assert_eq!(phrase("Doe, Jane", 63), ["\"Doe, Jane\""]);
        assert_eq!(
            phrase("Müller \"Hans\"", 63),
            encoded_words("Müller \"Hans\"", 63)
        );
        assert_eq!(phrase("Zoë Martin", 63), ["=?utf-8?q?Zo=C3=AB?=", "Martin"]);
        assert_eq!(phrase("a\\b \"c\"", 63), ["\"a\\\\b \\\"c\\\"\""]);
    }

    #[test]
    fn encoded_words_hold_no_specials_and_whole_characters() {
        for word in encoded_words(&"é\",<evil@x.org>,\" ".repeat(20), 63) {
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
        let words = unstructured(subject, 63);
        assert!(words.iter().all(|w| w.starts_with("=?utf-8?")), "{words:?}");
        assert_ne!(phrase(subject, 63), [subject]);
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
        let line = text_header("Subject", "word ".repeat(100).trim_end());
        assert_eq!(
            unfold(&line),
            format!("Subject: {}\r\n", "word ".repeat(100).trim_end())
        );
    }
}
