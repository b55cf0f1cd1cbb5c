//! The `VERSIONINFO` resource of `mapishim.exe` (Windows only).
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let rc = out.join("version.rc");
    let text = mapishim_abi::render_version_rc(&mapishim_abi::VersionInfo {
        version: env!("CARGO_PKG_VERSION"),
        dll: false,
        description: "mapishim configuration and test tool",
        original_file_name: "mapishim.exe",
    });
    std::fs::write(&rc, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", rc.display()));
    embed_resource::compile(&rc, embed_resource::NONE)
        .manifest_optional()
        .unwrap_or_else(|e| panic!("cannot compile {}: {e}", rc.display()));
}
