//! HTTP for the token endpoints: ureq over rustls with ring, the system's roots plus
//! `ca_file`, every request bounded by the configured timeout, no redirects.
use crate::Error;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// Plain `http://` only for loopback hosts (tests, local helpers), as `security = "none"`
/// is for SMTP; everything else must be `https://`.
pub fn check_endpoint(key: &str, url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{key}: {url:?} is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if parsed.host().is_some_and(is_loopback) => Ok(()),
        "http" => Err(format!(
            "{key}: plain http:// is accepted for loopback hosts only; use https://"
        )),
        other => Err(format!("{key}: unsupported scheme {other:?}")),
    }
}

fn is_loopback(host: url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(a) => IpAddr::V4(a).is_loopback(),
        url::Host::Ipv6(a) => IpAddr::V6(a).is_loopback(),
    }
}

pub struct Http {
    agent: ureq::Agent,
}

/// An answer: its status, `Retry-After` in seconds (when given), and its JSON body (`Null`
/// when the body was not JSON or empty).
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub json: serde_json::Value,
}

impl Answer {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(|v| v.as_str())
    }
}

impl Http {
    pub fn new(ca_file: Option<&Path>, timeout: Duration) -> Result<Self, Error> {
        let mut roots: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
            .certs
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        if let Some(ca) = ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| Error::Config(format!("ca_file {}: {e}", ca.display())))?;
            let before = roots.len();
            for item in ureq::tls::parse_pem(&pem) {
                if let Ok(ureq::tls::PemItem::Certificate(cert)) = item {
                    roots.push(cert);
                }
            }
            if roots.len() == before {
                return Err(Error::Config(format!(
                    "ca_file {}: no PEM certificate in it",
                    ca.display()
                )));
            }
        }
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("mapishim/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Http { agent })
    }

    /// POSTs a form (`application/x-www-form-urlencoded`) and reads the JSON answer.
    pub fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<Answer, Error> {
        let response = self
            .agent
            .post(url)
            .header("Accept", "application/json")
            .send_form(form.iter().copied())
            .map_err(|e| unavailable(url, e))?;
        answer(url, response)
    }
}

fn unavailable(url: &str, e: ureq::Error) -> Error {
    Error::Unavailable(format!("{}: {e}", without_query(url)))
}

/// Reads a response: status, `Retry-After`, and the body (at most 1 MiB) as JSON.
fn answer(url: &str, response: ureq::http::Response<ureq::Body>) -> Result<Answer, Error> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("Retry-After")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let text = response
        .into_body()
        .with_config()
        .limit(1024 * 1024)
        .read_to_string()
        .map_err(|e| unavailable(url, e))?;
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Ok(Answer {
        status,
        retry_after,
        json,
    })
}

/// A request body and its media type.
#[derive(Clone, Copy)]
pub enum Body<'a> {
    Empty,
    Json(&'a serde_json::Value),
    /// Bytes with their `Content-Type`.
    Bytes(&'a str, &'a [u8]),
}

impl Http {
    /// One request with a bearer token and optional extra headers (`Content-Range`). The
    /// answer's body is read up to 1 MiB. Transport failures are `Unavailable`.
    pub fn request(
        &self,
        method: &str,
        url: &str,
        bearer: Option<&str>,
        headers: &[(&str, String)],
        body: Body<'_>,
    ) -> Result<Answer, Error> {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Accept", "application/json");
        if let Some(token) = bearer {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        let json;
        let (content_type, bytes): (Option<&str>, &[u8]) = match body {
            Body::Empty => (None, &[]),
            Body::Json(v) => {
                json = serde_json::to_vec(v).unwrap_or_default();
                (Some("application/json"), &json)
            }
            // Sent from the caller's buffer: a message or an upload chunk is megabytes.
            Body::Bytes(t, b) => (Some(t), b),
        };
        if let Some(t) = content_type {
            builder = builder.header("Content-Type", t);
        }
        let request = builder
            .body(bytes)
            .map_err(|e| Error::Config(format!("{}: {e}", without_query(url))))?;
        let response = self.agent.run(request).map_err(|e| unavailable(url, e))?;
        answer(url, response)
    }
}

/// URLs in messages lose their query (it may hold a code).
pub fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}
