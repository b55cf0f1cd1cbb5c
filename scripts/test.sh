#!/usr/bin/env bash
# The test command: installs what the tests need, then runs all of them — Rust unit tests,
# the C programs against the built library (checked with Python's email parser), header
# checks with gcc and clang, and valgrind. `.ci/run` calls it with CI=true, where nothing
# may be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh

ensure_apt gcc:gcc clang:clang valgrind:valgrind nm:binutils python3:python3
ensure_venv target/venv pytest

echo "== cargo test"
cargo test --workspace --quiet

echo "== build"
scripts/build.sh debug >/dev/null

echo "== cross-language tests"
target/venv/bin/python -m pytest tests -q -p no:cacheprovider "$@"
