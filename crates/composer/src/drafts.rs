//! The `drafts` composer kind (docs/webmail.md): a dialog request is rendered exactly as
//! the outbox writes it (Bcc kept, so the user sees it in the draft), stored as a draft
//! through a [`DraftStore`] (IMAP or Microsoft Graph), and then the `open` URL is opened.
//! A message that could not be stored stays in `<outbox>/drafts/`; [`push`] uploads what
//! is kept there.
use mapishim_core::config::{ComposerSettings, WEBLINK};
use mapishim_core::files;
use mapishim_core::mime::{self, BccHeader};
use mapishim_core::{Delivery, DraftStore, MapiCode, MapiError, Message, Result, StoredDraft};
use std::path::{Path, PathBuf};

/// `<outbox>/drafts/`: where a draft that could not be uploaded is kept.
pub fn kept_drafts_dir(outbox_dir: &Path) -> PathBuf {
    outbox_dir.join(mapishim_outbox::DRAFTS)
}

pub struct DraftsComposer {
    store: Box<dyn DraftStore>,
    /// `None`: nothing to open.
    open: Option<String>,
    /// Overrides the opener program (`[composer] program`).
    program: Option<PathBuf>,
    outbox_dir: PathBuf,
}

impl DraftsComposer {
    /// `default_open`: the URL when `[composer] open` is not given (the preset's).
    pub fn new(
        composer: &ComposerSettings,
        store: Box<dyn DraftStore>,
        default_open: Option<&str>,
        outbox_dir: PathBuf,
    ) -> Self {
        let open = composer
            .open
            .clone()
            .or_else(|| default_open.map(str::to_string))
            .filter(|u| !u.is_empty());
        DraftsComposer {
            store,
            open,
            program: composer.program.clone(),
            outbox_dir,
        }
    }

    fn store(&self, message: &Message) -> Result<Delivery> {
        // Rendered once; the same bytes go to the server or, failing that, to drafts/.
        let data = mime::to_vec(message, BccHeader::Keep);
        match self.store.upload(&data) {
            Ok(stored) => {
                drop(data);
                self.open_webmail(&stored);
                Ok(Delivery::Opened)
            }
            Err(failure) => {
                let dir = kept_drafts_dir(&self.outbox_dir);
                let kept = mapishim_outbox::store(&dir, |out| out.write_all(&data));
                let place = self.store.place();
                let why = failure.detail();
                Err(MapiError::new(
                    failure.mapi_code(),
                    match kept {
                        Ok(path) => format!(
                            "draft not stored on {place} ({why}); kept in {} for `mapishim drafts push`",
                            path.display()
                        ),
                        Err(e) => format!("draft not stored on {place} ({why}), and not kept: {e}"),
                    },
                ))
            }
        }
    }

    fn open_webmail(&self, stored: &StoredDraft) {
        let Some(url) = self.url(stored) else {
            return;
        };
        match crate::open_url(&url, self.program.as_deref()) {
            Ok(()) => tracing::info!(url = %url, "webmail opened"),
            // The draft is on the server: the user finds it there; not the caller's failure.
            Err(why) => tracing::warn!("the draft is stored, but the webmail did not open: {why}"),
        }
    }

    /// `open` with `{weblink}` replaced; `None` when there is nothing (safe) to open.
    fn url(&self, stored: &StoredDraft) -> Option<String> {
        let open = self.open.as_ref()?;
        if !open.contains(WEBLINK) {
            return Some(open.clone());
        }
        // The link comes from the server: only a plain web URL goes to the opener.
        match stored.web_link.as_deref().filter(|l| is_web_url(l)) {
            Some(link) => Some(open.replace(WEBLINK, link)),
            None => {
                tracing::warn!(
                    "the draft is stored, but {} gave no usable web link for {WEBLINK}; nothing opened",
                    self.store.place()
                );
                None
            }
        }
    }
}

fn is_web_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

impl mapishim_core::DialogComposer for DraftsComposer {
    fn name(&self) -> &'static str {
        "drafts"
    }

    fn open(&self, message: &Message) -> Result<Delivery> {
        self.store(message)
    }

    fn check(&self) -> std::result::Result<String, String> {
        Ok(format!(
            "drafts via {}, then opens {}",
            self.store.describe(),
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
pub fn push(store: &dyn DraftStore, outbox_dir: &Path) -> PushSummary {
    let mut summary = PushSummary::default();
    let dir = kept_drafts_dir(outbox_dir);
    let Ok(list) = mapishim_outbox::Outbox::new(&dir).list() else {
        return summary;
    };
    for path in list {
        let read = files::open_regular(&path, files::Links::Refuse)
            .map_err(|e| e.to_string())
            .and_then(|mut f| files::read_capped(&mut f, PUSH_LIMIT).map_err(|e| e.to_string()));
        let data = match read {
            Ok(d) => d,
            Err(e) => {
                summary.failed.push((path, e));
                continue;
            }
        };
        match store.upload(&data) {
            Ok(_) => {
                if let Err(e) = std::fs::remove_file(&path) {
                    // Uploaded but still here: say so loudly, a later push would repeat it.
                    tracing::error!(path = %path.display(), "uploaded, but not removed: {e}");
                }
                tracing::info!(path = %path.display(), "kept draft uploaded to {}", store.place());
                summary.uploaded.push(path);
            }
            Err(failure) => {
                let stop = failure.mapi_code() != MapiCode::Failure;
                summary.failed.push((path, failure.detail().to_string()));
                if stop {
                    // Unreachable or refused sign-in: the next ones would fail the same way.
                    break;
                }
            }
        }
    }
    summary
}

/// The largest kept draft `push` reads (the outbox's own cap for messages).
const PUSH_LIMIT: u64 = 200 * 1024 * 1024;
