#!/usr/bin/env bash
# Cross-builds the Windows release with mingw-w64 and lays it out side by side:
#   <target>/dist/windows/x64/ and x86/:
#     mapi32.dll        drop-in, for programs that load mapi32.dll by name
#     mapishim.dll      the same build, for registration as the system's mail client
#     libmapi32.dll.a   import library
#     mapishim.exe      configuration check, test send, registration
#     wine/bcryptprimitives.dll   only for Wine < 9 (see docs/deploy-wine.md)
# <target> is cargo's target directory (./target unless CARGO_TARGET_DIR or the cargo
# configuration says otherwise). With --zip, also <target>/dist/mapishim-<version>-windows.zip
# with both folders and the README; with --msi, the Windows Installer packages
# <target>/dist/windows/mapishim-<version>-x64.msi and -x86.msi (scripts/build-msi.sh).
# Prints the dist folder (last).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cargo.sh
zip=0 msi=0
for arg in "$@"; do
  case $arg in
    --zip) zip=1 ;;
    --msi) msi=1 ;;
    *) echo "usage: build-windows.sh [--zip] [--msi]" >&2; exit 2 ;;
  esac
done
# For size, not speed (Cargo.toml's release profile): the DLL's budget is 4 MiB.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z
target=$(cargo_target_dir)
dist=$target/dist/windows
for pair in x86_64-pc-windows-gnu:x64:x86_64-w64-mingw32 i686-pc-windows-gnu:x86:i686-w64-mingw32; do
  IFS=: read -r triple arch cc <<<"$pair"
  cargo build --quiet --release --target "$triple" -p mapishim-cli
  # The DLL alone: with rlib/staticlib beside it, rustc cannot apply LTO to the cdylib.
  cargo rustc --quiet --release --target "$triple" -p mapi32 --lib --crate-type cdylib
  out=$target/$triple/release
  mkdir -p "$dist/$arch/wine"
  # rustc's strip leaves the DWARF of the C objects (mingw CRT, ring); binutils removes all.
  "$cc-strip" --strip-all -o "$dist/$arch/mapi32.dll" "$out/mapi32.dll"
  cp -f "$dist/$arch/mapi32.dll" "$dist/$arch/mapishim.dll"
  cp -f "$out/libmapi32.dll.a" "$dist/$arch/libmapi32.dll.a"
  "$cc-strip" --strip-all -o "$dist/$arch/mapishim.exe" "$out/mapishim.exe"
  "$cc-gcc" -shared -O2 -s -Wall -Wextra -Werror -o "$dist/$arch/wine/bcryptprimitives.dll" \
    crates/mapi32/wine-compat/bcryptprimitives.c crates/mapi32/wine-compat/bcryptprimitives.def \
    -Wl,--kill-at -Wl,--enable-stdcall-fixup -ladvapi32
done
if [ $zip -eq 1 ]; then
  version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
  archive=$target/dist/mapishim-$version-windows.zip
  rm -f "$archive"
  cp -f README.md "$dist/README.md"
  (cd "$dist" && python3 -m zipfile -c "../mapishim-$version-windows.zip" x64 x86 README.md)
  echo "$archive"
fi
[ $msi -eq 1 ] && scripts/build-msi.sh "$dist"
echo "$dist"
