//! Generates the Simple MAPI types, structures and function-pointer types from the one
//! table in `mapishim-abi`, so the provider's calls use exactly the types our exports use.
fn main() {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let path = out.join("types.rs");
    std::fs::write(&path, mapishim_abi::render_rust_types())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    println!("cargo:rerun-if-changed=build.rs");
}
