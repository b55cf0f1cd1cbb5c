//! The `mapishim_backend_v1` C ABI, as declared in `include/mapishim_plugin.h`. The host and
//! the Rust helper share these types, so they cannot drift apart.
use std::ffi::{c_char, c_void};

/// `abi_version` of this ABI. A host refuses any other value.
pub const ABI_VERSION: u32 = 1;
/// The exported entry point, NUL-terminated for the loader.
pub const ENTRY_POINT: &str = "mapishim_backend_v1";
pub const ENTRY_POINT_NUL: &[u8] = b"mapishim_backend_v1\0";

/// `capabilities` bits.
pub const CAP_SEND: u32 = 1 << 0;
pub const CAP_RESOLVE: u32 = 1 << 1;

/// `mapishim_envelope_v1.flags` bits.
pub const ENVELOPE_DIALOG: u32 = 1 << 0;
pub const ENVELOPE_MODELESS: u32 = 1 << 1;

/// Buffer sizes the host passes (the ABI only promises at least [`MIN_BUFFER`]).
pub const MIN_BUFFER: usize = 256;

/// `void *create(const char *options_toml, size_t len, char *error, size_t error_len)`
pub type CreateFn = unsafe extern "C" fn(
    options_toml: *const c_char,
    len: usize,
    error: *mut c_char,
    error_len: usize,
) -> *mut c_void;
pub type DestroyFn = unsafe extern "C" fn(state: *mut c_void);
pub type CapabilitiesFn = unsafe extern "C" fn(state: *mut c_void) -> u32;
pub type SendFn = unsafe extern "C" fn(
    state: *mut c_void,
    envelope: *const EnvelopeV1,
    message: *const u8,
    message_len: usize,
    error: *mut c_char,
    error_len: usize,
) -> u32;
#[allow(clippy::type_complexity)]
pub type ResolveFn = unsafe extern "C" fn(
    state: *mut c_void,
    name_utf8: *const c_char,
    display_out: *mut c_char,
    display_len: usize,
    address_out: *mut c_char,
    address_len: usize,
    error: *mut c_char,
    error_len: usize,
) -> u32;
/// `const struct mapishim_backend_v1 *mapishim_backend_v1(void)`
pub type EntryPointFn = unsafe extern "C" fn() -> *const BackendV1;

/// `struct mapishim_envelope_v1`: who sends and who receives, as bare UTF-8 addresses.
#[repr(C)]
#[derive(Debug)]
pub struct EnvelopeV1 {
    /// `sizeof(struct mapishim_envelope_v1)` as the host knows it; fields may only be appended.
    pub struct_size: u32,
    pub flags: u32,
    pub from: *const c_char,
    /// Every recipient (To, Cc and Bcc) once; Bcc appears only here, never in the message.
    pub recipients: *const *const c_char,
    pub recipient_count: usize,
}

/// `struct mapishim_backend_v1`: what the entry point returns. The function pointers are
/// `Option`s so that a NULL from C is a value the host can check, not undefined behaviour.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BackendV1 {
    pub abi_version: u32,
    /// `sizeof(struct mapishim_backend_v1)` as the plugin was built; fields may only be appended.
    pub struct_size: u32,
    /// Short UTF-8 name for logs, NUL-terminated, static.
    pub name: *const c_char,
    pub create: Option<CreateFn>,
    pub destroy: Option<DestroyFn>,
    pub capabilities: Option<CapabilitiesFn>,
    pub send: Option<SendFn>,
    /// May be NULL when `capabilities` lacks [`CAP_RESOLVE`].
    pub resolve: Option<ResolveFn>,
}

// SAFETY: a `BackendV1` is immutable once built; `name` points to a static string and the
// function pointers are plain code addresses, so sharing it between threads is sound.
unsafe impl Sync for BackendV1 {}
// SAFETY: as above; nothing in it is tied to a thread.
unsafe impl Send for BackendV1 {}

impl BackendV1 {
    pub const SIZE: u32 = size_of::<BackendV1>() as u32;
}

impl EnvelopeV1 {
    pub const SIZE: u32 = size_of::<EnvelopeV1>() as u32;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    /// The layout the header documents: two 32-bit words, then pointer-sized fields.
    #[test]
    fn layout_matches_the_header() {
        let p = size_of::<usize>();
        assert_eq!(offset_of!(BackendV1, name), 8);
        assert_eq!(offset_of!(BackendV1, create), 8 + p);
        assert_eq!(offset_of!(BackendV1, resolve), 8 + 5 * p);
        assert_eq!(BackendV1::SIZE as usize, 8 + 6 * p);
        assert_eq!(offset_of!(EnvelopeV1, from), 8);
        assert_eq!(offset_of!(EnvelopeV1, recipient_count), 8 + 2 * p);
        assert_eq!(EnvelopeV1::SIZE as usize, 8 + 3 * p);
        assert_eq!(
            size_of::<Option<SendFn>>(),
            p,
            "NULL-able function pointers"
        );
        assert_eq!(
            &ENTRY_POINT_NUL[..ENTRY_POINT.len()],
            ENTRY_POINT.as_bytes()
        );
    }
}
