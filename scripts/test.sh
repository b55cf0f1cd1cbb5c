#!/usr/bin/env bash
# The test command: installs what the tests need, then runs all of them — Rust unit tests,
# the C programs against the built library and, as Windows programs, against mapi32.dll
# under 64- and 32-bit Wine (messages checked with Python's email parser), header
# checks with gcc and clang, and valgrind. `.ci/run` calls it with CI=true, where nothing
# may be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh

ensure_apt gcc:gcc clang:clang valgrind:valgrind nm:binutils python3:python3 msmtp:msmtp
ensure_venv target/venv pytest aiosmtpd trustme

# Windows builds and Wine: mingw-w64, the Rust targets, wine64, and 32-bit Wine.
ensure_apt x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64 i686-w64-mingw32-gcc:gcc-mingw-w64-i686 \
  wine:wine
for target in x86_64-pc-windows-gnu i686-pc-windows-gnu; do
  rustup target list --installed 2>/dev/null | grep -qx "$target" || rustup target add "$target"
done
if ! ensure_wine32; then
  export MAPISHIM_WINE32_UNAVAILABLE="$WINE32_UNAVAILABLE"
  echo "UNAVAILABLE: 32-bit Wine ($WINE32_UNAVAILABLE)" >&2
  echo "UNAVAILABLE: 32-bit Wine: the 32-bit build and its export/import checks still run" >&2
fi

echo "== cargo test"
cargo test --workspace --quiet

echo "== build"
scripts/build.sh debug >/dev/null

echo "== cross-language tests"
target/venv/bin/python -m pytest tests -q -p no:cacheprovider "$@"
