//! The provider library: loaded once, checked not to be us, its entry points typed with the
//! SDK's function-pointer types generated from the ABI table.
use crate::ffi::*;
use crate::identity;
use libloading::Library;
use mapishim_core::MapiError;
use std::cell::Cell;
use std::ffi::c_void;
use std::path::{Path, PathBuf};

pub struct Provider {
    pub path: PathBuf,
    pub logon: LPMAPILOGON,
    pub logoff: LPMAPILOGOFF,
    pub send_mail: LPMAPISENDMAIL,
    pub send_mail_w: Option<LPMAPISENDMAILW>,
    /// Resolution needs both; without them names go to our address book.
    pub resolve_name: Option<(LPMAPIRESOLVENAME, LPMAPIFREEBUFFER)>,
}

/// Opens the library the way its own callers would.
fn open(path: &Path) -> Result<Library, libloading::Error> {
    #[cfg(windows)]
    {
        // Dependencies beside the provider (Office's and Thunderbird's folders) are found
        // first, as when the system's mapi32.dll stub loads it from the registry.
        use libloading::os::windows::{LOAD_WITH_ALTERED_SEARCH_PATH, Library as WinLibrary};
        // SAFETY: loading runs the provider's initializers, which is what configuring it
        // asks for; the file was checked not to be us.
        unsafe { WinLibrary::load_with_flags(path, LOAD_WITH_ALTERED_SEARCH_PATH) }.map(Into::into)
    }
    #[cfg(not(windows))]
    {
        // SAFETY: as above.
        unsafe { Library::new(path) }
    }
}

/// The address of an export, or `None` when it is missing or NULL.
fn address(library: &Library, name: &str) -> Option<*mut c_void> {
    let symbol = format!("{name}\0");
    // SAFETY: asked as a plain address (`*mut c_void`), nothing is read through it here.
    let found = unsafe { library.get::<*mut c_void>(symbol.as_bytes()) }.ok()?;
    let address = *found;
    (!address.is_null()).then_some(address)
}

/// Types an export's address with the SDK's function-pointer type for that name.
macro_rules! typed {
    ($address:expr, $ty:ty) => {{
        let address: *mut c_void = $address;
        // SAFETY: non-NULL (see `address`), exported under the SDK name whose type `$ty`
        // is generated from the ABI table; a function pointer has the size of an address.
        unsafe { std::mem::transmute::<*mut c_void, $ty>(address) }
    }};
}

/// An export, or `None` when it is missing, NULL or ours. On Linux a lookup in the provider
/// also searches its dependencies, so a provider linked against libmapi32.so.1 that lacks an
/// export would hand back our own: our `MAPIFreeBuffer` freeing its memory, or our
/// `MAPISendMailW` calling back into the forward backend.
fn export(library: &Library, path: &Path, name: &str) -> Option<*mut c_void> {
    let found = address(library, name)?;
    if identity::is_own_module(found) {
        tracing::warn!(
            provider = %path.display(),
            "forward: {name} found in the provider is mapishim's own (from a library it links); treated as missing"
        );
        return None;
    }
    Some(found)
}

impl Provider {
    pub fn load(path: &Path) -> Result<Provider, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read the provider {}: {e}", path.display()))?;
        if identity::file_is_us(&bytes) {
            return Err(identity::refusal(path, "the file is a mapishim build"));
        }
        drop(bytes);
        let library =
            open(path).map_err(|e| format!("cannot load the provider {}: {e}", path.display()))?;
        // First: when the whole module is ours (a loader redirection), say so.
        if address(&library, "MAPISendMail").is_some_and(|a| identity::is_own_module(a)) {
            return Err(identity::refusal(path, "it loaded as our own module"));
        }
        let required = |name: &str| {
            export(&library, path, name).ok_or_else(|| {
                format!(
                    "{} does not export {name}; it is not a Simple MAPI provider",
                    path.display()
                )
            })
        };
        let logon = required("MAPILogon")?;
        let logoff = required("MAPILogoff")?;
        let send_mail = required("MAPISendMail")?;
        let send_mail_w = export(&library, path, "MAPISendMailW");
        let resolve_name = export(&library, path, "MAPIResolveName")
            .zip(export(&library, path, "MAPIFreeBuffer"))
            .map(|(resolve, free)| {
                (
                    typed!(resolve, LPMAPIRESOLVENAME),
                    typed!(free, LPMAPIFREEBUFFER),
                )
            });
        let provider = Provider {
            path: path.to_path_buf(),
            logon: typed!(logon, LPMAPILOGON),
            logoff: typed!(logoff, LPMAPILOGOFF),
            send_mail: typed!(send_mail, LPMAPISENDMAIL),
            send_mail_w: send_mail_w.map(|a| typed!(a, LPMAPISENDMAILW)),
            resolve_name,
        };
        // Never unloaded: a provider may still run a modeless compose window or a worker
        // thread after its call returned, and unloading its code under them would crash the
        // host. Loading the same file again (a configuration reload) only counts a reference.
        std::mem::forget(library);
        Ok(provider)
    }
}

thread_local! {
    /// The provider function this thread is inside, if any.
    static IN_PROVIDER: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Clears the mark when the call returns.
struct Inside;

impl Drop for Inside {
    fn drop(&mut self) {
        IN_PROVIDER.with(|c| c.set(None));
    }
}

/// Runs one provider call, unless this thread is already inside one. A provider that calls
/// Simple MAPI again (the system mapi32.dll stub registered to mapishim, say) would reach us
/// again and recurse until the stack overflows; that call fails instead.
pub fn guarded<T>(function: &'static str, call: impl FnOnce() -> T) -> Result<T, MapiError> {
    if let Some(outer) = IN_PROVIDER.with(|c| c.replace(Some(function))) {
        IN_PROVIDER.with(|c| c.set(Some(outer)));
        let why = format!(
            "forward: the provider's {outer} called back into mapishim ({function}); refused, \
             as it would loop: [forward] library must not lead back to mapishim"
        );
        return Err(MapiError::failure(why));
    }
    let _inside = Inside;
    Ok(call())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_call_that_reenters_fails_instead_of_recursing() {
        let mut depth = 0;
        fn reenter(depth: &mut u32) -> Result<u32, MapiError> {
            *depth += 1;
            assert!(*depth < 10, "recursed");
            guarded("MAPISendMail", || reenter(depth))?
        }
        let err = reenter(&mut depth).unwrap_err();
        assert_eq!(depth, 2, "the second entry is refused");
        assert_eq!(err.code(), mapishim_abi::MAPI_E_FAILURE);
        assert!(
            err.to_string().contains("MAPISendMail called back"),
            "{err}"
        );

        // The mark is cleared: the next call runs, also after a refused one.
        assert_eq!(guarded("MAPILogon", || 7).unwrap(), 7);
        assert_eq!(guarded("MAPILogoff", || 8).unwrap(), 8);
        // Other threads are not affected by this thread's call.
        let other = guarded("MAPISendMailW", || {
            std::thread::spawn(|| guarded("MAPIResolveName", || 1).is_ok())
                .join()
                .unwrap()
        });
        assert!(other.unwrap());
    }
}
