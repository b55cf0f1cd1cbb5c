//! Refusing to forward to ourselves: a provider that is mapishim would pass every call back
//! to itself (or to another copy of itself) without end.
use std::ffi::c_void;
use std::path::Path;

/// Bytes only a mapishim binary holds. Every build of the library links this crate (the
/// engine depends on it), so a file containing them is us, whatever it is called.
#[used]
pub static MARKER: &[u8] = b"mapishim-forward self-marker 5c0f6e2b-9d41: this is us";

/// Before loading: the file holds [`MARKER`], so it is a mapishim build (the same file as
/// ours, or a copy under another name).
pub fn file_is_us(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, MARKER).is_some()
}

/// After loading: `address` (one of the provider's exports) lies in the module that runs
/// this code. Catches what the file check cannot see, such as a loader redirection.
pub fn is_own_module(address: *const c_void) -> bool {
    match (module_of(address), module_of(MARKER.as_ptr().cast())) {
        (Some(theirs), Some(ours)) => theirs == ours,
        _ => false,
    }
}

/// The base address of the module that contains `address`.
#[cfg(unix)]
fn module_of(address: *const c_void) -> Option<usize> {
    // SAFETY: all-zero is a valid `Dl_info` (NULL pointers, zero numbers).
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only looks the address up in the loader's tables and fills `info`.
    let found = unsafe { libc::dladdr(address, &mut info) };
    (found != 0 && !info.dli_fbase.is_null()).then_some(info.dli_fbase as usize)
}

/// The module handle (its base address) that contains `address`.
#[cfg(windows)]
fn module_of(address: *const c_void) -> Option<usize> {
    use windows_sys::Win32::System::LibraryLoader::{
        GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
        GetModuleHandleExW,
    };
    let mut module = std::ptr::null_mut();
    // SAFETY: with FROM_ADDRESS the name argument is an address inside a module, never read
    // as a string; UNCHANGED_REFCOUNT takes no reference that would need releasing.
    let ok = unsafe {
        GetModuleHandleExW(
            GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
            address.cast(),
            &mut module,
        )
    };
    (ok != 0 && !module.is_null()).then_some(module as usize)
}

#[cfg(not(any(unix, windows)))]
fn module_of(_address: *const c_void) -> Option<usize> {
    None
}

/// Why loading `path` was refused, in the words the log shows the admin.
pub fn refusal(path: &Path, how: &str) -> String {
    format!(
        "refusing to forward to {}: it is mapishim itself ({how}), which would call itself; \
         set [forward] library to another Simple MAPI provider",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_is_found_only_where_it_is() {
        let mut bytes = b"MZ....".to_vec();
        assert!(!file_is_us(&bytes));
        bytes.extend_from_slice(MARKER);
        bytes.extend_from_slice(b"\0tail");
        assert!(file_is_us(&bytes));
    }

    #[test]
    fn our_test_binary_holds_the_marker() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(file_is_us(&exe));
    }

    #[test]
    #[cfg(any(unix, windows))]
    fn own_module_is_recognised_and_others_are_not() {
        assert!(is_own_module(refusal as *const c_void));
        #[cfg(unix)]
        assert!(!is_own_module(libc::strlen as *const c_void));
        assert!(!is_own_module(std::ptr::null()));
    }
}
