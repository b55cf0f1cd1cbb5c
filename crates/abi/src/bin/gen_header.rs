//! Writes `include/mapi.h` from the export table; `--check` only compares.
fn main() -> std::process::ExitCode {
    mapishim_abi::write_or_check_header(
        "mapi.h",
        "mapishim-gen-header",
        &mapishim_abi::render_header(),
    )
}
