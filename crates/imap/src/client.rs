//! One IMAP connection: TCP with a bound on every read and write, implicit TLS or
//! STARTTLS over rustls with ring, LOGIN or AUTHENTICATE XOAUTH2/OAUTHBEARER, special-use
//! discovery (RFC 6154) and APPEND. `protocol` speaks IMAP; this module supplies the
//! stream and maps its errors to the outcomes that decide the MAPI code.
use crate::protocol::{self, Arg, Connection};
use base64::Engine;
use imap_proto::{MailboxDatum, NameAttribute, ResponseCode, UidSetMember};
use mapishim_core::config::{ImapSettings, OAuth2Settings, Security, SmtpAuth};
use mapishim_oauth2::TokenSource;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// A byte stream IMAP runs over: plain TCP or TLS.
pub trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

/// A logged-in connection.
pub type Session = Connection<Box<dyn Io>>;

/// What went wrong, in the terms that decide the MAPI code.
#[derive(Debug)]
pub enum Failure {
    /// Connection refused, timeout, TLS or certificate problem, connection lost:
    /// `MAPI_E_NETWORK_FAILURE`.
    Unreachable(String),
    /// The server refused the credentials, or there are none: `MAPI_E_LOGIN_FAILURE`.
    Auth(String),
    /// The server refused a command (APPEND NO/BAD): `MAPI_E_FAILURE`.
    Refused(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreachable(s) | Failure::Auth(s) | Failure::Refused(s) => f.write_str(s),
        }
    }
}

/// Which special-use mailbox (RFC 6154) a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialUse {
    Drafts,
    Sent,
}

impl SpecialUse {
    fn attribute(self) -> NameAttribute<'static> {
        match self {
            SpecialUse::Drafts => NameAttribute::Drafts,
            SpecialUse::Sent => NameAttribute::Sent,
        }
    }

    /// The name used when the server marks no mailbox with the attribute.
    pub fn fallback(self) -> &'static str {
        match self {
            SpecialUse::Drafts => "Drafts",
            SpecialUse::Sent => "Sent",
        }
    }
}

/// A confirmed APPEND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub mailbox: String,
    /// From `APPENDUID` (UIDPLUS, RFC 4315) when the server offers it.
    pub uid: Option<u32>,
}

/// An IMAP account from `[imap]`.
pub struct Account {
    settings: ImapSettings,
    tokens: Option<TokenSource>,
}

fn classify(e: protocol::Error, stage: &str) -> Failure {
    match e {
        protocol::Error::No(_) | protocol::Error::Bad(_) => {
            Failure::Refused(format!("{stage}: the server refused it: {e}"))
        }
        protocol::Error::Io(_) => Failure::Unreachable(format!("{stage}: {e}")),
    }
}

/// XOAUTH2 or OAUTHBEARER: the mechanism, the client's one message, and the dummy
/// response the mechanism requires to an error challenge.
struct Bearer {
    mechanism: &'static str,
    message: String,
    dummy: &'static [u8],
}

impl Account {
    pub fn new(settings: ImapSettings, oauth2: Option<&OAuth2Settings>) -> Self {
        let tokens = if settings.auth.uses_tokens() {
            TokenSource::configured(
                settings.oauth2_token_command.as_deref(),
                oauth2,
                Duration::from_secs(settings.timeout_secs),
            )
        } else {
            None
        };
        Account { settings, tokens }
    }

    pub fn settings(&self) -> &ImapSettings {
        &self.settings
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.settings.timeout_secs)
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, Failure> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(ca) = &self.settings.ca_file {
            let certs = CertificateDer::pem_file_iter(ca)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| Failure::Unreachable(format!("ca_file {}: {e}", ca.display())))?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| Failure::Unreachable(format!("ca_file {}: {e}", ca.display())))?;
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::Unreachable(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Arc::new(config))
    }

    fn tls(&self, tcp: TcpStream) -> Result<Box<dyn Io>, Failure> {
        let name = ServerName::try_from(self.settings.host.trim_matches(['[', ']']).to_string())
            .map_err(|e| Failure::Unreachable(format!("host {}: {e}", self.settings.host)))?;
        let conn = rustls::ClientConnection::new(self.tls_config()?, name)
            .map_err(|e| Failure::Unreachable(format!("TLS setup: {e}")))?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        // The handshake now, so that a certificate problem is reported as one.
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).map_err(|e| {
                Failure::Unreachable(format!("TLS with {}: {e}", self.settings.host))
            })?;
        }
        Ok(Box::new(stream))
    }

    fn tcp(&self) -> Result<TcpStream, Failure> {
        let s = &self.settings;
        let at = format!("{}:{}", s.host, s.port);
        let addrs = (s.host.trim_matches(['[', ']']), s.port)
            .to_socket_addrs()
            .map_err(|e| Failure::Unreachable(format!("connect {at}: {e}")))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.timeout()) {
                Ok(tcp) => {
                    let bound = tcp
                        .set_read_timeout(Some(self.timeout()))
                        .and_then(|_| tcp.set_write_timeout(Some(self.timeout())));
                    bound.map_err(|e| Failure::Unreachable(format!("connect {at}: {e}")))?;
                    return Ok(tcp);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(Failure::Unreachable(format!(
            "connect {at}: {}",
            last.map_or("no address".to_string(), |e| e.to_string())
        )))
    }

    /// TCP, TLS as configured, greeting: a connection ready to log in.
    fn open(&self) -> Result<Session, Failure> {
        let tcp = self.tcp()?;
        let host = &self.settings.host;
        match self.settings.security {
            Security::Tls => Connection::open(self.tls(tcp)?).map_err(|e| classify(e, "greeting")),
            Security::None => {
                Connection::open(Box::new(tcp) as Box<dyn Io>).map_err(|e| classify(e, "greeting"))
            }
            Security::Starttls => {
                let mut plain = Connection::open(tcp).map_err(|e| classify(e, "greeting"))?;
                let offered = plain
                    .has("STARTTLS")
                    .map_err(|e| classify(e, "CAPABILITY"))?;
                if !offered {
                    return Err(Failure::Unreachable(format!(
                        "{host} does not offer STARTTLS; set security = \"tls\" or fix the server"
                    )));
                }
                let tcp = plain.starttls().map_err(|e| match e {
                    protocol::Error::Io(_) => {
                        Failure::Unreachable(format!("STARTTLS with {host}: {e}"))
                    }
                    e => Failure::Unreachable(format!("{host} refused STARTTLS: {e}")),
                })?;
                Ok(Connection::resume(self.tls(tcp)?))
            }
        }
    }

    fn password(&self) -> Result<String, Failure> {
        let Some(source) = &self.settings.password else {
            return Err(Failure::Auth("no password configured".into()));
        };
        source
            .read(|cmd| mapishim_command::secret("password_command", cmd, self.timeout()))
            .map_err(Failure::Auth)
    }

    fn bearer(&self, token: &str) -> Bearer {
        let user = self.settings.username.as_deref().unwrap_or_default();
        match self.settings.auth {
            SmtpAuth::Oauthbearer => Bearer {
                mechanism: "OAUTHBEARER",
                // RFC 7628 §3.1, authzid escaped as in RFC 5801.
                message: format!(
                    "n,a={},\x01host={}\x01port={}\x01auth=Bearer {token}\x01\x01",
                    user.replace('=', "=3D").replace(',', "=2C"),
                    self.settings.host,
                    self.settings.port
                ),
                dummy: b"\x01",
            },
            _ => Bearer {
                mechanism: "XOAUTH2",
                message: format!("user={user}\x01auth=Bearer {token}\x01\x01"),
                dummy: b"",
            },
        }
    }

    fn authenticate(session: &mut Session, bearer: &Bearer) -> Result<(), protocol::Error> {
        session.authenticate(bearer.mechanism, bearer.message.as_bytes(), bearer.dummy)
    }

    /// A logged-in session.
    pub fn login(&self) -> Result<Session, Failure> {
        let mut session = self.open()?;
        let user = self.settings.username.clone().unwrap_or_default();
        if !self.settings.auth.uses_tokens() {
            let password = self.password()?;
            // LOGINDISABLED (RFC 3501 §6.2.3): the same credentials through SASL PLAIN.
            let disabled = session
                .has("LOGINDISABLED")
                .map_err(|e| classify(e, "CAPABILITY"))?;
            let result = if disabled {
                let plain = format!("\0{user}\0{password}");
                session.authenticate("PLAIN", plain.as_bytes(), b"")
            } else {
                session
                    .run(&[Arg::Atom("LOGIN"), Arg::Str(&user), Arg::Str(&password)])
                    .map(drop)
            };
            return match result {
                Ok(()) => Ok(session),
                Err(e @ (protocol::Error::No(_) | protocol::Error::Bad(_))) => Err(Failure::Auth(
                    format!("LOGIN as {user}: the server refused it: {e}"),
                )),
                Err(e) => Err(classify(e, "LOGIN")),
            };
        }
        let tokens = self.tokens.as_ref().ok_or_else(|| {
            Failure::Auth(format!(
                "auth = \"{}\" without oauth2_token_command or [oauth2]",
                self.settings.auth.name()
            ))
        })?;
        let token_failure = |e: mapishim_oauth2::Error| {
            if e.is_transient() {
                Failure::Unreachable(format!("getting an access token: {e}"))
            } else {
                Failure::Auth(format!("getting an access token: {e}"))
            }
        };
        let token = tokens.access_token().map_err(token_failure)?;
        match Self::authenticate(&mut session, &self.bearer(token.secret())) {
            Ok(()) => return Ok(session),
            Err(protocol::Error::No(why)) => {
                tracing::info!("access token refused ({why}); refreshing it and trying once more");
            }
            Err(e) => return Err(classify(e, "AUTHENTICATE")),
        }
        let token = tokens.force_refresh(&token).map_err(token_failure)?;
        let bearer = self.bearer(token.secret());
        match Self::authenticate(&mut session, &bearer) {
            Ok(()) => Ok(session),
            Err(e @ (protocol::Error::No(_) | protocol::Error::Bad(_))) => {
                Err(Failure::Auth(format!(
                    "AUTHENTICATE {} as {user}: the server refused a freshly refreshed access token: {e}",
                    bearer.mechanism
                )))
            }
            Err(e) => Err(classify(e, "AUTHENTICATE")),
        }
    }

    /// The mailbox for `use_`: `drafts_folder` when set (for drafts), else the one LIST
    /// marks with the special-use attribute, else the usual name.
    pub fn mailbox(&self, session: &mut Session, use_: SpecialUse) -> Result<String, Failure> {
        if let (SpecialUse::Drafts, Some(folder)) = (use_, &self.settings.drafts_folder) {
            return Ok(folder.clone());
        }
        let listed = session
            .run(&[Arg::Atom("LIST"), Arg::Str(""), Arg::Str("*")])
            .map_err(|e| classify(e, "LIST"))?;
        let wanted = use_.attribute();
        let found = listed.untagged.into_iter().find_map(|r| match r {
            imap_proto::Response::MailboxData(MailboxDatum::List {
                name_attributes,
                name,
                ..
            }) if name_attributes.contains(&wanted) => Some(name.into_owned()),
            _ => None,
        });
        if found.is_none() {
            tracing::info!(
                "no mailbox carries the {:?} special-use attribute; using \"{}\"",
                wanted,
                use_.fallback()
            );
        }
        Ok(found.unwrap_or_else(|| use_.fallback().to_string()))
    }

    /// Logs in, finds the mailbox and APPENDs `data` with `flags`. `data` is the message as
    /// rendered once, written as one literal (LITERAL+ when the server offers it).
    pub fn append(
        &self,
        use_: SpecialUse,
        data: &[u8],
        flags: &[&str],
    ) -> Result<Appended, Failure> {
        let mut session = self.login()?;
        let mailbox = self.mailbox(&mut session, use_)?;
        let flags = format!("({})", flags.join(" "));
        let result = session
            .run(&[
                Arg::Atom("APPEND"),
                Arg::Str(&mailbox),
                Arg::Atom(&flags),
                Arg::Literal(data),
            ])
            .map_err(|e| classify(e, &format!("APPEND to {mailbox}")));
        session.logout();
        let uid = match result?.code {
            Some(ResponseCode::AppendUid(_, set)) => set.into_iter().next().map(|m| match m {
                UidSetMember::Uid(uid) => uid,
                UidSetMember::UidRange(r) => *r.start(),
            }),
            _ => None,
        };
        Ok(Appended { mailbox, uid })
    }
}

/// The mailbox name for people: modified UTF-7 (RFC 3501 §5.1.3) decoded.
pub fn display_name(mailbox: &str) -> String {
    let mut out = String::new();
    let mut rest = mailbox;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some(end) = after.find('-') else {
            out.push_str(&rest[at..]);
            return out;
        };
        let encoded = &after[..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            let b64 = encoded.replace(',', "/");
            let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(b64)
                .unwrap_or_default();
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            out.push_str(&String::from_utf16_lossy(&units));
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn modified_utf7_names_decode() {
        assert_eq!(super::display_name("Entw&APw-rfe"), "Entwürfe");
        assert_eq!(super::display_name("A&-B"), "A&B");
        assert_eq!(super::display_name("Brouillons"), "Brouillons");
    }
}
