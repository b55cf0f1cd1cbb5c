//! The SMTP backend: silent sending through a mail server, with TLS (rustls), AUTH,
//! connection reuse, and a spool so that a message that cannot go out now is never lost.
//!
//! lettre's `SmtpConnection` is used command by command rather than through its transport,
//! because each recipient's answer matters: a 5xx for some recipients must not stop delivery
//! to the others. lettre does not pipeline; where the server offers PIPELINING (RFC 2920)
//! the envelope goes out here as one write, its replies read in order (see [`Link`]).
#![forbid(unsafe_code)]

mod probe;
mod sasl;
mod spool;

pub use probe::{ProbeStep, Stage as ProbeStage};

pub use sasl::Mechanism as OAuthMechanism;

use lettre::address::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use mapishim_core::config::{OnFailure, Security, SmtpAuth, SmtpSettings};
use mapishim_core::mime::{self, BccHeader};
use mapishim_core::{Backend, Delivery, LogonRequest, MapiCode, MapiError, Message, Result};
use mapishim_oauth2::TokenSource;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Idle connections are closed after this; servers drop them after about a minute anyway.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const POOL_SIZE: usize = 4;

/// What went wrong with a delivery attempt, in the terms that decide the outcome.
#[derive(Debug)]
pub enum Failure {
    /// Authentication refused: the caller gets `MAPI_E_LOGIN_FAILURE`, nothing is spooled.
    Auth(String),
    /// Certificate or TLS configuration problem: `MAPI_E_NETWORK_FAILURE`, not spooled.
    Tls(String),
    /// Every recipient permanently refused (5xx).
    AllRejected(Vec<(String, String)>),
    /// A non-ASCII address, and the server does not offer SMTPUTF8 (RFC 6531): the caller
    /// gets `MAPI_E_INVALID_RECIPS`; sending it raw would be undefined.
    NoSmtpUtf8(String),
    /// The server refused the message itself permanently (5xx on MAIL or DATA).
    Permanent(String),
    /// Try again later: connection refused, timeout, 4xx, connection lost before the 250.
    Transient(String),
}

/// A delivered message, with the recipients the server refused (if any).
#[derive(Debug, Default)]
pub struct Accepted {
    pub rejected: Vec<(String, String)>,
}

/// A TLS failure that lettre reports as a network error (the handshake runs inside its
/// connect): found by walking the error chain down to a rustls error.
fn is_tls_failure(e: &lettre::transport::smtp::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = source {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return true;
        }
        source = err.source();
    }
    false
}

/// A refused password; `550 5.7.30` is Exchange Online saying Basic authentication is off.
fn password_refused(user: &str, e: lettre::transport::smtp::Error) -> Failure {
    if !e.is_permanent() {
        return classify(e, "AUTH");
    }
    let text = e.to_string();
    if text.contains("5.7.30") {
        return Failure::Auth(format!(
            "AUTH as {user}: {text}: the server no longer accepts passwords (Basic \
             authentication is disabled); set auth = \"xoauth2\" in [smtp] and sign in with \
             `mapishim auth login` (docs/accounts.md)"
        ));
    }
    Failure::Auth(format!("AUTH as {user}: {text}"))
}

fn sasl_failed(
    mechanism: sasl::Mechanism,
    user: &str,
    e: lettre::transport::smtp::Error,
) -> Failure {
    if e.is_permanent() {
        Failure::Auth(format!("AUTH {} as {user}: {e}", mechanism.name()))
    } else {
        classify(e, "AUTH")
    }
}

/// No token: a sign-in or configuration problem is `MAPI_E_LOGIN_FAILURE` (never spooled:
/// waiting does not fix it); an unreachable token endpoint is worth another try.
fn token_failure(e: mapishim_oauth2::Error) -> Failure {
    if e.is_transient() {
        Failure::Transient(format!("getting an access token: {e}"))
    } else {
        Failure::Auth(format!("getting an access token: {e}"))
    }
}

fn classify(e: lettre::transport::smtp::Error, stage: &str) -> Failure {
    let text = format!("{stage}: {e}");
    if e.is_tls() || is_tls_failure(&e) {
        Failure::Tls(text)
    } else if e.is_permanent() {
        Failure::Permanent(text)
    } else {
        Failure::Transient(text)
    }
}

/// Content up to this size goes out as one write.
const SINGLE_WRITE_LIMIT: usize = 4 * 1024 * 1024;

/// Sends the DATA content. lettre's `message` writes the content and the final `.` line
/// separately, and offers no TCP_NODELAY: with Nagle's algorithm and the server's delayed
/// ACK, every message then stalls for ~40 ms. Small and mid-sized messages are therefore
/// stuffed here and written in one piece; large ones, where the stall does not matter, go
/// through lettre.
fn send_content(
    conn: &mut SmtpConnection,
    data: &[u8],
) -> std::result::Result<lettre::transport::smtp::response::Response, lettre::transport::smtp::Error>
{
    let text = match std::str::from_utf8(data) {
        Ok(text) if data.len() <= SINGLE_WRITE_LIMIT => text,
        _ => return conn.message(data),
    };
    conn.command(sasl::Line(stuffed(text)))
}

/// RFC 5321 §4.5.2 transparency: a leading `.` is doubled; then the terminating line.
fn stuffed(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 64 + 8);
    for line in text.split_inclusive('\n') {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    if !out.ends_with("\r\n") {
        if out.ends_with('\n') {
            out.pop();
        }
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

/// A connection and what its server offers beyond what lettre records.
struct Link {
    conn: SmtpConnection,
    /// RFC 2920: the envelope (MAIL, every RCPT, DATA) goes out as one write.
    pipelining: bool,
    /// The EHLO keywords, for `mapishim doctor`.
    capabilities: Vec<String>,
}

impl Link {
    /// lettre's `ServerInfo` keeps only the extensions it uses, so the EHLO is asked once
    /// more for PIPELINING, before AUTH (a post-AUTH EHLO may reset the session on some
    /// servers). One round trip per connection, saving three per message.
    fn new(mut conn: SmtpConnection) -> std::result::Result<Self, Failure> {
        let reply = conn
            .command(Ehlo::new(ClientId::default()))
            .map_err(|e| classify(e, "EHLO"))?;
        let capabilities: Vec<String> = reply.message().skip(1).map(str::to_string).collect();
        let pipelining = capabilities.iter().any(|line| {
            line.split_ascii_whitespace()
                .next()
                .is_some_and(|keyword| keyword.eq_ignore_ascii_case("PIPELINING"))
        });
        Ok(Self {
            conn,
            pipelining,
            capabilities,
        })
    }
}

/// Where a transaction failed: before the server took any part of the message, a pooled
/// connection that turned out dead (closed while idle, `421`) is worth one retry on a new one.
#[derive(Debug, PartialEq, Eq)]
enum Stage {
    Envelope,
    Content,
}

type SmtpError = lettre::transport::smtp::Error;
type Reply = std::result::Result<Response, SmtpError>;

/// The replies to one envelope: one per RCPT, then DATA's (`None`: DATA was not sent).
struct Replies {
    rcpts: Vec<Reply>,
    data: Option<Reply>,
}

/// A reply read, positive or not; `Err` when none could be (the connection is gone).
fn replied(reply: Reply, stage: &str) -> std::result::Result<Reply, Failure> {
    match reply {
        Err(e) if !(e.is_permanent() || e.is_transient()) => Err(classify(e, stage)),
        reply => Ok(reply),
    }
}

fn parse_address(a: &str) -> std::result::Result<Address, Failure> {
    a.parse::<Address>()
        .map_err(|e| Failure::Permanent(format!("address {a:?}: {e}")))
}

struct Pooled {
    connection: Link,
    idle_since: Instant,
}

pub struct SmtpBackend {
    settings: SmtpSettings,
    spool: PathBuf,
    on_failure: OnFailure,
    /// Connections of session 0 and of the spool flush.
    pool: Mutex<Vec<Pooled>>,
    /// Each open `MAPILogon` session's own connection (`None` while in use or not yet
    /// opened), so that one program's burst does not wait for another's.
    sessions: Mutex<HashMap<usize, Option<Pooled>>>,
    /// `auth = "xoauth2" | "oauthbearer"`: the mechanism and where its tokens come from.
    oauth: Option<(sasl::Mechanism, TokenSource)>,
}

impl SmtpBackend {
    pub fn new(settings: SmtpSettings, spool: PathBuf, on_failure: OnFailure) -> Self {
        Self {
            settings,
            spool,
            on_failure,
            pool: Mutex::new(Vec::new()),
            sessions: Mutex::new(HashMap::new()),
            oauth: None,
        }
    }

    /// For `auth = "xoauth2" | "oauthbearer"`: the tokens from `oauth2_token_command` or
    /// the built-in sign-in of `[oauth2]`. Nothing changes for password authentication.
    pub fn with_oauth2(self, oauth2: Option<&mapishim_core::config::OAuth2Settings>) -> Self {
        let mechanism = match self.settings.auth {
            SmtpAuth::Password => return self,
            SmtpAuth::Xoauth2 => sasl::Mechanism::Xoauth2,
            SmtpAuth::Oauthbearer => sasl::Mechanism::OAuthBearer,
        };
        match TokenSource::configured(
            self.settings.oauth2_token_command.as_deref(),
            oauth2,
            self.timeout(),
        ) {
            Some(tokens) => self.with_oauth(mechanism, tokens),
            None => self,
        }
    }

    /// Authenticates with bearer tokens from `tokens` instead of a password.
    pub fn with_oauth(mut self, mechanism: sasl::Mechanism, tokens: TokenSource) -> Self {
        self.oauth = Some((mechanism, tokens));
        self
    }

    pub fn spool_dir(&self) -> &Path {
        &self.spool
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.settings.timeout_secs)
    }

    fn tls_parameters(&self) -> std::result::Result<TlsParameters, Failure> {
        let mut builder = TlsParameters::builder(self.settings.host.clone());
        if let Some(ca) = &self.settings.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| Failure::Tls(format!("ca_file {}: {e}", ca.display())))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| Failure::Tls(format!("ca_file {}: {e}", ca.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        builder
            .build_rustls()
            .map_err(|e| Failure::Tls(format!("TLS setup: {e}")))
    }

    fn password(&self) -> std::result::Result<String, Failure> {
        let Some(source) = &self.settings.password else {
            return Ok(String::new());
        };
        source
            .read(|cmd| mapishim_command::secret("password_command", cmd, self.timeout()))
            .map_err(Failure::Auth)
    }

    /// TCP, TLS as configured, EHLO: a connection ready for AUTH or MAIL.
    fn open(&self) -> std::result::Result<Link, Failure> {
        let s = &self.settings;
        let hello = ClientId::default();
        let address = (s.host.as_str(), s.port);
        let tls = match s.security {
            Security::None => None,
            _ => Some(self.tls_parameters()?),
        };
        let implicit = if s.security == Security::Tls {
            tls.as_ref()
        } else {
            None
        };
        let mut conn =
            SmtpConnection::connect(address, Some(self.timeout()), &hello, implicit, None)
                .map_err(|e| classify(e, &format!("connect {}:{}", s.host, s.port)))?;
        if s.security == Security::Starttls {
            if !conn.can_starttls() {
                return Err(Failure::Tls(format!(
                    "{} does not offer STARTTLS; set security = \"tls\" or fix the server",
                    s.host
                )));
            }
            conn.starttls(tls.as_ref().expect("starttls has parameters"), &hello)
                .map_err(|e| classify(e, "STARTTLS"))?;
        }
        Link::new(conn)
    }

    fn connect(&self) -> std::result::Result<Link, Failure> {
        self.authenticate(self.open()?)
    }

    /// AUTH as configured on an open connection (none without a username). A refused
    /// access token is refreshed once, on a new connection.
    fn authenticate(&self, mut link: Link) -> std::result::Result<Link, Failure> {
        let conn = &mut link.conn;
        let Some(user) = &self.settings.username else {
            return Ok(link);
        };
        // Guarded in the configuration too: AUTH never goes over an unencrypted link.
        if !conn.is_encrypted() {
            return Err(Failure::Tls(
                "refusing to send AUTH over an unencrypted connection".into(),
            ));
        }
        let Some((mechanism, tokens)) = &self.oauth else {
            if self.settings.auth.uses_tokens() {
                // The configuration requires a source; never fall back to a password.
                return Err(Failure::Auth(format!(
                    "auth = \"{}\" without oauth2_token_command or [oauth2]",
                    self.settings.auth.name()
                )));
            }
            let credentials = Credentials::new(user.clone(), self.password()?);
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
                .map_err(|e| password_refused(user, e))?;
            return Ok(link);
        };
        let token = tokens.access_token().map_err(token_failure)?;
        match self.sasl(conn, *mechanism, user, &token) {
            sasl::Outcome::Accepted => return Ok(link),
            sasl::Outcome::Failed(e) => return Err(sasl_failed(*mechanism, user, e)),
            sasl::Outcome::Rejected(why) => {
                tracing::info!(
                    mechanism = mechanism.name(),
                    "access token refused ({why}); refreshing it and trying once more"
                );
                conn.abort();
            }
        }
        let token = tokens.force_refresh(&token).map_err(token_failure)?;
        let mut link = self.open()?;
        match self.sasl(&mut link.conn, *mechanism, user, &token) {
            sasl::Outcome::Accepted => Ok(link),
            sasl::Outcome::Failed(e) => Err(sasl_failed(*mechanism, user, e)),
            sasl::Outcome::Rejected(why) => Err(Failure::Auth(format!(
                "AUTH {} as {user}: the server refused a freshly refreshed access token: {why}; \
                 check the account's permission (SMTP.Send, SMTP AUTH enabled for the mailbox) \
                 or sign in again with `mapishim auth login`",
                mechanism.name()
            ))),
        }
    }

    fn sasl(
        &self,
        conn: &mut SmtpConnection,
        mechanism: sasl::Mechanism,
        user: &str,
        token: &mapishim_oauth2::AccessToken,
    ) -> sasl::Outcome {
        let s = &self.settings;
        sasl::authenticate(conn, mechanism, user, &s.host, s.port, token.secret())
    }

    /// The connection for `session`: its own (sessions other than 0) or a pooled one, if
    /// not idle too long (and then `true`: it may have been closed meanwhile); else a new
    /// one. No NOOP probe: it cost a round trip per message and cannot rule out a close
    /// racing the next command anyway; [`Self::deliver_in`] retries instead.
    fn checkout(&self, session: usize) -> std::result::Result<(Link, bool), Failure> {
        loop {
            let pooled = if session != 0 {
                let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
                match sessions.get_mut(&session) {
                    Some(slot) => slot.take(),
                    None => self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop(),
                }
            } else {
                self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop()
            };
            match pooled {
                Some(mut p) => {
                    if p.idle_since.elapsed() < IDLE_TIMEOUT && !p.connection.conn.has_broken() {
                        return Ok((p.connection, true));
                    }
                    p.connection.conn.abort();
                }
                None => return Ok((self.connect()?, false)),
            }
        }
    }

    fn checkin(&self, session: usize, mut connection: Link) {
        if session != 0 {
            let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(slot @ None) = sessions.get_mut(&session) {
                *slot = Some(Pooled {
                    connection,
                    idle_since: Instant::now(),
                });
                return;
            }
            // Logged off meanwhile, or a second connection of a session sending from two
            // threads: the shared pool takes it.
        }
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        pool.retain_mut(|p| {
            let fresh = p.idle_since.elapsed() < IDLE_TIMEOUT;
            if !fresh {
                let _ = p.connection.conn.quit();
            }
            fresh
        });
        if pool.len() < POOL_SIZE {
            pool.push(Pooled {
                connection,
                idle_since: Instant::now(),
            });
        } else {
            let _ = connection.conn.quit();
        }
    }

    /// One SMTP transaction on `link`. The connection is usable afterwards unless it failed
    /// with `Failure::Transient`.
    fn transact(
        link: &mut Link,
        from: &str,
        recipients: &[&str],
        data: &[u8],
    ) -> std::result::Result<Accepted, (Stage, Failure)> {
        let envelope = |e| (Stage::Envelope, e);
        let mail = Self::mail_command(link, from, recipients, data).map_err(envelope)?;
        let rcpts = recipients
            .iter()
            .map(|rcpt| Ok(Rcpt::new(parse_address(rcpt)?, vec![])))
            .collect::<std::result::Result<Vec<_>, Failure>>()
            .map_err(envelope)?;
        let replies = if link.pipelining {
            Self::pipelined(&mut link.conn, &mail, &rcpts).map_err(envelope)?
        } else {
            Self::one_by_one(&mut link.conn, &mail, &rcpts).map_err(envelope)?
        };
        let conn = &mut link.conn;
        let mut rejected = Vec::new();
        for (rcpt, reply) in recipients.iter().zip(replies.rcpts) {
            match reply {
                Ok(_) => {}
                Err(e) if e.is_permanent() => rejected.push((rcpt.to_string(), e.to_string())),
                Err(e) => return Err(envelope(classify(e, &format!("RCPT TO {rcpt}")))),
            }
        }
        let all_rejected = rejected.len() == recipients.len();
        match replies.data {
            // A server that took DATA with no recipient gets an empty message (RFC 2920 §3.1).
            Some(Ok(_)) if all_rejected => {
                let _ = conn.command(sasl::Line(".\r\n".into()));
            }
            Some(Err(e)) if !all_rejected => return Err(envelope(classify(e, "DATA"))),
            // Without PIPELINING, DATA is not sent once every recipient was refused.
            _ => {}
        }
        if all_rejected {
            let _ = conn.command(Rset);
            return Err(envelope(Failure::AllRejected(rejected)));
        }
        // Lost before the final 250: the server may or may not have taken it; we keep it.
        send_content(conn, data).map_err(|e| (Stage::Content, classify(e, "end of DATA")))?;
        Ok(Accepted { rejected })
    }

    /// `MAIL FROM` with 8BITMIME and SMTPUTF8 as the message and addresses need them.
    fn mail_command(
        link: &Link,
        from: &str,
        recipients: &[&str],
        data: &[u8],
    ) -> std::result::Result<Mail, Failure> {
        let mut params = Vec::new();
        if !data.is_ascii() {
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        if let Some(address) = std::iter::once(&from)
            .chain(recipients)
            .find(|a| !a.is_ascii())
        {
            if !link
                .conn
                .server_info()
                .supports_feature(Extension::SmtpUtfEight)
            {
                return Err(Failure::NoSmtpUtf8(format!(
                    "address {address:?} is not ASCII and the server does not offer SMTPUTF8"
                )));
            }
            params.push(MailParameter::SmtpUtfEight);
        }
        Ok(Mail::new(Some(parse_address(from)?), params))
    }

    /// MAIL, each RCPT and DATA in one write; then their replies, every one read so that
    /// the connection stays in step whatever the server refused.
    fn pipelined(
        conn: &mut SmtpConnection,
        mail: &Mail,
        rcpts: &[Rcpt],
    ) -> std::result::Result<Replies, Failure> {
        use std::fmt::Write;
        let mut group = mail.to_string();
        for rcpt in rcpts {
            let _ = write!(group, "{rcpt}");
        }
        let _ = write!(group, "{Data}");
        let mail = replied(conn.command(sasl::Line(group)), "MAIL FROM")?;
        let mut rest = Vec::with_capacity(rcpts.len() + 1);
        for _ in 0..=rcpts.len() {
            rest.push(replied(conn.read_response(), "RCPT TO or DATA")?);
        }
        if let Err(e) = mail {
            return Err(classify(e, "MAIL FROM"));
        }
        let data = rest.pop();
        Ok(Replies { rcpts: rest, data })
    }

    /// Without PIPELINING: each command waits for its reply; DATA only after a recipient
    /// was accepted.
    fn one_by_one(
        conn: &mut SmtpConnection,
        mail: &Mail,
        rcpts: &[Rcpt],
    ) -> std::result::Result<Replies, Failure> {
        conn.command(mail).map_err(|e| classify(e, "MAIL FROM"))?;
        let rcpts: Vec<_> = rcpts.iter().map(|rcpt| conn.command(rcpt)).collect();
        let data = rcpts.iter().any(Result::is_ok).then(|| conn.command(Data));
        Ok(Replies { rcpts, data })
    }

    /// Delivers one message: envelope sender, envelope recipients (To, Cc and Bcc), and data
    /// without a Bcc header.
    pub fn deliver(
        &self,
        from: &str,
        recipients: &[&str],
        data: &[u8],
    ) -> std::result::Result<Accepted, Failure> {
        self.deliver_in(0, from, recipients, data)
    }

    /// `deliver` on `session`'s connection.
    pub fn deliver_in(
        &self,
        session: usize,
        from: &str,
        recipients: &[&str],
        data: &[u8],
    ) -> std::result::Result<Accepted, Failure> {
        let (mut link, reused) = self.checkout(session)?;
        let mut result = Self::transact(&mut link, from, recipients, data);
        if reused && matches!(result, Err((Stage::Envelope, Failure::Transient(_)))) {
            // The pooled connection had been closed (or the server said 421) before it took
            // anything: a new one gets the same chance a first send would have had.
            if let Err((_, Failure::Transient(why))) = &result {
                tracing::debug!("reused connection failed ({why}); trying a new one");
            }
            link.conn.abort();
            link = self.connect()?;
            result = Self::transact(&mut link, from, recipients, data);
        }
        // Every reply to what was sent has been read, except after a transient failure
        // (a lost connection, or a 4xx with DATA's 354 left unanswered).
        match &result {
            Err((_, Failure::Transient(_))) => link.conn.abort(),
            _ => self.checkin(session, link),
        }
        result.map_err(|(_, failure)| failure)
    }

    fn keep_failed(&self, message: &Message, reason: &str) {
        mapishim_outbox::keep_failed(&self.spool, message, reason);
    }
}

impl Backend for SmtpBackend {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn logon(&self, session: usize, _request: &LogonRequest) -> Result<()> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session, None);
        self.flush_pending("at logon");
        Ok(())
    }

    fn logoff(&self, session: usize) {
        let own = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&session)
            .flatten();
        if let Some(mut p) = own {
            let _ = p.connection.conn.quit();
        }
    }

    fn send(&self, message: &Message) -> Result<Delivery> {
        self.send_in_session(0, message)
    }

    fn send_in_session(&self, session: usize, message: &Message) -> Result<Delivery> {
        let recipients = message.envelope_recipients();
        if recipients.is_empty() {
            return Err(mapishim_outbox::refuse_without_recipients(
                &self.spool,
                message,
            ));
        }
        let data = mime::to_vec(message, BccHeader::Omit);
        let outcome = self.deliver_in(session, &message.from.address, &recipients, &data);
        match outcome {
            Ok(accepted) => {
                if !accepted.rejected.is_empty() {
                    let reason = mapishim_outbox::spool::rejection_reason(&accepted.rejected);
                    tracing::warn!("some recipients refused: {reason}");
                    self.keep_failed(message, &reason);
                }
                tracing::info!(
                    recipients = recipients.len() - accepted.rejected.len(),
                    "delivered by SMTP"
                );
                self.flush_pending("after a delivery");
                Ok(Delivery::Sent)
            }
            Err(Failure::Auth(why)) => Err(MapiError::new(MapiCode::LogonFailure, why)),
            Err(Failure::Tls(why)) => Err(MapiError::new(
                MapiCode::NetworkFailure,
                format!("TLS or certificate problem, message not sent: {why}"),
            )),
            Err(Failure::AllRejected(rejected)) => {
                let reason = mapishim_outbox::spool::rejection_reason(&rejected);
                self.keep_failed(message, &reason);
                Err(MapiError::new(
                    MapiCode::UnknownRecipient,
                    format!("every recipient refused: {reason}"),
                ))
            }
            Err(Failure::Permanent(why)) => {
                self.keep_failed(message, &why);
                Err(MapiError::new(MapiCode::Failure, why))
            }
            Err(Failure::NoSmtpUtf8(why)) => {
                tracing::error!("message not sent: {why}");
                Err(MapiError::new(MapiCode::InvalidRecips, why))
            }
            Err(Failure::Transient(why)) => match self.on_failure {
                OnFailure::Error => Err(MapiError::new(MapiCode::NetworkFailure, why)),
                OnFailure::Spool => {
                    let path = mapishim_outbox::store(&self.spool, |out| {
                        mime::write_message(message, BccHeader::Keep, out)
                    })?;
                    tracing::warn!(path = %path.display(), "server unavailable, message spooled: {why}");
                    Ok(Delivery::Stored(path))
                }
            },
        }
    }
}

impl SmtpBackend {
    fn flush_pending(&self, occasion: &str) {
        mapishim_outbox::spool::flush_pending(&self.spool, self, self.timeout(), occasion);
    }
}

#[cfg(test)]
mod content_tests {
    #[test]
    fn content_is_dot_stuffed_and_terminated() {
        assert_eq!(
            super::stuffed(".a\r\nb\r\n..c\r\n"),
            "..a\r\nb\r\n...c\r\n.\r\n"
        );
        assert_eq!(super::stuffed("no newline"), "no newline\r\n.\r\n");
        assert_eq!(super::stuffed("lf only\n"), "lf only\r\n.\r\n");
    }
}
