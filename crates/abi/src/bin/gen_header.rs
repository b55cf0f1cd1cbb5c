//! Writes `include/mapi.h` from the export table; `--check` only compares.
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../include/mapi.h");
    let fresh = mapishim_abi::render_header();
    if check {
        return match std::fs::read_to_string(&path) {
            Ok(committed) if committed == fresh => ExitCode::SUCCESS,
            _ => {
                eprintln!(
                    "{} is stale: run `cargo run -p mapishim-abi --bin mapishim-gen-header`",
                    path.display()
                );
                ExitCode::FAILURE
            }
        };
    }
    if let Err(e) = std::fs::write(&path, fresh) {
        eprintln!("cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {}", path.display());
    ExitCode::SUCCESS
}
