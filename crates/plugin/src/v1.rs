//! The `mapishim_backend_v1` C ABI, as declared in `include/mapishim_plugin.h`. Both are
//! generated from one table (`crates/abi/src/plugin.rs`), so they cannot drift apart; the
//! host and the Rust helper share these types. The function pointers are `Option`s so that
//! a NULL from C is a value the host can check, not undefined behaviour.
include!(concat!(env!("OUT_DIR"), "/plugin_v1.rs"));

// SAFETY: a `BackendV1` is immutable once built; `name` points to a static string and the
// function pointers are plain code addresses, so sharing it between threads is sound.
unsafe impl Sync for BackendV1 {}
// SAFETY: as above; nothing in it is tied to a thread.
unsafe impl Send for BackendV1 {}

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
