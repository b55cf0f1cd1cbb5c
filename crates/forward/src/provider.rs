//! The provider library: loaded once, checked not to be us, its entry points typed with the
//! SDK's function-pointer types generated from the ABI table.
use crate::ffi::*;
use crate::identity;
use libloading::Library;
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
        let required = |name: &str| {
            address(&library, name).ok_or_else(|| {
                format!(
                    "{} does not export {name}; it is not a Simple MAPI provider",
                    path.display()
                )
            })
        };
        let logon = required("MAPILogon")?;
        let logoff = required("MAPILogoff")?;
        let send_mail = required("MAPISendMail")?;
        if identity::is_own_module(send_mail) {
            return Err(identity::refusal(path, "it loaded as our own module"));
        }
        let send_mail_w = address(&library, "MAPISendMailW");
        let resolve_name = address(&library, "MAPIResolveName")
            .zip(address(&library, "MAPIFreeBuffer"))
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
