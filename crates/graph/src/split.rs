//! Messages too large for one Graph request: the top-level attachments that make them so
//! are cut out of the MIME text byte for byte (everything else stays exactly as rendered)
//! and uploaded to the draft afterwards.
use mail_parser::{MessageParser, MimeHeaders, PartType};

/// One attachment taken out of the MIME text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// The MIME text without the attachments in `uploads`.
#[derive(Debug)]
pub struct Split {
    pub mime: Vec<u8>,
    pub uploads: Vec<Upload>,
}

/// The size of `n` bytes in base64, which is how Graph takes MIME.
pub fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Cuts the largest top-level attachments out of `raw` until its base64 fits `limit`
/// (nothing when it fits already). `None` when that is not possible: no multipart, only
/// attachments, or what is left is still too large.
pub fn split(raw: &[u8], limit: usize) -> Option<Split> {
    if base64_len(raw.len()) <= limit {
        return Some(Split {
            mime: raw.to_vec(),
            uploads: Vec::new(),
        });
    }
    let parsed = MessageParser::new().parse(raw)?;
    let PartType::Multipart(children) = &parsed.root_part().body else {
        return None;
    };
    let boundary = parsed.root_part().content_type()?.attribute("boundary")?;
    let delimiter = format!("\r\n--{boundary}");
    // (start, end, upload) per top-level attachment, largest first.
    let mut candidates: Vec<(usize, usize, Upload)> = Vec::new();
    for &id in children {
        let part = parsed.part(id)?;
        if !matches!(part.body, PartType::Binary(_) | PartType::InlineBinary(_))
            || part.attachment_name().is_none()
        {
            continue;
        }
        // The part starts after its delimiter line; cut from that line's CRLF.
        let header = part.offset_header as usize;
        let start = find_last(&raw[..header], delimiter.as_bytes())?;
        let end = part.offset_end as usize;
        let content_type = part
            .content_type()
            .map(|c| match c.subtype() {
                Some(sub) => format!("{}/{sub}", c.ctype()),
                None => c.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        candidates.push((
            start,
            end,
            Upload {
                name: part.attachment_name()?.to_string(),
                content_type,
                data: part.contents().to_vec(),
            },
        ));
    }
    candidates.sort_by_key(|(start, end, _)| std::cmp::Reverse(end - start));
    let mut size = raw.len();
    let mut cut = Vec::new();
    for candidate in candidates {
        if base64_len(size) <= limit {
            break;
        }
        size -= candidate.1 - candidate.0;
        cut.push(candidate);
    }
    if base64_len(size) > limit || cut.len() == children.len() {
        return None;
    }
    cut.sort_by_key(|(start, _, _)| *start);
    let mut mime = Vec::with_capacity(size);
    let mut at = 0;
    let mut uploads = Vec::new();
    for (start, end, upload) in cut {
        mime.extend_from_slice(&raw[at..start]);
        at = end;
        uploads.push(upload);
    }
    mime.extend_from_slice(&raw[at..]);
    Some(Split { mime, uploads })
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(parts: &[(&str, &[u8])]) -> Vec<u8> {
        use base64::Engine;
        let mut m = b"From: <a@x.org>\r\nTo: <b@x.org>\r\nSubject: s\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
            .to_vec();
        for (name, data) in parts {
            m.extend_from_slice(
                format!(
                    "--XX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
                    base64::engine::general_purpose::STANDARD.encode(data)
                )
                .as_bytes(),
            );
        }
        m.extend_from_slice(b"--XX--\r\n");
        m
    }

    #[test]
    fn the_largest_attachments_are_cut_and_the_rest_stays_byte_for_byte() {
        let big = vec![7u8; 6000];
        let small = vec![1u8; 100];
        let raw = message(&[("small.bin", &small), ("big.bin", &big)]);
        let split = split(&raw, 2000).unwrap();
        assert_eq!(split.uploads.len(), 1);
        assert_eq!(split.uploads[0].name, "big.bin");
        assert_eq!(split.uploads[0].data, big);
        assert_eq!(split.mime, message(&[("small.bin", &small)]));
        let left = MessageParser::new().parse(&split.mime).unwrap();
        assert_eq!(left.attachments().count(), 1);
        assert_eq!(left.body_text(0).unwrap().trim(), "body");
    }

    #[test]
    fn nothing_is_cut_when_it_fits_and_none_when_it_cannot() {
        let raw = message(&[("a.bin", &[1u8; 10])]);
        let fits = split(&raw, 1 << 20).unwrap();
        assert!(fits.uploads.is_empty());
        assert_eq!(fits.mime, raw);
        // The body part alone is over the limit: cutting the attachment cannot help.
        assert!(split(&raw, 100).is_none());
        assert!(split(b"From: <a@x.org>\r\n\r\nplain", 1).is_none());
        let plain = b"From: <a@x.org>\r\n\r\nplain";
        assert_eq!(split(plain, 1000).unwrap().mime, plain);
    }
}
