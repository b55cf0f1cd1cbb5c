//! Writes `include/mapishim_plugin.h` from the plugin ABI table; `--check` only compares.
fn main() -> std::process::ExitCode {
    mapishim_abi::write_or_check_header(
        "mapishim_plugin.h",
        "mapishim-gen-plugin-header",
        &mapishim_abi::render_plugin_header(),
    )
}
