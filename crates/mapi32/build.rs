//! Generates the ABI (types, structures, exports) from the one table in `mapishim-abi`, and
//! links the library with the matching symbol list: a version script and soname on ELF, the
//! `.def` file with native ordinals on Windows.
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    };
    write("exports.rs", mapishim_abi::render_rust_exports());
    let def = write("mapi32.def", mapishim_abi::render_def());
    let map = write("mapi32.map", mapishim_abi::render_version_script());

    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    match os.as_str() {
        "windows" if env == "gnu" => {
            println!("cargo:rustc-cdylib-link-arg={}", def.display());
            let rc = write(
                "version.rc",
                mapishim_abi::render_version_rc(&mapishim_abi::VersionInfo {
                    version: env!("CARGO_PKG_VERSION"),
                    dll: true,
                    description: "mapishim Simple MAPI provider",
                    original_file_name: "mapi32.dll",
                }),
            );
            embed_resource::compile_for_cdylib(&rc, embed_resource::NONE)
                .manifest_optional()
                .unwrap_or_else(|e| panic!("cannot compile {}: {e}", rc.display()));
        }
        "linux" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" | "illumos" => {
            println!(
                "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
                map.display()
            );
            println!(
                "cargo:rustc-cdylib-link-arg=-Wl,-soname,{}",
                mapishim_abi::SONAME
            );
        }
        _ => {}
    }
    println!("cargo:rerun-if-changed=build.rs");
}
