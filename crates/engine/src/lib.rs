//! The runtime behind every entry point: it loads (and reloads) the configuration, builds the
//! backend, keeps the session table, and runs a send from request to delivery. The FFI crate
//! and the CLI are thin layers over [`Engine`].
#![forbid(unsafe_code)]

mod logging;
mod reentry;
pub mod registry;

use mapishim_core::RawRecipient;
use mapishim_core::addressbook::AddressBook;
use mapishim_core::compose::MessageBuilder;
use mapishim_core::config::DEFAULT_RETENTION_HOURS;
use mapishim_core::config::{ConfigSource, Settings, file_stamp};
use mapishim_core::{
    Backend, Delivery, DialogComposer, LogonRequest, Mailbox, MapiCode, MapiError, Message,
    RawText, Result, SendRequest,
};
use mapishim_mailbox::{FindOptions, ReadMessage, ReadOptions, Store};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use std::time::SystemTime;

pub use logging::{app_name, init_logging};
pub use registry::{graph_backend, smtp_backend, spool_courier};

/// Everything the C API (`mapi32`) uses besides [`Engine`] and [`Runtime`]: it depends on
/// the engine only, never on the core's or the mailbox's modules directly, so those can
/// change behind this list.
pub mod c_api {
    pub use mapishim_core::compose::{MAX_ATTACHMENTS, MAX_RECIPIENTS};
    pub use mapishim_core::entry_id::entry_id;
    pub use mapishim_core::text::{TextDecoder, set_system_ansi_codepage};
    pub use mapishim_core::{
        LogonRequest, Mailbox, MapiCode, MapiError, RawAttachment, RawRecipient, RawText, Result,
        SendRequest,
    };
    pub use mapishim_mailbox::{ReadMessage, ReadRecipient};
}

/// Sessions a process may hold open at once; beyond this callers are leaking handles.
pub const MAX_SESSIONS: usize = 256;

/// Everything one configuration produces.
pub struct Runtime {
    pub settings: Settings,
    pub book: AddressBook,
    pub backend: Box<dyn Backend>,
    /// Where dialog requests go when a composer is configured.
    pub composer: Option<Box<dyn DialogComposer>>,
    /// The Maildir store behind the reading functions, with `[mailbox]`.
    pub mailbox: Option<Store>,
}

/// Builds the configured backend through its registry entry. Loading a library (forward,
/// plugin) can fail; the error names the file.
pub fn build_backend(settings: &Settings) -> Result<Box<dyn Backend>, String> {
    (registry::backend_entry(settings.backend).build)(settings)
}

impl Runtime {
    pub fn build(settings: Settings) -> Result<Runtime, String> {
        let book = AddressBook::load(&settings.vcards).map_err(|e| format!("address book: {e}"))?;
        let backend = build_backend(&settings)?;
        let composer = settings
            .composer
            .as_ref()
            .and_then(|c| registry::build_composer(c, &settings));
        let mailbox = settings.mailbox.as_ref().map(Store::new);
        Ok(Runtime {
            settings,
            book,
            backend,
            composer,
            mailbox,
        })
    }

    /// Marks this thread as running the backend's `call`, so that the backend's code cannot
    /// call Simple MAPI again (see `reentry.rs`).
    fn inside(&self, call: &'static str) -> Option<reentry::Inside> {
        let entry = registry::backend_entry(self.settings.backend);
        (!entry.guards_reentry).then(|| reentry::enter(self.backend.name(), call))
    }

    fn store(&self) -> Result<&Store> {
        self.mailbox.as_ref().ok_or_else(|| {
            MapiError::new(
                MapiCode::NotSupported,
                "no [mailbox] configured: reading and saving mail needs a Maildir (docs/mailbox.md)",
            )
        })
    }

    /// `MAPIFindNext`. Without `[mailbox]` the mailbox is empty.
    pub fn find_next(
        &self,
        message_type: Option<&str>,
        seed: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        let Some(store) = &self.mailbox else {
            return Err(MapiError::new(
                MapiCode::NoMessages,
                "no [mailbox] configured, so there are no messages",
            ));
        };
        // "IPM" and "IPM.Note" are the names of ordinary mail, like NULL and "".
        let message_type = message_type
            .filter(|t| !t.eq_ignore_ascii_case("IPM") && !t.eq_ignore_ascii_case("IPM.Note"));
        store.find_next(message_type, seed, FindOptions::from_flags(flags))
    }

    /// `MAPIReadMail`: attachments go to a fresh private folder under the per-user cache;
    /// folders older than the retention period are removed first.
    pub fn read_mail(&self, id: &str, flags: u32) -> Result<ReadMessage> {
        let store = self.store()?;
        let root = read_attachment_root();
        let retention_hours = self
            .settings
            .composer
            .as_ref()
            .map_or(DEFAULT_RETENTION_HOURS, |c| c.retention_hours);
        if let Err(e) = mapishim_mailbox::cleanup_attachments(
            &root,
            Duration::from_secs(retention_hours.saturating_mul(3600)),
        ) {
            tracing::debug!("attachment folder cleanup: {e}");
        }
        let mut message = store.read(id, ReadOptions::from_flags(flags), &root)?;
        self.make_paths_narrow_safe(&mut message);
        Ok(message)
    }

    /// A Windows caller opens attachment paths with ANSI functions: a file whose name the
    /// code page cannot spell is renamed to `attachment-N.ext` (the display name keeps the
    /// real name, as well as the code page allows).
    fn make_paths_narrow_safe(&self, message: &mut ReadMessage) {
        if cfg!(not(windows)) {
            return;
        }
        let decoder = self.settings.decoder;
        for (index, attachment) in message.attachments.iter_mut().enumerate() {
            if decoder.can_encode_ansi(&attachment.path.to_string_lossy()) {
                continue;
            }
            let ext = attachment
                .path
                .extension()
                .map(|e| e.to_string_lossy().into_owned())
                .filter(|e| decoder.can_encode_ansi(e))
                .map(|e| format!(".{e}"))
                .unwrap_or_default();
            let renamed = attachment
                .path
                .with_file_name(format!("attachment-{}{ext}", index + 1));
            match std::fs::rename(&attachment.path, &renamed) {
                Ok(()) => attachment.path = renamed,
                Err(e) => {
                    tracing::warn!(path = %attachment.path.display(), "cannot give the attachment an ANSI name: {e}")
                }
            }
        }
    }

    /// `MAPISaveMail`: a new draft, or a replacement for `replace`; returns its ID.
    pub fn save_mail(
        &self,
        session: usize,
        request: &SendRequest,
        replace: Option<&str>,
    ) -> Result<String> {
        let store = self.store()?;
        let _inside = self.inside("save");
        // A draft needs no recipients, like a dialog request.
        let draft = SendRequest {
            dialog: true,
            ..request.clone()
        };
        let message = self.prepare(session, &draft)?;
        let id = store.save(&message, replace)?;
        tracing::info!(id = %id, replaced = replace.is_some(), "message saved");
        Ok(id)
    }

    /// `MAPIDeleteMail`.
    pub fn delete_mail(&self, id: &str) -> Result<()> {
        self.store()?.delete(id)?;
        tracing::info!(id = %id, "message deleted");
        Ok(())
    }

    /// `MAPIAddress` without a dialog: resolved copies of the given recipients.
    pub fn address(
        &self,
        session: usize,
        recipients: &[RawRecipient],
        utf8: bool,
    ) -> Result<Vec<(u32, Mailbox)>> {
        let _inside = self.inside("resolve");
        let builder = self.builder_for(session);
        let mut resolved = Vec::new();
        for (index, raw) in recipients.iter().enumerate() {
            let (_, mailboxes) = builder.recipient(raw, utf8).map_err(|e| {
                MapiError::new(
                    e.mapi_code(),
                    format!("recipient #{}: {}", index + 1, e.detail()),
                )
            })?;
            resolved.extend(mailboxes.into_iter().map(|m| (raw.class, m)));
        }
        Ok(resolved)
    }

    /// For `session`: names resolve through the backend first (a plugin's directory,
    /// another provider's address book), then the vCard book.
    pub fn builder_for(&self, session: usize) -> MessageBuilder<'_> {
        MessageBuilder {
            decoder: self.settings.decoder,
            from: self.settings.from.as_ref(),
            book: &self.book,
            backend: Some((self.backend.as_ref(), session)),
        }
    }

    fn prepare(&self, session: usize, request: &SendRequest) -> Result<Message> {
        self.builder_for(session).prepare(request)
    }

    /// Resolves and delivers one request: everything to a pass-through backend; otherwise
    /// dialog requests to the composer when one is configured, else to the backend
    /// (docs/decisions.md §1).
    /// Shared (`Arc`): a modeless compose window keeps the runtime it sends through.
    pub fn send(self: &Arc<Self>, session: usize, request: &SendRequest) -> Result<Delivery> {
        let _inside = self.inside("send");
        // Pass-through backends get every request, dialogs included (docs/decisions.md §1):
        // the provider they forward to has its own compose window.
        if let Some(result) = self.backend.send_request(session, request) {
            return result;
        }
        if let (true, Some(launcher)) = (request.dialog, &self.composer) {
            // Names that resolve to nothing go to the window as typed (docs/api.md).
            let message = self.builder_for(session).prepare_for_composer(request)?;
            let outgoing = Arc::new(SessionOutgoing {
                runtime: Arc::clone(self),
                session,
            });
            return launcher.open_for(&message, request.ui_param, outgoing);
        }
        let message = self.prepare(session, request)?;
        tracing::debug!(subject = %message.subject, "message prepared");
        self.backend.send_in_session(session, &message)
    }

    pub fn resolve(&self, session: usize, name: &RawText, narrow_is_utf8: bool) -> Result<Mailbox> {
        let text = self.settings.decoder.decode(name, narrow_is_utf8).text;
        let _inside = self.inside("resolve");
        match self.backend.resolve(session, &text) {
            Some(result) => result,
            None => self.book.resolve(&text),
        }
    }

    /// `send` for a caller's session, with the log line admins look for when it is
    /// accepted. A refusal is logged once, by the caller's boundary (`mapi32`).
    pub fn send_for(self: &Arc<Self>, session: usize, request: &SendRequest) -> Result<Delivery> {
        let result = self.send(session, request);
        if let Ok(delivery) = &result {
            tracing::info!(session, app = %logging::app_name(), backend = self.backend.name(), ?delivery, "send accepted")
        }
        result
    }

    /// `resolve` for a caller's session; a miss is logged by the caller's boundary.
    pub fn resolve_for(
        &self,
        session: usize,
        name: &RawText,
        narrow_is_utf8: bool,
    ) -> Result<Mailbox> {
        self.resolve(session, name, narrow_is_utf8)
    }
}

/// What a composer that sends itself uses: the caller's session on this runtime.
struct SessionOutgoing {
    runtime: Arc<Runtime>,
    session: usize,
}

impl mapishim_core::Outgoing for SessionOutgoing {
    fn resolve_field(&self, text: &str) -> Result<Vec<Mailbox>> {
        self.runtime.builder_for(self.session).resolve_field(text)
    }

    fn send(&self, mut message: Message) -> Result<Delivery> {
        // Finished by the user: the backend must not treat it as a dialog request again.
        message.dialog = false;
        message.modeless = false;
        self.runtime.backend.send_in_session(self.session, &message)
    }
}

/// Where `MAPIReadMail` writes attachments: private to the user, like the composer's staging.
pub fn read_attachment_root() -> PathBuf {
    mapishim_core::scratch::user_cache_folder("read")
}

type FileStamp = Option<(SystemTime, u64)>;

/// Each user key the machine file's `locked` refused, once per load of the files.
fn log_locked_overrides(settings: &Settings) {
    for refused in &settings.locked_overrides {
        tracing::warn!("{refused}");
    }
}

struct Cached {
    source: ConfigSource,
    config_stamp: Vec<FileStamp>,
    vcard_stamps: Vec<FileStamp>,
    runtime: Arc<Runtime>,
}

impl Cached {
    fn is_current(&self, source: &ConfigSource) -> bool {
        self.source == *source
            && self.config_stamp == source.fingerprint()
            && self
                .runtime
                .settings
                .vcards
                .iter()
                .map(|p| file_stamp(p))
                .eq(self.vcard_stamps.iter().cloned())
    }
}

#[derive(Default)]
struct State {
    cached: Option<Cached>,
    sessions: HashMap<usize, Arc<Runtime>>,
    last_handle: usize,
}

/// The process-wide engine.
#[derive(Default)]
pub struct Engine {
    state: Mutex<State>,
}

/// First handle value; handles are opaque counters, never addresses.
const HANDLE_BASE: usize = 0x4D53_0000;

impl Engine {
    pub fn global() -> &'static Engine {
        static ENGINE: OnceLock<Engine> = OnceLock::new();
        ENGINE.get_or_init(Engine::default)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not disable mail for the rest of the process.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current configuration's runtime, reloaded when the file or a vCard changed.
    pub fn runtime(&self) -> Result<Arc<Runtime>> {
        reentry::check()?;
        let source = ConfigSource::locate();
        if let Some(cached) = self
            .state()
            .cached
            .as_ref()
            .filter(|c| c.is_current(&source))
        {
            return Ok(cached.runtime.clone());
        }
        // Built without the lock: building runs foreign code (a plugin's `create`, a
        // library's initializers), which may take its time or call Simple MAPI (refused,
        // see reentry.rs); other threads' calls on their sessions go on meanwhile.
        let config_stamp = source.fingerprint();
        let loaded = source
            .load()
            .map_err(|e| e.to_string())
            .map(|settings| settings.for_app(logging::app_name()))
            .and_then(|settings| {
                // Logging first, so that a backend that cannot be built (a library that
                // does not load) is reported in the configured log.
                init_logging(Some(&settings));
                log_locked_overrides(&settings);
                let _inside = reentry::enter(settings.backend.name(), "initialization");
                Runtime::build(settings)
            });
        match loaded {
            Ok(runtime) => Ok(self.install(source, config_stamp, runtime)),
            Err(why) => {
                init_logging(None);
                // Logged once per refused call, by the boundary that returns it.
                let dropped = self.state().cached.take();
                // A replaced runtime is dropped outside the lock: a plugin's `destroy` runs.
                drop(dropped);
                Err(MapiError::failure(format!(
                    "configuration unusable, nothing can be sent: {why}"
                )))
            }
        }
    }

    /// Makes a freshly built runtime the current one, unless another thread installed one
    /// for the same file meanwhile: then that one stays and ours is dropped.
    fn install(
        &self,
        source: ConfigSource,
        config_stamp: Vec<FileStamp>,
        runtime: Runtime,
    ) -> Arc<Runtime> {
        let vcard_stamps = runtime
            .settings
            .vcards
            .iter()
            .map(|p| file_stamp(p))
            .collect();
        let runtime = Arc::new(runtime);
        let mut state = self.state();
        if let Some(current) = state
            .cached
            .as_ref()
            .filter(|c| c.is_current(&source) && c.config_stamp == config_stamp)
        {
            let current = current.runtime.clone();
            drop(state);
            // Ours goes outside the lock: dropping it runs the plugin's `destroy`.
            drop(runtime);
            return current;
        }
        let replaced = state.cached.replace(Cached {
            source: source.clone(),
            config_stamp,
            vcard_stamps,
            runtime: runtime.clone(),
        });
        drop(state);
        drop(replaced);
        tracing::info!(
            config = %source.path().map(|p| p.display().to_string()).unwrap_or_else(|| "built-in defaults".into()),
            backend = runtime.backend.name(),
            composer = runtime.settings.composer.as_ref().map(|c| c.kind.name()).unwrap_or("none"),
            route = runtime.settings.matched_route.as_deref().unwrap_or("-"),
            app = %logging::app_name(),
            pid = std::process::id(),
            "configuration loaded"
        );
        runtime
    }

    /// `MAPILogon`: a new session bound to the current configuration.
    pub fn logon(&self, request: &LogonRequest) -> Result<usize> {
        reentry::check()?;
        let runtime = self
            .runtime()
            .map_err(|e| MapiError::new(MapiCode::LogonFailure, e.detail().to_string()))?;
        let mut state = self.state();
        if state.sessions.len() >= MAX_SESSIONS {
            return Err(MapiError::new(
                MapiCode::TooManySessions,
                format!("{MAX_SESSIONS} sessions already open"),
            ));
        }
        let mut handle = state.last_handle.max(HANDLE_BASE);
        loop {
            handle = handle.wrapping_add(1);
            if handle != 0 && !state.sessions.contains_key(&handle) {
                break;
            }
        }
        state.last_handle = handle;
        state.sessions.insert(handle, runtime.clone());
        drop(state);
        let logged_on = {
            let _inside = runtime.inside("logon");
            runtime.backend.logon(handle, request)
        };
        if let Err(e) = logged_on {
            let removed = self.state().sessions.remove(&handle);
            drop(removed);
            return Err(e);
        }
        tracing::info!(session = handle, app = %logging::app_name(), "logon");
        Ok(handle)
    }

    pub fn logoff(&self, handle: usize) -> Result<()> {
        reentry::check()?;
        let removed = self.state().sessions.remove(&handle);
        match removed {
            Some(runtime) => {
                let _inside = runtime.inside("logoff");
                runtime.backend.logoff(handle);
                tracing::info!(session = handle, "logoff");
                Ok(())
            }
            None => Err(invalid_session(handle)),
        }
    }

    /// The runtime a call on `handle` uses: the session's, or the current one for session 0.
    pub fn session(&self, handle: usize) -> Result<Arc<Runtime>> {
        reentry::check()?;
        if handle == 0 {
            return self.runtime();
        }
        let found = self.state().sessions.get(&handle).cloned();
        found.ok_or_else(|| invalid_session(handle))
    }

    /// For calls that need an explicit session (the mailbox functions).
    pub fn explicit_session(&self, handle: usize) -> Result<Arc<Runtime>> {
        if handle == 0 {
            return Err(invalid_session(handle));
        }
        self.session(handle)
    }
}

fn invalid_session(handle: usize) -> MapiError {
    MapiError::new(
        MapiCode::InvalidSession,
        format!("session handle {handle:#x} was never issued or is logged off"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapishim_abi as abi;

    #[test]
    fn sessions_are_validated_handles() {
        let engine = Engine::default();
        // Built-in defaults must load even without a config file.
        let settings = Settings::from_toml("[outbox]\ndir = \"/tmp/unused\"\n", None).unwrap();
        let runtime = Arc::new(Runtime::build(settings).unwrap());
        engine.state().sessions.insert(HANDLE_BASE + 7, runtime);
        assert!(engine.session(HANDLE_BASE + 7).is_ok());
        assert_eq!(
            engine.session(12345).err().map(|e| e.code()),
            Some(abi::MAPI_E_INVALID_SESSION)
        );
        assert!(engine.logoff(HANDLE_BASE + 7).is_ok());
        assert_eq!(
            engine.logoff(HANDLE_BASE + 7).unwrap_err().code(),
            abi::MAPI_E_INVALID_SESSION
        );
        assert_eq!(
            engine.explicit_session(0).err().map(|e| e.code()),
            Some(abi::MAPI_E_INVALID_SESSION)
        );
    }
}
