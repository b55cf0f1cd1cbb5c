//! The Simple MAPI C ABI: a thin, defensive layer over `mapishim-engine`.
//!
//! Every export is generated from the table in `mapishim-abi` (see `build.rs`) with its
//! parameters typed by the FFI layer (`mapishim-ffi`: `InStr`, `InRef`, `InArray`, `Out`,
//! …), and runs inside [`boundary::guard`], which turns a panic into `MAPI_E_FAILURE` and
//! logs each refusal once. The functions in `api` copy what they need into safe Rust values
//! (`convert`), call the engine, and set out-parameters only on success; they hold no
//! `unsafe`. Memory handed to callers comes from `mapishim_ffi::block` and is freed only
//! through `MAPIFreeBuffer`.

/// Generated ABI: SDK types, `#[repr(C)]` structures (raw, and as callers pass them in) and
/// the `extern "system"` exports.
#[allow(
    non_snake_case,
    non_camel_case_types,
    clippy::upper_case_acronyms,
    clippy::too_many_arguments
)]
pub mod abi {
    include!(concat!(env!("OUT_DIR"), "/exports.rs"));
}

mod api;
mod boundary;
mod convert;

pub use mapishim_ffi::block::live_blocks;
