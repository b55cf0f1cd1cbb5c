//! Webmail drafts and sent copies through IMAP (docs/webmail.md).
//!
//! - [`DraftsComposer`]: the `drafts` composer kind. A dialog request is rendered exactly as
//!   the outbox writes it (Bcc kept, so the user sees it in the draft), APPENDed to the
//!   account's `\Drafts` mailbox with `\Draft \Seen`, and then the `open` URL is opened.
//!   A message that could not be stored stays in `<outbox>/drafts/`; `mapishim drafts push`
//!   uploads what is kept there.
//! - [`SentCopy`]: wraps the SMTP backend for `save_sent`: a delivered message is also
//!   APPENDed to `\Sent` with `\Seen`; a failed copy is logged, never the send's failure.
#![forbid(unsafe_code)]

mod client;
mod protocol;

pub use client::{Account, Appended, Failure, SpecialUse, display_name};

use mapishim_core::config::{ComposerSettings, ImapSettings, OAuth2Settings};
use mapishim_core::files;
use mapishim_core::mime::{self, BccHeader};
use mapishim_core::{
    Backend, Delivery, LogonRequest, MapiCode, MapiError, Message, Result, SendRequest,
};
use std::path::{Path, PathBuf};

const DRAFT_FLAGS: &[&str] = &["\\Draft", "\\Seen"];
const SENT_FLAGS: &[&str] = &["\\Seen"];

impl Failure {
    fn code(&self) -> MapiCode {
        match self {
            Failure::Unreachable(_) => MapiCode::NetworkFailure,
            Failure::Auth(_) => MapiCode::LogonFailure,
            Failure::Refused(_) => MapiCode::Failure,
        }
    }
}

/// `<outbox>/drafts/`: where a draft that could not be uploaded is kept.
pub fn kept_drafts_dir(outbox_dir: &Path) -> PathBuf {
    outbox_dir.join(mapishim_outbox::DRAFTS)
}

pub struct DraftsComposer {
    account: Account,
    /// `None`/`""`: nothing to open.
    open: Option<String>,
    /// Overrides the opener program (`[composer] program`).
    program: Option<PathBuf>,
    outbox_dir: PathBuf,
}

impl DraftsComposer {
    pub fn new(
        composer: &ComposerSettings,
        imap: &ImapSettings,
        oauth2: Option<&OAuth2Settings>,
        outbox_dir: PathBuf,
    ) -> Self {
        let open = composer
            .open
            .clone()
            .or_else(|| imap.preset_open().map(str::to_string))
            .filter(|u| !u.is_empty());
        DraftsComposer {
            account: Account::new(imap.clone(), oauth2),
            open,
            program: composer.program.clone(),
            outbox_dir,
        }
    }

    fn store(&self, message: &Message) -> Result<Delivery> {
        // Rendered once; the same bytes go to the server or, failing that, to drafts/.
        let data = mime::to_vec(message, BccHeader::Keep);
        match self.account.append(SpecialUse::Drafts, &data, DRAFT_FLAGS) {
            Ok(appended) => {
                tracing::info!(
                    mailbox = %display_name(&appended.mailbox),
                    uid = ?appended.uid,
                    bytes = data.len(),
                    "draft stored by IMAP APPEND"
                );
                drop(data);
                self.open_webmail();
                Ok(Delivery::Opened)
            }
            Err(failure) => {
                let dir = kept_drafts_dir(&self.outbox_dir);
                let kept = mapishim_outbox::store(&dir, |out| out.write_all(&data));
                let code = failure.code();
                Err(match kept {
                    Ok(path) => MapiError::new(
                        code,
                        format!(
                            "draft not stored on the IMAP server ({failure}); kept in {} for `mapishim drafts push`",
                            path.display()
                        ),
                    ),
                    Err(e) => MapiError::new(
                        code,
                        format!(
                            "draft not stored on the IMAP server ({failure}), and not kept: {e}"
                        ),
                    ),
                })
            }
        }
    }

    fn open_webmail(&self) {
        let Some(url) = &self.open else {
            return;
        };
        match mapishim_composer::open_url(url, self.program.as_deref()) {
            Ok(()) => tracing::info!(url = %url, "webmail opened"),
            // The draft is on the server: the user finds it there; not the caller's failure.
            Err(why) => tracing::warn!("the draft is stored, but the webmail did not open: {why}"),
        }
    }

    pub fn account(&self) -> &Account {
        &self.account
    }
}

impl mapishim_core::DialogComposer for DraftsComposer {
    fn name(&self) -> &'static str {
        "drafts"
    }

    fn open(&self, message: &Message) -> Result<Delivery> {
        self.store(message)
    }

    fn check(&self) -> std::result::Result<String, String> {
        let s = self.account.settings();
        let folder = s
            .drafts_folder
            .clone()
            .unwrap_or_else(|| "the \\Drafts special-use mailbox, else \"Drafts\"".into());
        Ok(format!(
            "drafts via IMAP {}:{} into {folder}, then opens {}",
            s.host,
            s.port,
            self.open.as_deref().unwrap_or("nothing")
        ))
    }
}

/// What `mapishim drafts push` did.
#[derive(Debug, Default)]
pub struct PushSummary {
    pub uploaded: Vec<PathBuf>,
    /// Still kept, with why.
    pub failed: Vec<(PathBuf, String)>,
}

/// Uploads every draft kept in `<outbox>/drafts/`, oldest first; each one uploaded is
/// removed at once, so a second push never uploads it again. Opens nothing.
pub fn push(account: &Account, outbox_dir: &Path) -> PushSummary {
    let mut summary = PushSummary::default();
    let dir = kept_drafts_dir(outbox_dir);
    let Ok(list) = mapishim_outbox::Outbox::new(&dir).list() else {
        return summary;
    };
    for path in list {
        let read = mapishim_core::files::open_regular(&path, files::Links::Refuse)
            .map_err(|e| e.to_string())
            .and_then(|mut f| files::read_capped(&mut f, PUSH_LIMIT).map_err(|e| e.to_string()));
        let data = match read {
            Ok(d) => d,
            Err(e) => {
                summary.failed.push((path, e.to_string()));
                continue;
            }
        };
        match account.append(SpecialUse::Drafts, &data, DRAFT_FLAGS) {
            Ok(appended) => {
                if let Err(e) = std::fs::remove_file(&path) {
                    // Uploaded but still here: say so loudly, a later push would repeat it.
                    tracing::error!(path = %path.display(), "uploaded, but not removed: {e}");
                }
                tracing::info!(path = %path.display(), mailbox = %display_name(&appended.mailbox), uid = ?appended.uid, "kept draft uploaded");
                summary.uploaded.push(path);
            }
            Err(failure) => {
                let stop = !matches!(failure, Failure::Refused(_));
                summary.failed.push((path, failure.to_string()));
                if stop {
                    // Unreachable or refused login: the next ones would fail the same way.
                    break;
                }
            }
        }
    }
    summary
}

/// The largest kept draft `push` reads (the outbox's own cap for messages).
const PUSH_LIMIT: u64 = 200 * 1024 * 1024;

/// `save_sent`: the SMTP backend, plus a copy of each delivered message in `\Sent`.
pub struct SentCopy<B: Backend> {
    inner: B,
    account: Account,
}

impl<B: Backend> SentCopy<B> {
    pub fn new(inner: B, imap: &ImapSettings, oauth2: Option<&OAuth2Settings>) -> Self {
        SentCopy {
            inner,
            account: Account::new(imap.clone(), oauth2),
        }
    }

    fn copy(&self, message: &Message, delivery: &Delivery) {
        if !matches!(delivery, Delivery::Sent) {
            return;
        }
        let data = mime::to_vec(message, BccHeader::Keep);
        match self.account.append(SpecialUse::Sent, &data, SENT_FLAGS) {
            Ok(a) => {
                tracing::info!(mailbox = %display_name(&a.mailbox), uid = ?a.uid, "sent copy stored")
            }
            Err(failure) => {
                tracing::warn!("message sent, but no copy in the Sent folder: {failure}")
            }
        }
    }
}

impl<B: Backend> Backend for SentCopy<B> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn send(&self, message: &Message) -> Result<Delivery> {
        let delivery = self.inner.send(message)?;
        self.copy(message, &delivery);
        Ok(delivery)
    }

    fn send_in_session(&self, session: usize, message: &Message) -> Result<Delivery> {
        let delivery = self.inner.send_in_session(session, message)?;
        self.copy(message, &delivery);
        Ok(delivery)
    }

    fn send_request(&self, session: usize, request: &SendRequest) -> Option<Result<Delivery>> {
        self.inner.send_request(session, request)
    }

    fn resolve(&self, session: usize, name: &str) -> Option<Result<mapishim_core::Mailbox>> {
        self.inner.resolve(session, name)
    }

    fn logon(&self, session: usize, request: &LogonRequest) -> Result<()> {
        self.inner.logon(session, request)
    }

    fn logoff(&self, session: usize) {
        self.inner.logoff(session)
    }
}
