//! Loads backend plugins through the versioned `mapishim_backend_v1` C ABI
//! (`include/mapishim_plugin.h`, `docs/plugins.md`).
//!
//! The library is loaded with each configuration and never unloaded (see [`open`]).
//! Its table is validated (version, size, non-NULL functions) before anything is called;
//! every problem becomes an error that names the file. Messages cross the boundary as
//! RFC 5322 bytes without Bcc, plus an envelope that lists every recipient.
#![deny(unsafe_op_in_unsafe_fn)]

use libloading::Library;
use mapishim_abi as mapi;
use mapishim_core::address::{self, Typed};
use mapishim_core::config::PluginSettings;
use mapishim_core::mime::{self, BccHeader};
use mapishim_core::text::single_line;
use mapishim_core::{Backend, Delivery, Mailbox, MapiCode, MapiError, Message, Result};
use mapishim_plugin::abi::{self, BackendV1, DestroyFn, EnvelopeV1, ResolveFn, SendFn};
use std::ffi::{CStr, CString, c_char, c_void};
use std::path::{Path, PathBuf};

const ERROR_BUFFER: usize = 1024;
const DISPLAY_BUFFER: usize = 1024;
const ADDRESS_BUFFER: usize = 512;
const _: () = assert!(ERROR_BUFFER >= abi::MIN_BUFFER && ADDRESS_BUFFER >= abi::MIN_BUFFER);

pub struct PluginBackend {
    /// The plugin's own name, for logs.
    name: String,
    path: PathBuf,
    state: *mut c_void,
    capabilities: u32,
    destroy: DestroyFn,
    send: SendFn,
    resolve: Option<ResolveFn>,
}

// SAFETY: the ABI requires a plugin's functions to accept concurrent calls from any thread
// on one state; the host only passes `state` back to the plugin and never touches it.
unsafe impl Send for PluginBackend {}
// SAFETY: as above; `&PluginBackend` only reads immutable fields and calls the plugin.
unsafe impl Sync for PluginBackend {}

/// A C string from a buffer the plugin filled: up to the first NUL and never past the end,
/// on one line.
fn buffer_text(buffer: &[c_char]) -> String {
    let bytes: Vec<u8> = buffer
        .iter()
        .map(|&c| c as u8)
        .take_while(|&b| b != 0)
        .collect();
    single_line(&String::from_utf8_lossy(&bytes))
}

fn c_string(text: &str, what: &str) -> Result<CString> {
    CString::new(text).map_err(|_| MapiError::failure(format!("{what} contains NUL")))
}

/// Opens a plugin library. On Windows the plugin's folder is searched first for the DLLs it
/// imports, so a plugin can ship its own dependencies beside it.
fn open(path: &Path) -> std::result::Result<Library, libloading::Error> {
    #[cfg(windows)]
    {
        use libloading::os::windows::{LOAD_WITH_ALTERED_SEARCH_PATH, Library as WinLibrary};
        // The flag wants an absolute path (with a relative one the search is undefined).
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        // SAFETY: loading runs the library's initializers. The configuration names the file,
        // and whoever can write the configuration chooses the code that runs
        // (docs/plugins.md).
        unsafe { WinLibrary::load_with_flags(&path, LOAD_WITH_ALTERED_SEARCH_PATH) }.map(Into::into)
    }
    #[cfg(not(windows))]
    {
        // SAFETY: as above.
        unsafe { Library::new(path) }
    }
}

impl PluginBackend {
    /// Loads `settings.library`, validates its table and creates the plugin's state with
    /// `settings.options` rendered as TOML text.
    pub fn load(settings: &PluginSettings) -> std::result::Result<Self, String> {
        let path = &settings.library;
        let shown = path.display();
        if !path.is_file() {
            return Err(format!("plugin library {shown} does not exist"));
        }
        let library =
            open(path).map_err(|e| format!("plugin library {shown} cannot be loaded: {e}"))?;
        // SAFETY: a symbol of this name is the ABI's entry point and has its type.
        let entry = unsafe { library.get::<abi::EntryPointFn>(abi::ENTRY_POINT_NUL) }
            .map(|symbol| *symbol)
            .map_err(|_| {
                format!(
                    "{shown} is not a mapishim plugin: it exports no `{}` function",
                    abi::ENTRY_POINT
                )
            })?;
        // SAFETY: the entry point takes nothing and returns a pointer (or NULL).
        let table = unsafe { entry() };
        // Never unloaded, also when the table is refused or the state destroyed: a plugin may
        // leave threads running, and unmapping their code would crash the process. Loading
        // the same file again (a configuration change) only counts a reference.
        std::mem::forget(library);
        // SAFETY: the table comes from the library, which stays loaded (above).
        let backend = unsafe { Self::from_table(table, path, &settings.options) }
            .map_err(|why| format!("plugin library {shown}: {why}"))?;
        tracing::info!(plugin = %backend.name, library = %shown, capabilities = backend.capabilities, "plugin loaded");
        Ok(backend)
    }

    /// Validates a table and creates the plugin's state.
    ///
    /// # Safety
    /// `table` is NULL or points to a table whose first 8 bytes are readable and which is as
    /// large as its `struct_size` says; its functions behave as the ABI describes and stay
    /// loaded while the returned backend lives.
    pub unsafe fn from_table(
        table: *const BackendV1,
        path: &Path,
        options: &mapishim_plugin::toml::Table,
    ) -> std::result::Result<Self, String> {
        if table.is_null() {
            return Err(format!("{} returned NULL", abi::ENTRY_POINT));
        }
        if !table.is_aligned() {
            return Err(format!(
                "{} returned a misaligned pointer",
                abi::ENTRY_POINT
            ));
        }
        // SAFETY: non-NULL and aligned; every version starts with these two words.
        let [version, size] = unsafe { table.cast::<[u32; 2]>().read() };
        if version != abi::ABI_VERSION {
            return Err(format!(
                "plugin ABI version {version}, this host supports {}",
                abi::ABI_VERSION
            ));
        }
        if size < BackendV1::SIZE {
            return Err(format!(
                "struct_size {size} is smaller than struct mapishim_backend_v1 ({} bytes)",
                BackendV1::SIZE
            ));
        }
        // SAFETY: the plugin declares at least `BackendV1::SIZE` bytes; later versions only
        // append fields, which are not read.
        let table = unsafe { table.read() };
        let missing = |field: &str| format!("mapishim_backend_v1.{field} is NULL");
        if table.name.is_null() {
            return Err(missing("name"));
        }
        // SAFETY: non-NULL; the ABI requires a static NUL-terminated string.
        let name = single_line(&unsafe { CStr::from_ptr(table.name) }.to_string_lossy());
        let create = table.create.ok_or_else(|| missing("create"))?;
        let destroy = table.destroy.ok_or_else(|| missing("destroy"))?;
        let capabilities = table.capabilities.ok_or_else(|| missing("capabilities"))?;
        let send = table.send.ok_or_else(|| missing("send"))?;
        let options =
            CString::new(options.to_string()).map_err(|_| "options contain NUL".to_string())?;
        let mut error = [0 as c_char; ERROR_BUFFER];
        // SAFETY: the text is NUL-terminated and `len` excludes the NUL; `error` is writable
        // for its length.
        let state = unsafe {
            create(
                options.as_ptr(),
                options.as_bytes().len(),
                error.as_mut_ptr(),
                error.len(),
            )
        };
        if state.is_null() {
            return Err(format!(
                "plugin {name} refused its options: {}",
                buffer_text(&error)
            ));
        }
        // SAFETY: `state` is the live state `create` returned.
        let capabilities = unsafe { capabilities(state) };
        if capabilities & abi::CAP_RESOLVE != 0 && table.resolve.is_none() {
            // SAFETY: destroyed once; nothing else holds it.
            unsafe { destroy(state) };
            return Err(format!(
                "plugin {name} has the RESOLVE capability but {} is NULL",
                missing("resolve")
            ));
        }
        Ok(PluginBackend {
            name,
            path: path.to_path_buf(),
            state,
            capabilities,
            destroy,
            send,
            resolve: table
                .resolve
                .filter(|_| capabilities & abi::CAP_RESOLVE != 0),
        })
    }

    /// The plugin's name from its table.
    pub fn plugin_name(&self) -> &str {
        &self.name
    }

    pub fn capabilities(&self) -> u32 {
        self.capabilities
    }

    /// The caller's error for a plugin's non-zero code: known MAPI codes pass through,
    /// anything else is `MAPI_E_FAILURE`.
    fn failure(&self, code: u32, error: &[c_char]) -> MapiError {
        let mut text = buffer_text(error);
        if text.is_empty() {
            text = "no detail given".into();
        }
        let Some(known) = MapiCode::from_u32(code) else {
            return MapiError::failure(format!(
                "plugin {} returned unknown code {code}: {text}",
                self.name
            ));
        };
        MapiError::new(known, format!("plugin {}: {text}", self.name))
    }

    fn mailbox(&self, display: &[c_char], address_text: &[c_char]) -> Result<Mailbox> {
        let text = buffer_text(address_text);
        let address = match address::split_type(&text) {
            Typed::Smtp(a) | Typed::Untyped(a) => a.to_string(),
            Typed::Other { .. } => String::new(),
        };
        address::validate(&address).map_err(|why| {
            MapiError::failure(format!(
                "plugin {} resolved to an invalid address {text:?}: {why}",
                self.name
            ))
        })?;
        let name = buffer_text(display);
        Ok(Mailbox {
            name: (!name.is_empty()).then_some(name),
            address,
        })
    }
}

impl Drop for PluginBackend {
    fn drop(&mut self) {
        tracing::debug!(plugin = %self.name, library = %self.path.display(), "plugin state destroyed");
        // SAFETY: `state` came from `create` and is destroyed exactly once, after every call
        // on it returned (they all borrow `self`); the library is never unloaded.
        unsafe { (self.destroy)(self.state) };
    }
}

impl Backend for PluginBackend {
    fn name(&self) -> &'static str {
        "plugin"
    }

    fn send(&self, message: &Message) -> Result<Delivery> {
        if self.capabilities & abi::CAP_SEND == 0 {
            return Err(MapiError::new(
                MapiCode::NotSupported,
                format!("plugin {} does not send mail", self.name),
            ));
        }
        let bytes = mime::to_vec(message, BccHeader::Omit);
        let from = c_string(&message.from.address, "sender address")?;
        let recipients = message
            .envelope_recipients()
            .into_iter()
            .map(|r| c_string(r, "recipient address"))
            .collect::<Result<Vec<_>>>()?;
        let pointers: Vec<*const c_char> = recipients.iter().map(|r| r.as_ptr()).collect();
        let mut flags = 0;
        if message.dialog {
            flags |= abi::ENVELOPE_DIALOG;
        }
        if message.modeless {
            flags |= abi::ENVELOPE_MODELESS;
        }
        let envelope = EnvelopeV1 {
            struct_size: EnvelopeV1::SIZE,
            flags,
            from: from.as_ptr(),
            recipients: if pointers.is_empty() {
                std::ptr::null()
            } else {
                pointers.as_ptr()
            },
            recipient_count: pointers.len(),
        };
        let mut error = [0 as c_char; ERROR_BUFFER];
        // SAFETY: every pointer refers to a local that outlives the call; lengths match.
        let code = unsafe {
            (self.send)(
                self.state,
                &envelope,
                bytes.as_ptr(),
                bytes.len(),
                error.as_mut_ptr(),
                error.len(),
            )
        };
        match code {
            mapi::SUCCESS_SUCCESS => Ok(Delivery::Sent),
            code => Err(self.failure(code, &error)),
        }
    }

    /// The plugin's answer; `MAPI_E_NOT_SUPPORTED` from it means "ask the address book".
    fn resolve(&self, _session: usize, name: &str) -> Option<Result<Mailbox>> {
        let resolve = self.resolve?;
        let Ok(c_name) = CString::new(name) else {
            return Some(Err(MapiError::new(
                MapiCode::UnknownRecipient,
                "name contains NUL",
            )));
        };
        let mut display = [0 as c_char; DISPLAY_BUFFER];
        let mut address = [0 as c_char; ADDRESS_BUFFER];
        let mut error = [0 as c_char; ERROR_BUFFER];
        // SAFETY: the name is NUL-terminated; each buffer is writable for its length.
        let code = unsafe {
            resolve(
                self.state,
                c_name.as_ptr(),
                display.as_mut_ptr(),
                display.len(),
                address.as_mut_ptr(),
                address.len(),
                error.as_mut_ptr(),
                error.len(),
            )
        };
        match code {
            mapi::SUCCESS_SUCCESS => Some(self.mailbox(&display, &address)),
            mapi::MAPI_E_NOT_SUPPORTED => None,
            code => Some(Err(self.failure(code, &error))),
        }
    }
}

#[cfg(test)]
mod tests;
