//! The Simple MAPI C ABI: a thin, defensive layer over `mapishim-engine`.
//!
//! Every export is generated from the table in `mapishim-abi` (see `build.rs`) and runs
//! inside [`boundary::guard`], which turns a panic into `MAPI_E_FAILURE`. The functions in
//! `api` check every pointer and count, copy what they need into safe Rust values
//! (`convert`), call the engine, and write out-parameters only on success. Memory handed
//! to callers comes from `buffers` and is freed only through `MAPIFreeBuffer`.
#![deny(unsafe_op_in_unsafe_fn)]

/// Generated ABI: SDK types, `#[repr(C)]` structures and the `extern "system"` exports.
#[allow(
    non_snake_case,
    non_camel_case_types,
    clippy::upper_case_acronyms,
    clippy::missing_safety_doc
)]
pub mod abi {
    include!(concat!(env!("OUT_DIR"), "/exports.rs"));
}

mod api;
mod boundary;
mod buffers;
mod convert;

pub use buffers::live_blocks;
