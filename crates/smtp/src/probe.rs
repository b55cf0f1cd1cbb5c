//! `mapishim doctor`'s look at the server: each step a send depends on, in order, stopping
//! at the first that fails, and never sending a message.
use super::{Failure, SmtpBackend};
use mapishim_core::config::Security;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The host name to addresses.
    Resolve,
    /// A TCP connection to the first address.
    Connect,
    /// TLS as configured (implicit or STARTTLS) and EHLO.
    Greeting,
    /// AUTH with the configured password or token (skipped without a username).
    Auth,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Resolve => "dns",
            Stage::Connect => "tcp",
            Stage::Greeting => "tls and ehlo",
            Stage::Auth => "auth",
        }
    }
}

/// What one step found: a description, or why it failed.
pub struct ProbeStep {
    pub stage: Stage,
    pub outcome: std::result::Result<String, Failure>,
    /// The server's certificates, leaf first (DER), after a TLS handshake.
    pub certificates: Vec<Vec<u8>>,
}

impl SmtpBackend {
    /// Resolves, connects, greets (with TLS) and authenticates like a send would, then
    /// says QUIT.
    pub fn probe(&self) -> Vec<ProbeStep> {
        let s = &self.settings;
        let mut steps = Vec::new();
        let step = |stage, outcome| ProbeStep {
            stage,
            outcome,
            certificates: Vec::new(),
        };
        let addresses = match (s.host.as_str(), s.port).to_socket_addrs() {
            Ok(a) => a.collect::<Vec<_>>(),
            Err(e) => {
                steps.push(step(
                    Stage::Resolve,
                    Err(Failure::Transient(format!(
                        "cannot resolve {}: {e}",
                        s.host
                    ))),
                ));
                return steps;
            }
        };
        let Some(first) = addresses.first() else {
            steps.push(step(
                Stage::Resolve,
                Err(Failure::Transient(format!("{} has no address", s.host))),
            ));
            return steps;
        };
        let shown: Vec<String> = addresses.iter().map(|a| a.ip().to_string()).collect();
        steps.push(step(
            Stage::Resolve,
            Ok(format!("{} → {}", s.host, shown.join(", "))),
        ));
        let started = Instant::now();
        match TcpStream::connect_timeout(first, self.timeout()) {
            Ok(_) => steps.push(step(
                Stage::Connect,
                Ok(format!(
                    "{first} answered in {} ms",
                    started.elapsed().as_millis()
                )),
            )),
            Err(e) => {
                steps.push(step(
                    Stage::Connect,
                    Err(Failure::Transient(format!("connect {first}: {e}"))),
                ));
                return steps;
            }
        }
        let link = match self.open() {
            Ok(link) => link,
            Err(e) => {
                steps.push(step(Stage::Greeting, Err(e)));
                return steps;
            }
        };
        let tls = match s.security {
            Security::None => "no TLS (security = \"none\")",
            Security::Starttls => "STARTTLS",
            Security::Tls => "implicit TLS",
        };
        steps.push(ProbeStep {
            stage: Stage::Greeting,
            outcome: Ok(format!(
                "{tls}; the server offers {}",
                link.capabilities.join(", ")
            )),
            certificates: link.conn.certificate_chain().unwrap_or_default(),
        });
        let user = s.username.clone();
        match self.authenticate(link) {
            Ok(mut link) => {
                let _ = link.conn.quit();
                steps.push(step(
                    Stage::Auth,
                    Ok(match user {
                        Some(user) => format!("accepted as {user} ({})", self.settings.auth.name()),
                        None => "no username configured: the server is used without AUTH".into(),
                    }),
                ));
            }
            Err(e) => steps.push(step(Stage::Auth, Err(e))),
        }
        steps
    }
}
