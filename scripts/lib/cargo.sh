# shellcheck shell=bash
# Where cargo writes what it builds, resolved by cargo itself: CARGO_TARGET_DIR,
# CARGO_BUILD_TARGET_DIR, build.target-dir in a .cargo/config.toml, else ./target.
# Sourced by the build scripts, which must never assume ./target.

# cargo_target_dir — prints the absolute target directory of the workspace in $PWD.
cargo_target_dir() {
  local dir
  dir=$(cargo metadata --format-version 1 --no-deps --offline |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  if [ -z "$dir" ]; then
    echo "cannot tell cargo's target directory (cargo metadata failed)" >&2
    return 1
  fi
  printf '%s\n' "$dir"
}
