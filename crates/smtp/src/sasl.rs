//! SASL with bearer tokens: XOAUTH2 (Google's and Microsoft's) and OAUTHBEARER (RFC 7628).
//!
//! Written here rather than through lettre: lettre's `Mechanism::Xoauth2` answers the
//! server's error challenge (a 334 carrying a JSON status) by dropping the connection
//! instead of sending the empty response the mechanism requires, which leaves the server
//! waiting and hides its 535; and lettre has no OAUTHBEARER. No maintained SMTP crate
//! offers OAUTHBEARER either. Both mechanisms are one client message plus that one dummy
//! answer, so lettre's connection is used command by command, as for the rest of SMTP.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lettre::transport::smtp::client::SmtpConnection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Xoauth2,
    OAuthBearer,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The client's one message, before base64.
    fn message(self, user: &str, host: &str, port: u16, token: &str) -> String {
        match self {
            Mechanism::Xoauth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
            // RFC 7628 §3.1: gs2-header with the authzid (`,` and `=` escaped as in RFC
            // 5801), then host, port and auth as key=value pairs.
            Mechanism::OAuthBearer => format!(
                "n,a={},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01",
                user.replace('=', "=3D").replace(',', "=2C")
            ),
        }
    }

    /// The answer to an error challenge: empty for XOAUTH2; a single ^A for OAUTHBEARER
    /// (RFC 7628 §3.2.3).
    fn dummy(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "",
            Mechanism::OAuthBearer => "AQ==",
        }
    }
}

/// A command line whose text must never reach a log: lettre's `command` takes `Display`.
pub(crate) struct Line(pub(crate) String);

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub enum Outcome {
    Accepted,
    /// The token was refused (535, or the error challenge): refresh it and try once more.
    /// The text is the server's answer, never the token.
    Rejected(String),
    Failed(lettre::transport::smtp::Error),
}

/// `AUTH <mechanism> <initial response>` on `conn`; the caller checked that `conn` is
/// encrypted.
pub fn authenticate(
    conn: &mut SmtpConnection,
    mechanism: Mechanism,
    user: &str,
    host: &str,
    port: u16,
    token: &str,
) -> Outcome {
    let initial = STANDARD.encode(mechanism.message(user, host, port, token));
    let first = conn.command(Line(format!("AUTH {} {initial}\r\n", mechanism.name())));
    let response = match first {
        Ok(r) if r.has_code(334) => {
            let status = error_status(r.message().collect::<Vec<_>>().join(""));
            tracing::debug!(mechanism = mechanism.name(), status, "error challenge");
            conn.command(Line(format!("{}\r\n", mechanism.dummy())))
        }
        other => other,
    };
    match response {
        Ok(r) if r.has_code(235) => Outcome::Accepted,
        Ok(r) => Outcome::Rejected(format!(
            "unexpected answer {}",
            r.first_line().unwrap_or("")
        )),
        Err(e) if e.status().is_some_and(|c| c.to_string() == "535") => {
            Outcome::Rejected(e.to_string())
        }
        Err(e) => Outcome::Failed(e),
    }
}

/// The `status` of an error challenge (base64 JSON), for the log.
fn error_status(challenge: String) -> String {
    STANDARD
        .decode(challenge.trim())
        .ok()
        .and_then(|json| {
            let text = String::from_utf8_lossy(&json).into_owned();
            let at = text.find("\"status\"")?;
            Some(
                text[at + 8..]
                    .trim_start_matches([':', ' ', '"'])
                    .split('"')
                    .next()?
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(32)
                    .collect(),
            )
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_the_mechanisms() {
        assert_eq!(
            Mechanism::Xoauth2.message("a@x.org", "h", 587, "T"),
            "user=a@x.org\x01auth=Bearer T\x01\x01"
        );
        assert_eq!(
            Mechanism::OAuthBearer.message("a,b=c@x.org", "smtp.x.org", 587, "T"),
            "n,a=a=2Cb=3Dc@x.org,\x01host=smtp.x.org\x01port=587\x01auth=Bearer T\x01\x01"
        );
        let challenge = STANDARD.encode(r#"{"status":"invalid_token","scope":"x"}"#);
        assert_eq!(error_status(challenge), "invalid_token");
    }
}
