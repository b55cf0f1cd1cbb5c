//! Generates `mapishim_plugin::v1` (the plugin ABI's Rust types and constants) from the
//! table in `mapishim-abi` that also writes `include/mapishim_plugin.h`.
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let path = out.join("plugin_v1.rs");
    std::fs::write(&path, mapishim_abi::render_plugin_rust())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    println!("cargo:rerun-if-changed=build.rs");
}
