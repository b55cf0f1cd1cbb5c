//! Decoding callers' strings and making them safe for headers and file names.
use crate::RawText;
use encoding_rs::Encoding;
use std::path::PathBuf;

/// Decodes caller strings: narrow ones in the ANSI code page (or UTF-8 when the message says
/// `CP_UTF8`), wide ones as UTF-16. Invalid sequences and lone surrogates become U+FFFD.
#[derive(Debug, Clone, Copy)]
pub struct TextDecoder {
    ansi: &'static Encoding,
}

static SYSTEM_ANSI: std::sync::OnceLock<&'static Encoding> = std::sync::OnceLock::new();

/// Records the process's ANSI code page (`GetACP()` on Windows), the default for narrow
/// strings when `ansi_codepage` is not configured. Unknown code pages keep UTF-8.
pub fn set_system_ansi_codepage(code_page: u32) -> bool {
    match u16::try_from(code_page)
        .ok()
        .and_then(codepage::to_encoding)
    {
        Some(encoding) => SYSTEM_ANSI.set(encoding).is_ok() || SYSTEM_ANSI.get() == Some(&encoding),
        None => false,
    }
}

/// The default decoder: the system ANSI code page where one was recorded, else UTF-8.
impl Default for TextDecoder {
    fn default() -> Self {
        Self {
            ansi: SYSTEM_ANSI.get().copied().unwrap_or(encoding_rs::UTF_8),
        }
    }
}

/// A decoded string and whether anything had to be replaced.
pub struct Decoded {
    pub text: String,
    pub replaced: bool,
}

impl TextDecoder {
    pub fn new(ansi: &'static Encoding) -> Self {
        Self { ansi }
    }

    /// `ansi_codepage` from the configuration: a WHATWG label such as `windows-1252`.
    pub fn from_label(label: &str) -> Option<Self> {
        Encoding::for_label(label.trim().as_bytes()).map(Self::new)
    }

    pub fn ansi_name(&self) -> &'static str {
        self.ansi.name()
    }

    pub fn decode(&self, raw: &RawText, narrow_is_utf8: bool) -> Decoded {
        match raw {
            RawText::Narrow(bytes) => {
                let encoding = if narrow_is_utf8 {
                    encoding_rs::UTF_8
                } else {
                    self.ansi
                };
                let (text, replaced) = encoding.decode_without_bom_handling(bytes);
                Decoded {
                    text: text.into_owned(),
                    replaced,
                }
            }
            RawText::Wide(units) => {
                let mut replaced = false;
                let text = char::decode_utf16(units.iter().copied())
                    .map(|r| {
                        r.unwrap_or_else(|_| {
                            replaced = true;
                            char::REPLACEMENT_CHARACTER
                        })
                    })
                    .collect();
                Decoded { text, replaced }
            }
        }
    }

    /// Encodes a string for a narrow out-parameter in the ANSI code page. Characters the code
    /// page lacks become `?` (encoding_rs would write HTML entities); NULs are dropped.
    pub fn encode_ansi(&self, text: &str) -> Vec<u8> {
        let text = text.replace('\0', "");
        if self.ansi == encoding_rs::UTF_8 {
            return text.into_bytes();
        }
        let mut encoder = self.ansi.new_encoder();
        let mut out = Vec::with_capacity(text.len() + 8);
        let mut rest = text.as_str();
        loop {
            let needed = encoder
                .max_buffer_length_from_utf8_without_replacement(rest.len())
                .unwrap_or(rest.len() * 4 + 16);
            out.reserve(needed);
            let (result, read) =
                encoder.encode_from_utf8_to_vec_without_replacement(rest, &mut out, true);
            rest = &rest[read..];
            match result {
                encoding_rs::EncoderResult::InputEmpty => return out,
                encoding_rs::EncoderResult::OutputFull => {}
                encoding_rs::EncoderResult::Unmappable(_) => out.push(b'?'),
            }
        }
    }

    /// Whether `text` survives [`TextDecoder::encode_ansi`] unchanged.
    pub fn can_encode_ansi(&self, text: &str) -> bool {
        !self.ansi.encode(text).2
    }

    /// The path the caller meant. On Unix a narrow path is passed on byte for byte, exactly
    /// as `fopen` would see it; elsewhere it is decoded like any other string.
    pub fn path(&self, raw: &RawText, narrow_is_utf8: bool) -> PathBuf {
        #[cfg(unix)]
        if let RawText::Narrow(bytes) = raw {
            use std::os::unix::ffi::OsStrExt;
            return PathBuf::from(std::ffi::OsStr::from_bytes(bytes));
        }
        PathBuf::from(self.decode(raw, narrow_is_utf8).text)
    }
}

/// Normalizes LF, CR and CRLF line ends to CRLF and drops NULs.
pub fn normalize_crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\r\n");
            }
            '\n' => out.push_str("\r\n"),
            '\0' => {}
            c => out.push(c),
        }
    }
    out
}

/// One line of header-safe text: control characters (CR and LF included) become spaces,
/// runs of white space collapse, and the ends are trimmed.
pub fn single_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for ch in text.chars() {
        if ch.is_control() || ch.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(ch);
        }
    }
    out
}

/// Characters no attachment name may carry: path separators and what Windows forbids.
const FILE_NAME_FORBIDDEN: &[char] = &['/', '\\', ':', '*', '?', '"', '<', '>', '|'];
/// File systems limit a name to 255 bytes (not characters): this leaves room for a
/// ` (n)` suffix.
const MAX_FILE_NAME_BYTES: usize = 200;

/// Reduces a caller's display name to a bare file name: the last path component, on one
/// line, without characters any file system refuses. Empty when nothing usable is left.
pub fn bare_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = single_line(last)
        .chars()
        .map(|c| {
            if FILE_NAME_FORBIDDEN.contains(&c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '.' || c == ' ');
    truncate_file_name(trimmed, MAX_FILE_NAME_BYTES)
}

/// `name` cut to at most `max_bytes` of UTF-8 on a character boundary, keeping a short
/// extension: it decides the content type and how the recipient opens the file.
pub fn truncate_file_name(name: &str, max_bytes: usize) -> String {
    if name.len() <= max_bytes {
        return name.to_string();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if name.len() - dot <= 16 => name.split_at(dot),
        _ => (name, ""),
    };
    let mut keep = max_bytes.saturating_sub(ext.len());
    while !stem.is_char_boundary(keep.min(stem.len())) {
        keep -= 1;
    }
    format!("{}{ext}", &stem[..keep.min(stem.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_ansi_utf8_and_utf16() {
        let cp1252 = TextDecoder::from_label("windows-1252").unwrap();
        let raw = RawText::Narrow(vec![0xE9, 0x80, 0xFC]);
        assert_eq!(cp1252.decode(&raw, false).text, "é€ü");
        let utf8 = RawText::Narrow("é€ü".as_bytes().to_vec());
        assert_eq!(cp1252.decode(&utf8, true).text, "é€ü");
        let lone = RawText::Wide(vec![0x41, 0xD800, 0x42]);
        let d = TextDecoder::default().decode(&lone, false);
        assert_eq!(d.text, "A\u{FFFD}B");
        assert!(d.replaced);
    }

    #[test]
    fn encodes_for_the_code_page() {
        let cp1252 = TextDecoder::from_label("windows-1252").unwrap();
        assert_eq!(cp1252.encode_ansi("é€漢"), vec![0xE9, 0x80, b'?']);
        assert_eq!(TextDecoder::default().encode_ansi("é"), "é".as_bytes());
    }

    #[test]
    fn line_ends_become_crlf() {
        assert_eq!(normalize_crlf("a\nb\r\nc\rd"), "a\r\nb\r\nc\r\nd");
    }

    #[test]
    fn header_text_is_one_line() {
        assert_eq!(single_line(" Hi\r\nBcc: x@y \t z "), "Hi Bcc: x@y z");
    }

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(bare_file_name("C:\\tmp\\report.pdf"), "report.pdf");
        assert_eq!(bare_file_name("../../etc/passwd"), "passwd");
        assert_eq!(
            bare_file_name("a\r\nContent-Type: x.txt"),
            "a Content-Type_ x.txt"
        );
        assert_eq!(bare_file_name(".."), "");
        let long = format!("{}.pdf", "x".repeat(500));
        let short = bare_file_name(&long);
        assert_eq!(short.len(), MAX_FILE_NAME_BYTES);
        assert!(short.ends_with(".pdf"));
        let wide = bare_file_name(&format!("{}.pdf", "日".repeat(100)));
        assert!(
            wide.len() <= MAX_FILE_NAME_BYTES && wide.ends_with(".pdf"),
            "{wide}"
        );
        assert!(wide.starts_with("日日"));
    }
}
