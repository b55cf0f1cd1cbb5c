//! Plain text from an HTML body, for the `text/plain` half of a `multipart/alternative`.
//!
//! Written by hand: the `html2text` crate builds a full HTML5 tree with html5ever (a dozen
//! crates and several hundred KiB in a DLL with a 4 MiB budget) to render tables and links
//! as Markdown. Readers show the HTML part; the text part only has to carry the words, the
//! paragraphs and the link targets, which a tag-aware scan with entity decoding does.

/// Elements whose content is never text.
const HIDDEN: &[&str] = &["head", "script", "style", "title", "template", "noscript"];
/// Elements that end a line.
const BREAKS: &[&str] = &[
    "br",
    "p",
    "div",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "ul",
    "ol",
    "blockquote",
    "pre",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "dt",
    "dd",
];

/// The text of `html`, with CRLF line ends, single blank lines between blocks, and
/// `(https://…)` after a link whose text is not its target.
pub fn to_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    let mut hidden: Option<String> = None;
    let mut link: Option<(String, usize)> = None;
    let mut in_pre = false;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            if hidden.is_none() {
                push_text(&mut out, rest, in_pre);
            }
            break;
        };
        if hidden.is_none() {
            push_text(&mut out, &rest[..lt], in_pre);
        }
        rest = &rest[lt..];
        // As in HTML5, `<` starts a tag only before a letter, `/` or `!`; else it is text.
        if !rest[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!') {
            if hidden.is_none() {
                push_text(&mut out, "<", in_pre);
            }
            rest = &rest[1..];
            continue;
        }
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let end = tag_end(rest);
        let tag = &rest[1..end.saturating_sub(1).max(1)];
        rest = &rest[end..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(open) = &hidden {
            if closing && *open == name {
                hidden = None;
            }
            continue;
        }
        if !closing && HIDDEN.contains(&name.as_str()) && !tag.ends_with('/') {
            hidden = Some(name);
            continue;
        }
        match name.as_str() {
            "a" if !closing => link = attribute(tag, "href").map(|h| (h, out.len())),
            "a" => {
                if let Some((href, start)) = link.take() {
                    let shown = out[start..].trim();
                    let target = href.strip_prefix("mailto:").unwrap_or(&href);
                    if !href.starts_with('#') && !href.is_empty() && shown != target {
                        out.push_str(&format!(" ({href})"));
                    }
                }
            }
            "pre" => in_pre = !closing,
            "li" if !closing => {
                line_break(&mut out);
                out.push_str("- ");
            }
            "td" | "th" if !closing && !out.ends_with('\n') && !out.is_empty() => {
                out.push('\t');
            }
            "td" | "th" => {}
            n if BREAKS.contains(&n) => {
                line_break(&mut out);
                if matches!(n, "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table") {
                    blank_line(&mut out);
                }
            }
            _ => {}
        }
    }
    let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    let mut text = String::new();
    let mut blank = 0;
    for line in lines {
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !text.is_empty() {
            text.push_str(if blank > 0 { "\r\n\r\n" } else { "\r\n" });
        }
        blank = 0;
        text.push_str(line);
    }
    if !text.is_empty() {
        text.push_str("\r\n");
    }
    text
}

/// Where the tag starting at `text[0] == '<'` ends (after its `>`), skipping quoted values.
fn tag_end(text: &str) -> usize {
    let mut quote = None;
    for (index, c) in text.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return index + 1,
            _ => {}
        }
    }
    text.len()
}

/// The value of `name="…"` (or `'…'`, or bare) in a tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        let before = lower[..at].chars().next_back();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let after = tag[from..].trim_start();
        let Some(value) = after.strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        let raw = match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
            _ => value
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or(""),
        };
        return Some(decode_entities(raw));
    }
    None
}

fn line_break(out: &mut String) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

fn blank_line(out: &mut String) {
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
}

/// Text between tags: white space collapsed (kept inside `<pre>`), entities decoded.
fn push_text(out: &mut String, text: &str, in_pre: bool) {
    let decoded = decode_entities(text);
    if in_pre {
        out.push_str(&decoded);
        return;
    }
    for (index, word) in decoded.split(|c: char| c.is_ascii_whitespace()).enumerate() {
        let space_before = index > 0 || decoded.starts_with(|c: char| c.is_ascii_whitespace());
        if space_before && !out.is_empty() && !out.ends_with([' ', '\n', '\t']) {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// `&amp;`, `&#233;`, `&#xE9;` and the named entities mail HTML uses; others stay as written.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..]
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '#')
            .map(|e| e + 1);
        let decoded = match end {
            Some(end) if rest[end..].starts_with(';') => {
                entity(&rest[1..end]).map(|c| (c, end + 1))
            }
            _ => None,
        };
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| !c.is_control() || c.is_whitespace());
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "deg" => '°',
        "plusmn" => '±',
        "times" => '×',
        "divide" => '÷',
        "middot" => '·',
        "bull" => '•',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "ecirc" => 'ê',
        "Eacute" => 'É',
        "aacute" => 'á',
        "agrave" => 'à',
        "acirc" => 'â',
        "ccedil" => 'ç',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "ntilde" => 'ñ',
        "oslash" => 'ø',
        "aring" => 'å',
        "aelig" => 'æ',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_paragraphs_lists_and_links() {
        let html = "<!DOCTYPE html><html><head><title>T</title><style>p{x:1}</style></head>\
            <body><h1>Report   Q3</h1><p>Sales &amp; costs:&nbsp;<b>up</b> 5&#8239;%.<br>Next line</p>\
            <ul><li>one</li><li>two</li></ul><!-- hidden --><script>alert(1)</script>\
            <p>See <a href=\"https://x.org/r?a=1&amp;b=2\">the report</a> or \
            <a href='mailto:bob@x.org'>bob@x.org</a>.</p>\
            <table><tr><td>a</td><td>b</td></tr></table><pre>  kept\n   as is</pre></body></html>";
        assert_eq!(
            to_text(html),
            "Report Q3\r\n\r\nSales & costs:\u{a0}up 5\u{202f}%.\r\nNext line\r\n\r\n- one\r\n- two\r\n\r\n\
             See the report (https://x.org/r?a=1&b=2) or bob@x.org.\r\n\r\na\tb\r\n\r\n  kept\r\n   as is\r\n"
        );
    }

    #[test]
    fn broken_html_never_loses_text_or_panics() {
        assert_eq!(to_text("a < b and c > d"), "a < b and c > d\r\n");
        assert_eq!(
            to_text("x &bogus; &#xZZ; &#0; &"),
            "x &bogus; &#xZZ; &#0; &\r\n"
        );
        assert_eq!(to_text("<p title='a>b'>ok</p>"), "ok\r\n");
        assert_eq!(to_text("<script>never closed"), "");
        assert_eq!(to_text(""), "");
        assert_eq!(to_text("<a href=\"x\">é</a"), "é\r\n");
    }
}
