#!/usr/bin/env bash
# Builds the library and the CLI and lays them out as they are installed:
#   <target>/dist/<profile>/lib/libmapi32.so.1   (soname), libmapi32.so -> libmapi32.so.1, libmapi32.a
#   <target>/dist/<profile>/include/mapi.h, mapishim_plugin.h
#   <target>/dist/<profile>/bin/mapishim
#   <target>/dist/<profile>/lib/pkgconfig/mapishim.pc, lib/cmake/mapishim/  (relocatable)
# <target> is cargo's target directory (./target unless CARGO_TARGET_DIR or the cargo
# configuration says otherwise). Usage: scripts/build.sh [debug|release]   (default: debug).
# Prints the dist folder.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cargo.sh
. scripts/lib/devfiles.sh
profile=${1:-debug}
case "$profile" in
  debug) cargo build --quiet --workspace ;;
  release)
    cargo build --quiet --workspace --release
    # Rebuild the shared library alone: only then does rustc apply LTO to the cdylib.
    cargo rustc --quiet --release -p mapi32 --lib --crate-type cdylib ;;
  *) echo "usage: $0 [debug|release]" >&2; exit 2 ;;
esac
target=$(cargo_target_dir)
out=$target/$profile
dist=$target/dist/$profile
mkdir -p "$dist/lib" "$dist/include" "$dist/bin"
case "$(uname -s)" in
  Darwin)
    cp -f "$out/libmapi32.dylib" "$dist/lib/" ;;
  *)
    cp -f "$out/libmapi32.so" "$dist/lib/libmapi32.so.1"
    ln -sf libmapi32.so.1 "$dist/lib/libmapi32.so" ;;
esac
cp -f "$out/libmapi32.a" "$dist/lib/"
cp -f include/mapi.h include/mapishim_plugin.h "$dist/include/"
cp -f "$out/mapishim" "$dist/bin/"
# shellcheck disable=SC2016 # ${pcfiledir} is pkg-config's, not the shell's
write_dev_files "$dist" '${pcfiledir}/../..' lib include
echo "$dist"
