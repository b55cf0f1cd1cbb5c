//! The grants: device authorization (RFC 8628), authorization code with PKCE (RFC 7636)
//! and a loopback redirect (RFC 8252), and refresh (RFC 6749 §6) with rotation.
use crate::http::{Answer, Http, check_endpoint, without_query};
use crate::store::{self, TokenRecord};
use crate::{AccessToken, Error, Settings, now};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.5: the default polling interval, and what `slow_down` adds.
const DEFAULT_INTERVAL: u64 = 5;
const SLOW_DOWN_STEP: u64 = 5;
/// How long the browser flow waits for the redirect.
const BROWSER_WAIT: Duration = Duration::from_secs(300);

fn http(settings: &Settings) -> Result<Http, Error> {
    check_endpoint("oauth2.token_url", &settings.token_url).map_err(Error::Config)?;
    Http::new(settings.ca_file.as_deref(), settings.timeout)
}

fn scope(settings: &Settings) -> String {
    settings.scopes.join(" ")
}

/// The client's own parameters, added to every token request.
fn with_client<'a>(
    settings: &'a Settings,
    secret: &'a Option<String>,
    mut form: Vec<(&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    form.push(("client_id", &settings.client_id));
    if let Some(secret) = secret {
        form.push(("client_secret", secret));
    }
    form
}

/// An error answer (RFC 6749 §5.2) as an `Error`; `None` for a success.
fn token_error(answer: &Answer, what: &str) -> Option<Error> {
    if (200..300).contains(&answer.status) && answer.str("access_token").is_some() {
        return None;
    }
    let code = answer.str("error").unwrap_or("");
    let description = answer
        .str("error_description")
        .map(|d| format!(" ({})", d.lines().next().unwrap_or("")))
        .unwrap_or_default();
    let why = format!("{what}: {code}{description} [HTTP {}]", answer.status);
    Some(match code {
        "invalid_grant" | "consent_required" | "interaction_required" | "login_required" => {
            Error::LoginRequired(why)
        }
        "invalid_client" | "unauthorized_client" | "invalid_scope" => Error::Config(why),
        _ if answer.status >= 500 || answer.status == 429 => Error::Unavailable(why),
        "" if (200..300).contains(&answer.status) => Error::Refused(format!(
            "{what}: the answer holds no access_token [HTTP {}]",
            answer.status
        )),
        _ => Error::Refused(why),
    })
}

/// The record a successful token answer makes; a refresh token absent from the answer
/// (no rotation) is kept from `previous`.
fn record_from(
    settings: &Settings,
    answer: &Answer,
    account: Option<String>,
    previous_refresh: Option<String>,
) -> TokenRecord {
    let scopes = answer
        .str("scope")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_else(|| settings.scopes.clone());
    TokenRecord {
        token_url: settings.token_url.clone(),
        client_id: settings.client_id.clone(),
        account,
        scopes,
        refresh_token: answer
            .str("refresh_token")
            .map(str::to_string)
            .or(previous_refresh),
        access_token: answer.str("access_token").map(str::to_string),
        expires_at: answer
            .json
            .get("expires_in")
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .map(|s| now() + s),
        updated_at: now(),
    }
}

fn token_of(record: &TokenRecord) -> Option<AccessToken> {
    record
        .access_token
        .clone()
        .map(|a| AccessToken::new(a, record.expires_at))
}

/// The refresh-token grant for `record`; the new record keeps a rotated refresh token.
pub fn refresh(settings: &Settings, record: &TokenRecord) -> Result<TokenRecord, Error> {
    let Some(refresh_token) = record.refresh_token.clone() else {
        return Err(Error::LoginRequired("no refresh token is stored".into()));
    };
    let secret = crate::client_secret(settings)?;
    let scope = scope(settings);
    let form = with_client(
        settings,
        &secret,
        vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("scope", &scope),
        ],
    );
    let answer = http(settings)?.post_form(&settings.token_url, &form)?;
    if let Some(e) = token_error(&answer, "refreshing the access token") {
        return Err(e);
    }
    tracing::info!(
        rotated = answer.str("refresh_token").is_some(),
        "access token refreshed"
    );
    Ok(record_from(
        settings,
        &answer,
        record.account.clone(),
        Some(refresh_token),
    ))
}

/// The stored access token if it is fresh and not `rejected`, else a refreshed one: under
/// the file's lock, after reading the file again, so that a token another process just
/// refreshed is used rather than refreshed twice.
pub(crate) fn current_or_refreshed(
    settings: &Settings,
    rejected: Option<&AccessToken>,
) -> Result<AccessToken, Error> {
    let path = &settings.token_file;
    store::locked(path, settings.timeout, || {
        let Some(record) = store::read(path)? else {
            return Err(Error::LoginRequired(format!(
                "no sign-in is stored in {}",
                path.display()
            )));
        };
        if !record.belongs_to(settings) {
            return Err(Error::LoginRequired(format!(
                "the tokens in {} were issued to another client or token_url",
                path.display()
            )));
        }
        if let Some(token) = token_of(&record) {
            let refused = rejected.is_some_and(|r| r.secret() == token.secret());
            // Without a known expiry the token is tried; a refusal brings us back here.
            if !refused && token.is_fresh() {
                return Ok(token);
            }
        }
        let renewed = refresh(settings, &record)?;
        store::write(path, &renewed)?;
        token_of(&renewed)
            .ok_or_else(|| Error::Refused("the token endpoint returned no access_token".into()))
    })
}

/// What the user must do to finish a device sign-in.
#[derive(Debug, Clone)]
pub struct DevicePrompt {
    pub verification_uri: String,
    /// The URI with the code filled in, when the server gives one.
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    pub expires_in: u64,
}

/// RFC 8628: asks for a device code, shows it through `prompt`, and polls the token
/// endpoint at the server's interval until the user finished, declined, or the code
/// expired. Stores and returns the record.
pub fn device_login(
    settings: &Settings,
    account: Option<&str>,
    prompt: impl FnOnce(&DevicePrompt),
) -> Result<TokenRecord, Error> {
    let Some(device_url) = &settings.device_authorization_url else {
        return Err(Error::Config(
            "the device flow needs oauth2.device_authorization_url".into(),
        ));
    };
    check_endpoint("oauth2.device_authorization_url", device_url).map_err(Error::Config)?;
    let http = http(settings)?;
    let secret = crate::client_secret(settings)?;
    let scope = scope(settings);
    let form = with_client(settings, &secret, vec![("scope", &scope)]);
    let answer = http.post_form(device_url, &form)?;
    let field = |k: &str| answer.str(k).map(str::to_string);
    let (Some(device_code), Some(user_code), Some(verification_uri)) = (
        field("device_code"),
        field("user_code"),
        // Google's older name for it.
        field("verification_uri").or_else(|| field("verification_url")),
    ) else {
        let code = answer.str("error").unwrap_or("no device_code");
        return Err(Error::Refused(format!(
            "device authorization at {}: {code} [HTTP {}]",
            without_query(device_url),
            answer.status
        )));
    };
    let number = |k: &str| answer.json.get(k).and_then(|v| v.as_u64());
    let expires_in = number("expires_in").unwrap_or(900);
    let mut interval = number("interval").unwrap_or(DEFAULT_INTERVAL).max(1);
    prompt(&DevicePrompt {
        verification_uri,
        verification_uri_complete: field("verification_uri_complete"),
        user_code,
        expires_in,
    });
    let deadline = Instant::now() + Duration::from_secs(expires_in);
    loop {
        std::thread::sleep(Duration::from_secs(interval));
        if Instant::now() >= deadline {
            return Err(Error::Refused(
                "the code expired before the sign-in was finished; run `mapishim auth login` again"
                    .into(),
            ));
        }
        let form = with_client(
            settings,
            &secret,
            vec![("grant_type", DEVICE_GRANT), ("device_code", &device_code)],
        );
        let answer = http.post_form(&settings.token_url, &form)?;
        match answer.str("error") {
            None if answer.str("access_token").is_some() => {
                let record = record_from(settings, &answer, account.map(str::to_string), None);
                store::locked(&settings.token_file, settings.timeout, || {
                    store::write(&settings.token_file, &record)
                })?;
                return Ok(record);
            }
            Some("authorization_pending") => {}
            Some("slow_down") => interval += SLOW_DOWN_STEP,
            Some("expired_token") => {
                return Err(Error::Refused(
                    "the code expired before the sign-in was finished; run `mapishim auth login` again"
                        .into(),
                ));
            }
            Some("access_denied") => {
                return Err(Error::Refused("the sign-in was declined".into()));
            }
            _ => {
                return Err(token_error(&answer, "device sign-in").unwrap_or_else(|| {
                    Error::Refused("device sign-in: unexpected answer".into())
                }));
            }
        }
    }
}

fn random_token(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buf)
        .map_err(|_| Error::Config("no system random source".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// RFC 7636 §4.2: `BASE64URL(SHA256(verifier))`.
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// A browser sign-in waiting for its redirect.
pub struct BrowserLogin {
    listener: TcpListener,
    pub redirect_uri: String,
    /// The URL to open in the browser.
    pub authorization_url: String,
    state: String,
    verifier: String,
}

/// Listens on a free port of 127.0.0.1 and builds the authorization URL (PKCE S256 and a
/// random `state`). Open `authorization_url`, then call [`BrowserLogin::finish`].
pub fn browser_login(settings: &Settings, account: Option<&str>) -> Result<BrowserLogin, Error> {
    let Some(auth_url) = &settings.authorization_url else {
        return Err(Error::Config(
            "the browser flow needs oauth2.authorization_url".into(),
        ));
    };
    check_endpoint("oauth2.authorization_url", auth_url).map_err(Error::Config)?;
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| Error::Config(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::Config(e.to_string()))?
        .port();
    // No path: Entra matches loopback redirect URIs without the port, as registered.
    let redirect_uri = format!("http://127.0.0.1:{port}");
    let state = random_token(16)?;
    let verifier = random_token(32)?;
    let mut url = url::Url::parse(auth_url)
        .map_err(|e| Error::Config(format!("oauth2.authorization_url: {e}")))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &settings.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", &scope(settings))
            .append_pair("state", &state)
            .append_pair("code_challenge", &s256(&verifier))
            .append_pair("code_challenge_method", "S256");
        if let Some(account) = account {
            q.append_pair("login_hint", account);
        }
        // Google returns a refresh token only when asked for offline access.
        if url_host_is(auth_url, "accounts.google.com") {
            q.append_pair("access_type", "offline");
        }
    }
    Ok(BrowserLogin {
        listener,
        redirect_uri,
        authorization_url: url.to_string(),
        state,
        verifier,
    })
}

fn url_host_is(url: &str, host: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| u.host_str() == Some(host))
}

impl BrowserLogin {
    /// Waits for the browser's redirect, checks `state`, exchanges the code, stores and
    /// returns the record.
    pub fn finish(self, settings: &Settings, account: Option<&str>) -> Result<TokenRecord, Error> {
        let deadline = Instant::now() + BROWSER_WAIT;
        self.listener
            .set_nonblocking(true)
            .map_err(|e| Error::Config(e.to_string()))?;
        loop {
            let (stream, _) = match self.listener.accept() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(Error::Refused(format!(
                            "no answer from the browser within {} s",
                            BROWSER_WAIT.as_secs()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Err(e) => return Err(Error::Config(format!("loopback listener: {e}"))),
            };
            if let Some(result) = self.answer(stream, settings, account) {
                return result;
            }
        }
    }

    /// `None` for a request that is not the redirect (a favicon, a probe).
    fn answer(
        &self,
        mut stream: TcpStream,
        settings: &Settings,
        account: Option<&str>,
    ) -> Option<Result<TokenRecord, Error>> {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let target = read_request_target(&mut stream)?;
        let url = url::Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
        let param = |k: &str| {
            url.query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
        };
        let (code, error) = (param("code"), param("error"));
        if url.path() != "/" || (code.is_none() && error.is_none()) {
            reply(&mut stream, "404 Not Found", "Not found.");
            return None;
        }
        if param("state").as_deref() != Some(self.state.as_str()) {
            reply(
                &mut stream,
                "400 Bad Request",
                "The sign-in answer does not match this sign-in (state). Close this window and run mapishim auth login again.",
            );
            return Some(Err(Error::Refused(
                "the redirect's state does not match: not the answer to this sign-in".into(),
            )));
        }
        if let Some(error) = error {
            reply(
                &mut stream,
                "200 OK",
                "The sign-in was not completed. You may close this window.",
            );
            return Some(Err(Error::Refused(format!(
                "the sign-in was refused: {error}"
            ))));
        }
        let result = self.exchange(settings, account, &code.unwrap_or_default());
        match &result {
            Ok(_) => reply(
                &mut stream,
                "200 OK",
                "Signed in to mapishim. You may close this window.",
            ),
            Err(_) => reply(
                &mut stream,
                "200 OK",
                "The sign-in failed; see the mapishim window.",
            ),
        }
        Some(result)
    }

    fn exchange(
        &self,
        settings: &Settings,
        account: Option<&str>,
        code: &str,
    ) -> Result<TokenRecord, Error> {
        let secret = crate::client_secret(settings)?;
        let form = with_client(
            settings,
            &secret,
            vec![
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", &self.verifier),
            ],
        );
        let answer = http(settings)?.post_form(&settings.token_url, &form)?;
        if let Some(e) = token_error(&answer, "exchanging the authorization code") {
            return Err(e);
        }
        let record = record_from(settings, &answer, account.map(str::to_string), None);
        store::locked(&settings.token_file, settings.timeout, || {
            store::write(&settings.token_file, &record)
        })?;
        Ok(record)
    }
}

/// The request target of an HTTP/1.x request line, reading at most 8 KiB of head.
fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_string()),
        _ => None,
    }
}

fn reply(stream: &mut TcpStream, status: &str, text: &str) {
    // `text` is one of our constants: nothing to escape.
    let body = format!("<!doctype html><meta charset=utf-8><title>mapishim</title><p>{text}</p>\n");
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            super::s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
