//! SMTP's side of the spool (the spool itself is `mapishim_outbox::spool`): the envelope
//! of a stored message, the bytes without Bcc, and what each failure means for it.
use crate::{Failure, SmtpBackend};
use mapishim_outbox::spool::{Courier, Undelivered};

/// The envelope of a stored message: From, and To + Cc + Bcc (each once).
fn envelope(raw: &[u8]) -> Option<(String, Vec<String>)> {
    let parsed = mail_parser::MessageParser::new().parse_headers(raw)?;
    let from = parsed.from()?.first()?.address()?.to_string();
    let mut recipients: Vec<String> = Vec::new();
    for list in [parsed.to(), parsed.cc(), parsed.bcc()]
        .into_iter()
        .flatten()
    {
        for addr in list.iter().filter_map(|a| a.address()) {
            if !recipients.iter().any(|r| r.eq_ignore_ascii_case(addr)) {
                recipients.push(addr.to_string());
            }
        }
    }
    Some((from, recipients))
}

/// The stored bytes without the Bcc header (and its folded lines): what goes on the wire.
pub fn without_bcc(raw: &[u8]) -> Vec<u8> {
    let header_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(raw.len());
    let mut out = Vec::with_capacity(raw.len());
    let mut skipping = false;
    for line in raw[..header_end].split_inclusive(|b| *b == b'\n') {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continuation {
            skipping = line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"bcc:");
        }
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(&raw[header_end..]);
    out
}

impl Courier for SmtpBackend {
    fn deliver_stored(&self, raw: &[u8]) -> Result<Vec<(String, String)>, Undelivered> {
        let Some((from, recipients)) = envelope(raw) else {
            return Err(Undelivered::Refused(
                "unreadable message: no From or no recipients".into(),
            ));
        };
        let rcpts: Vec<&str> = recipients.iter().map(String::as_str).collect();
        match self.deliver(&from, &rcpts, &without_bcc(raw)) {
            Ok(accepted) => Ok(accepted.rejected),
            Err(Failure::AllRejected(rejected)) => Err(Undelivered::Refused(
                mapishim_outbox::spool::rejection_reason(&rejected),
            )),
            Err(Failure::Permanent(reason) | Failure::NoSmtpUtf8(reason)) => {
                Err(Undelivered::Refused(reason))
            }
            Err(Failure::Transient(why) | Failure::Tls(why) | Failure::Auth(why)) => {
                Err(Undelivered::Later(why))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcc_is_removed_with_its_folded_lines() {
        let raw = b"From: <a@x.org>\r\nBcc: <b@x.org>,\r\n\t<c@x.org>\r\nSubject: s\r\n\r\nBcc: stays in the body\r\n";
        assert_eq!(
            without_bcc(raw),
            b"From: <a@x.org>\r\nSubject: s\r\n\r\nBcc: stays in the body\r\n"
        );
    }

    #[test]
    fn envelope_includes_bcc_once() {
        let raw = b"From: A <a@x.org>\r\nTo: <b@x.org>\r\nCc: <B@x.org>, <c@x.org>\r\nBcc: <d@x.org>\r\n\r\nbody";
        let (from, rcpts) = envelope(raw).unwrap();
        assert_eq!(from, "a@x.org");
        assert_eq!(rcpts, ["b@x.org", "c@x.org", "d@x.org"]);
    }
}
