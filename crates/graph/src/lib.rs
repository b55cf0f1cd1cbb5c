//! The Microsoft Graph backend: sends as the signed-in user with `POST /me/sendMail`, the
//! message given as the same MIME the outbox would have written (base64, `text/plain`), so
//! names, encodings and attachments arrive exactly as rendered. Messages too large for one
//! request (about 4 MB) become a draft from the MIME without their largest attachments,
//! which are then uploaded (`createUploadSession`, chunks of a multiple of 320 KiB), and the
//! draft is sent. Bcc stays in the MIME Graph gets: Exchange delivers to it and removes it.
//!
//! Outcomes follow the SMTP backend's: a refused sign-in is `MAPI_E_LOGIN_FAILURE` and is
//! not spooled; 429/503 wait for `Retry-After` within `timeout_secs`, then the message is
//! spooled (or 23 with `on_failure = "error"`); 400/403 keep a failed copy with Graph's
//! error as the reason.
//!
//! The same draft path serves `[composer] kind = "drafts"` with `via = "graph"`
//! ([`DraftStore`]): the draft is created and left in Drafts, its `webLink` returned.
#![forbid(unsafe_code)]

mod split;

use split::{Upload, base64_len, split};

use base64::Engine;
use mapishim_core::config::{GraphSettings, OAuth2Settings, OnFailure};
use mapishim_core::mime::{self, BccHeader};
use mapishim_core::{
    Backend, Delivery, DraftStore, LogonRequest, MapiCode, MapiError, Message, Result, StoredDraft,
};
use mapishim_oauth2::TokenSource;
use mapishim_oauth2::http::{Answer, Body, Http};
use mapishim_outbox::spool::{self, Courier, Undelivered};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What one Graph request may carry: 4 MB, less room for the request line and headers.
pub const REQUEST_LIMIT: usize = 4_000_000 - 16 * 1024;
/// Attachments from this size go through an upload session; smaller ones in one POST
/// (Graph's rule: upload sessions are for 3 MB to 150 MB).
pub const UPLOAD_SESSION_MIN: usize = 3 * 1024 * 1024;
/// Upload-session chunk: a multiple of 320 KiB, as Graph requires.
pub const CHUNK: usize = 10 * 320 * 1024;
/// MAPI's `PR_DELETE_AFTER_SUBMIT`: no copy in Sent Items (`save_to_sent = false`).
const DELETE_AFTER_SUBMIT: &str = "Boolean 0x0E01";

/// What went wrong, in the terms that decide the outcome.
#[derive(Debug)]
pub enum Failure {
    /// No usable token, or Graph refuses a fresh one: 3, not spooled.
    Auth(String),
    /// Graph refused the recipients (400/403 naming them): 14, failed copy.
    Recipients(String),
    /// Graph refused the message otherwise: 2, failed copy.
    Refused(String),
    /// Try again later: network, 5xx, 429/503 beyond `timeout_secs`.
    Transient(String),
}

/// A message Graph created in the Drafts folder.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: String,
    /// Outlook on the web's link to it.
    pub web_link: Option<String>,
    /// Its `/me/messages/{id}` URL.
    url: String,
}

pub struct GraphBackend {
    settings: GraphSettings,
    spool: PathBuf,
    on_failure: OnFailure,
    tokens: Option<TokenSource>,
    /// Built at the first request: loading the system's roots costs a few milliseconds.
    http: OnceLock<std::result::Result<Http, String>>,
}

fn token_failure(e: mapishim_oauth2::Error) -> Failure {
    if e.is_transient() {
        Failure::Transient(format!("getting an access token: {e}"))
    } else {
        Failure::Auth(format!("getting an access token: {e}"))
    }
}

/// Graph's `{"error": {"code", "message"}}`, as one line for logs and reason files.
fn error_text(reply: &Answer) -> String {
    let error = &reply.json["error"];
    match (error["code"].as_str(), error["message"].as_str()) {
        (Some(code), Some(message)) => format!("HTTP {}: {code}: {message}", reply.status),
        (Some(code), None) => format!("HTTP {}: {code}", reply.status),
        _ => format!("HTTP {}", reply.status),
    }
}

/// A refusal: recipient problems are the caller's 14, everything else 2.
fn refusal(what: &str, reply: &Answer) -> Failure {
    let text = format!("{what}: {}", error_text(reply));
    let code = reply.json["error"]["code"].as_str().unwrap_or("");
    if code.to_ascii_lowercase().contains("recipient") {
        Failure::Recipients(text)
    } else {
        Failure::Refused(text)
    }
}

fn base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

impl GraphBackend {
    /// Tokens from `[graph] oauth2_token_command`, else the `[oauth2]` sign-in.
    pub fn new(
        settings: GraphSettings,
        oauth2: Option<&OAuth2Settings>,
        spool: PathBuf,
        on_failure: OnFailure,
    ) -> Self {
        let timeout = Duration::from_secs(settings.timeout_secs);
        let tokens =
            TokenSource::configured(settings.oauth2_token_command.as_deref(), oauth2, timeout);
        GraphBackend {
            settings,
            spool,
            on_failure,
            tokens,
            http: OnceLock::new(),
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.settings.timeout_secs)
    }

    fn http(&self) -> std::result::Result<&Http, Failure> {
        self.http
            .get_or_init(|| {
                Http::new(self.settings.ca_file.as_deref(), self.timeout())
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Failure::Refused(e.clone()))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.endpoint)
    }

    /// One request with the access token: refreshed once on 401, waiting for `Retry-After`
    /// on 429 and 503 while the total stays within `timeout_secs`.
    fn call(
        &self,
        what: &str,
        method: &str,
        url: &str,
        body: Body<'_>,
    ) -> std::result::Result<Answer, Failure> {
        let http = self.http()?;
        let tokens = self.tokens.as_ref().ok_or_else(|| {
            Failure::Auth(
                "backend = \"graph\" needs [oauth2] or [graph] oauth2_token_command".into(),
            )
        })?;
        let mut token = tokens.access_token().map_err(token_failure)?;
        let deadline = Instant::now() + self.timeout();
        let mut refreshed = false;
        loop {
            let reply = http
                .request(method, url, Some(token.secret()), &[], body)
                .map_err(|e| Failure::Transient(format!("{what}: {e}")))?;
            match reply.status {
                200..=299 => return Ok(reply),
                401 if !refreshed => {
                    tracing::info!(
                        "{what}: access token refused (HTTP 401); refreshing it and trying once more"
                    );
                    refreshed = true;
                    token = tokens.force_refresh(&token).map_err(token_failure)?;
                }
                401 => {
                    return Err(Failure::Auth(format!(
                        "{what}: Graph refused a freshly refreshed access token ({}); check \
                         that the app has the Mail.Send and Mail.ReadWrite permissions and \
                         consent, or sign in again with `mapishim auth login`",
                        error_text(&reply)
                    )));
                }
                429 | 503 => {
                    let wait = Duration::from_secs(reply.retry_after.unwrap_or(1).max(1));
                    if Instant::now() + wait > deadline {
                        return Err(Failure::Transient(format!(
                            "{what}: {} (Retry-After {} s is beyond timeout_secs)",
                            error_text(&reply),
                            wait.as_secs()
                        )));
                    }
                    tracing::info!(
                        "{what}: {}; waiting {} s (Retry-After)",
                        error_text(&reply),
                        wait.as_secs()
                    );
                    std::thread::sleep(wait);
                }
                500..=599 => {
                    return Err(Failure::Transient(format!(
                        "{what}: {}",
                        error_text(&reply)
                    )));
                }
                _ => return Err(refusal(what, &reply)),
            }
        }
    }

    /// Delivers one rendered message (Bcc header included).
    pub fn deliver(&self, raw: &[u8]) -> std::result::Result<(), Failure> {
        if self.settings.save_to_sent && base64_len(raw.len()) <= REQUEST_LIMIT {
            let body = base64(raw);
            self.call(
                "sendMail",
                "POST",
                &self.url("/me/sendMail"),
                Body::Bytes("text/plain", body.as_bytes()),
            )?;
            return Ok(());
        }
        let draft = self.create_draft(raw)?;
        let result = (|| {
            if !self.settings.save_to_sent {
                let hide = json!({"singleValueExtendedProperties": [{"id": DELETE_AFTER_SUBMIT, "value": "true"}]});
                self.call(
                    "no copy in Sent Items",
                    "PATCH",
                    &draft.url,
                    Body::Json(&hide),
                )?;
            }
            self.call(
                "send draft",
                "POST",
                &format!("{}/send", draft.url),
                Body::Empty,
            )
        })();
        if result.is_err() {
            // So that the retry from the spool starts clean.
            self.delete(&draft.url);
        }
        result.map(|_| ())
    }

    /// A draft from the MIME (`POST /me/messages`), the attachments that make it too large
    /// for one request cut out and uploaded afterwards. A draft left half-made by a failure
    /// is deleted, so that a retry leaves exactly one.
    pub fn create_draft(&self, raw: &[u8]) -> std::result::Result<Draft, Failure> {
        let Some(split) = split(raw, REQUEST_LIMIT) else {
            return Err(Failure::Refused(format!(
                "the message ({} bytes) does not fit one Graph request, and its attachments \
                 are not what makes it large",
                raw.len()
            )));
        };
        let body = base64(&split.mime);
        let created = self.call(
            "create draft",
            "POST",
            &self.url("/me/messages"),
            Body::Bytes("text/plain", body.as_bytes()),
        )?;
        let Some(id) = created.json["id"].as_str() else {
            return Err(Failure::Refused(
                "create draft: Graph answered without a message id".into(),
            ));
        };
        let draft = Draft {
            url: self.url(&format!(
                "/me/messages/{}",
                utf8_percent_encode(id, NON_ALPHANUMERIC)
            )),
            id: id.to_string(),
            web_link: created.json["webLink"].as_str().map(str::to_string),
        };
        for upload in &split.uploads {
            if let Err(failure) = self.attach(&draft.url, upload) {
                self.delete(&draft.url);
                return Err(failure);
            }
        }
        Ok(draft)
    }

    /// The Drafts folder's display name (`GET /me/mailFolders/drafts`), for `config check
    /// --connect`: proves the sign-in and the permission that making drafts needs.
    pub fn drafts_folder(&self) -> Result<String> {
        let url = self.url("/me/mailFolders/drafts");
        let answer = self
            .call("look up the Drafts folder", "GET", &url, Body::Empty)
            .map_err(Failure::into_error)?;
        Ok(answer.json["displayName"]
            .as_str()
            .unwrap_or("Drafts")
            .to_string())
    }

    /// Best effort: the caller's outcome is the failure that came before.
    fn delete(&self, message_url: &str) {
        if let Ok(http) = self.http() {
            let token = self.tokens.as_ref().and_then(|t| t.access_token().ok());
            let _ = http.request(
                "DELETE",
                message_url,
                token.as_ref().map(|t| t.secret()),
                &[],
                Body::Empty,
            );
        }
    }

    fn attach(&self, message_url: &str, upload: &Upload) -> std::result::Result<(), Failure> {
        let what = format!("attachment {:?}", upload.name);
        if upload.data.len() < UPLOAD_SESSION_MIN {
            let item = json!({
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": upload.name,
                "contentType": upload.content_type,
                "contentBytes": base64(&upload.data),
            });
            self.call(
                &what,
                "POST",
                &format!("{message_url}/attachments"),
                Body::Json(&item),
            )?;
            return Ok(());
        }
        let item = json!({"AttachmentItem": {
            "attachmentType": "file",
            "name": upload.name,
            "size": upload.data.len(),
            "contentType": upload.content_type,
        }});
        let session = self.call(
            &what,
            "POST",
            &format!("{message_url}/attachments/createUploadSession"),
            Body::Json(&item),
        )?;
        let Some(upload_url) = session.json["uploadUrl"].as_str() else {
            return Err(Failure::Refused(format!(
                "{what}: no uploadUrl in Graph's upload session"
            )));
        };
        mapishim_oauth2::check_endpoint("uploadUrl", upload_url).map_err(Failure::Refused)?;
        let http = self.http()?;
        let total = upload.data.len();
        for (i, chunk) in upload.data.chunks(CHUNK).enumerate() {
            let start = i * CHUNK;
            let range = format!("bytes {start}-{}/{total}", start + chunk.len() - 1);
            // The upload URL carries its own authorization: no bearer token goes there.
            let reply = http
                .request(
                    "PUT",
                    upload_url,
                    None,
                    &[("Content-Range", range)],
                    Body::Bytes("application/octet-stream", chunk),
                )
                .map_err(|e| Failure::Transient(format!("{what}: {e}")))?;
            match reply.status {
                200..=299 => {}
                429 | 500..=599 => {
                    return Err(Failure::Transient(format!(
                        "{what}: {}",
                        error_text(&reply)
                    )));
                }
                _ => return Err(refusal(&what, &reply)),
            }
        }
        Ok(())
    }

    fn flush_pending(&self, occasion: &str) {
        spool::flush_pending(&self.spool, self, self.timeout(), occasion);
    }

    /// For `config check`: where the tokens come from.
    pub fn token_source(&self) -> String {
        self.tokens
            .as_ref()
            .map_or_else(|| "nowhere".into(), TokenSource::describe)
    }
}

impl Failure {
    /// The caller's error when no spool stands behind the request (drafts, `config check`).
    fn into_error(self) -> MapiError {
        let (code, text) = match self {
            Failure::Auth(t) => (MapiCode::LogonFailure, t),
            Failure::Transient(t) => (MapiCode::NetworkFailure, t),
            Failure::Recipients(t) | Failure::Refused(t) => (MapiCode::Failure, t),
        };
        MapiError::new(code, text)
    }
}

/// `[composer] kind = "drafts"` with `via = "graph"`: the draft stays in Drafts, unsent.
impl DraftStore for GraphBackend {
    fn upload(&self, data: &[u8]) -> Result<StoredDraft> {
        let draft = self.create_draft(data).map_err(Failure::into_error)?;
        tracing::info!(id = %draft.id, bytes = data.len(), "draft created by Microsoft Graph");
        Ok(StoredDraft {
            web_link: draft.web_link,
        })
    }

    fn place(&self) -> &'static str {
        "Microsoft Graph"
    }

    fn describe(&self) -> String {
        format!(
            "Microsoft Graph {} (POST /me/messages), token from {}",
            self.settings.endpoint,
            self.token_source()
        )
    }
}

impl Courier for GraphBackend {
    fn deliver_stored(
        &self,
        raw: &[u8],
    ) -> std::result::Result<Vec<(String, String)>, Undelivered> {
        match self.deliver(raw) {
            Ok(()) => Ok(Vec::new()),
            Err(Failure::Recipients(why) | Failure::Refused(why)) => Err(Undelivered::Refused(why)),
            Err(Failure::Auth(why) | Failure::Transient(why)) => Err(Undelivered::Later(why)),
        }
    }
}

impl Backend for GraphBackend {
    fn name(&self) -> &'static str {
        "graph"
    }

    fn logon(&self, _session: usize, _request: &LogonRequest) -> Result<()> {
        self.flush_pending("at logon");
        Ok(())
    }

    fn send(&self, message: &Message) -> Result<Delivery> {
        let recipients = message.envelope_recipients().len();
        if recipients == 0 {
            return Err(mapishim_outbox::refuse_without_recipients(
                &self.spool,
                message,
            ));
        }
        let raw = mime::to_vec(message, BccHeader::Keep);
        match self.deliver(&raw) {
            Ok(()) => {
                tracing::info!(recipients, "delivered by Microsoft Graph");
                self.flush_pending("after a delivery");
                Ok(Delivery::Sent)
            }
            Err(Failure::Auth(why)) => Err(MapiError::new(MapiCode::LogonFailure, why)),
            Err(Failure::Recipients(why)) => {
                mapishim_outbox::keep_failed(&self.spool, message, &why);
                Err(MapiError::new(MapiCode::UnknownRecipient, why))
            }
            Err(Failure::Refused(why)) => {
                mapishim_outbox::keep_failed(&self.spool, message, &why);
                Err(MapiError::new(MapiCode::Failure, why))
            }
            Err(Failure::Transient(why)) => match self.on_failure {
                OnFailure::Error => Err(MapiError::new(MapiCode::NetworkFailure, why)),
                OnFailure::Spool => {
                    let path = mapishim_outbox::store(&self.spool, |out| out.write_all(&raw))?;
                    tracing::warn!(path = %path.display(), "Graph unavailable, message spooled: {why}");
                    Ok(Delivery::Stored(path))
                }
            },
        }
    }
}
