#!/usr/bin/env bash
# shellcheck disable=SC2317  # the stage_* functions are called by name, in run_stage
# The test command. Sets the machine up (scripts/setup.sh, for the stages asked for), runs
# the stages in order and ends with a table of each stage's result and wall time; exits
# non-zero when any stage failed (later stages still run, so one report shows everything).
#
# Usage: scripts/test.sh [STAGE...] [-- PYTEST-ARGS...]
#   all         gates, then rust, c, wine, smtp, fuzz (the default; what .ci/run runs)
#   gates       fmt, clippy, msrv, shellcheck, headers
#   - fmt         cargo fmt --check, for the workspace and the fuzz crate (crates/fuzz)
#   - clippy      cargo clippy --workspace --all-targets --locked -- -D warnings, for Linux
#                 and for x86_64-pc-windows-gnu; and for the fuzz crate
#   - msrv        cargo check with the workspace's rust-version toolchain (--locked)
#   - shellcheck  every shell script in scripts/ and .ci/run, and the build scripts'
#                 target-directory logic
#   - headers     include/mapi.h and include/mapishim_plugin.h match their tables
#   rust        cargo test --workspace --locked
#   c           pytest -m c: C programs against the Linux library, headers, valgrind, CLI
#   wine        pytest -m wine: the Windows build and programs under 64- and 32-bit Wine
#   smtp        pytest -m smtp: tests that start mail services on loopback
#   fuzz        scripts/fuzz for MAPISHIM_FUZZ_SECONDS (default 300): AFL++ on the C boundary
# PYTEST-ARGS go to every pytest stage, e.g. `scripts/test.sh c -- -k attachments`.
# --no-setup skips scripts/setup.sh. Under CI=true nothing may be skipped: a skipped test
# fails (tests/conftest.py), except 32-bit Wine when the mirror cannot provide it
# (docs/decisions.md §7).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh
. scripts/lib/cargo.sh

GATES=(fmt clippy msrv shellcheck headers)
TESTS=(rust c wine smtp fuzz)
PYTHON=target/venv/bin/python

usage() { sed -n '3,/^[^#]/{/^#/!d;s/^# \{0,1\}//;p}' "$0"; }

stages=() pytest_args=() setup=1
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; pytest_args=("$@"); break ;;
    --no-setup) setup=0 ;;
    -h | --help) usage; exit 0 ;;
    all) stages+=("${GATES[@]}" "${TESTS[@]}") ;;
    gates) stages+=("${GATES[@]}") ;;
    fmt | clippy | msrv | shellcheck | headers | rust | c | wine | smtp | fuzz) stages+=("$1") ;;
    *) echo "unknown stage: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[ ${#stages[@]} -gt 0 ] || stages=("${GATES[@]}" "${TESTS[@]}")

# ---- the stages ------------------------------------------------------------------------

# The fuzz crate is a workspace of its own (crates/fuzz/Cargo.toml), so it is named here:
# unchecked, it stopped building once when the exports changed.
FUZZ_MANIFEST=crates/fuzz/Cargo.toml

stage_fmt() {
  cargo fmt --all -- --check
  cargo fmt --all --manifest-path "$FUZZ_MANIFEST" -- --check
}

# Also for Windows: code behind cfg(windows) (registration, wide paths, the DLL's loader
# glue) is built only there, and its warnings showed up only in build-windows.sh.
stage_clippy() {
  cargo clippy --quiet --workspace --all-targets --locked -- -D warnings
  cargo clippy --quiet --workspace --all-targets --locked --target x86_64-pc-windows-gnu -- -D warnings
  CARGO_TARGET_DIR="$(cargo_target_dir)/fuzz-clippy" \
    cargo clippy --quiet --manifest-path "$FUZZ_MANIFEST" --all-targets --locked -- -D warnings
}

# The declared rust-version must build what the lockfile holds. A toolchain of its own and a
# target folder of its own, so the main build stays warm.
stage_msrv() {
  local version
  version=$(workspace_rust_version)
  echo "rust-version $version: $(rustup run "$version" rustc --version)"
  CARGO_TARGET_DIR="$(cargo_target_dir)/msrv" \
    cargo "+$version" check --quiet --workspace --all-targets --locked || {
    echo "FAILED: the locked dependencies or the code need a newer Rust than rust-version $version" \
      "(first error above): raise rust-version in Cargo.toml, or pin crates that build with it" >&2
    return 1
  }
}

stage_shellcheck() {
  local scripts=() f
  for f in scripts/* scripts/lib/* .ci/run; do
    [ -f "$f" ] || continue
    case "$f" in
      *.sh | .ci/run) scripts+=("$f") ;;
      *) head -n 1 "$f" | grep -qE '^#!.*\b(ba)?sh\b' && scripts+=("$f") ;;
    esac
  done
  echo "${#scripts[@]} scripts: ${scripts[*]}"
  shellcheck -x "${scripts[@]}"
  check_target_dir_logic
}

# The build scripts put everything under cargo's target directory, wherever that is
# (issue: build-windows.sh once read target/<triple>/release whatever CARGO_TARGET_DIR said).
check_target_dir_logic() {
  local bad=0 got
  got=$(CARGO_TARGET_DIR=/nonexistent/ci-target cargo_target_dir)
  [ "$got" = /nonexistent/ci-target ] || { echo "CARGO_TARGET_DIR: cargo_target_dir gave $got" >&2; bad=1; }
  got=$(CARGO_TARGET_DIR=rel/ci-target cargo_target_dir)
  [ "$got" = "$PWD/rel/ci-target" ] || { echo "relative CARGO_TARGET_DIR: cargo_target_dir gave $got" >&2; bad=1; }
  got=$(unset CARGO_TARGET_DIR; CARGO_BUILD_TARGET_DIR=/nonexistent/b cargo_target_dir)
  [ "$got" = /nonexistent/b ] || { echo "CARGO_BUILD_TARGET_DIR: cargo_target_dir gave $got" >&2; bad=1; }
  # No script may name cargo's output folder itself (the venv and the Wine prefix under
  # ./target are the tests' own and stay there).
  if grep -nE '(^|[^A-Za-z_$/{<])target/([$]|debug|release|dist|[a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+)' scripts/*.sh; then
    echo "the lines above name ./target instead of \$(cargo_target_dir)" >&2
    bad=1
  fi
  return "$bad"
}

stage_headers() {
  cargo run --quiet --locked -p mapishim-abi --bin mapishim-gen-header -- --check
  echo "include/mapi.h is fresh"
  cargo run --quiet --locked -p mapishim-abi --bin mapishim-gen-plugin-header -- --check
  echo "include/mapishim_plugin.h is fresh (its Rust twin, mapishim_plugin::v1, is generated at build time)"
}

stage_rust() { cargo test --quiet --workspace --locked; }

# pytest's exit codes: 0 passed, 1 tests failed, 2 interrupted, 3 internal error, 4 usage
# error, 5 no test selected (a stage that selects nothing is broken, not green).
run_pytest() {
  local marker=$1 rc=0
  [ -x "$PYTHON" ] || { echo "no $PYTHON: run scripts/setup.sh" >&2; return 1; }
  "$PYTHON" -m pytest tests -q -p no:cacheprovider -m "$marker" "${pytest_args[@]}" || rc=$?
  case $rc in
    0) return 0 ;;
    1) echo "pytest: tests failed" >&2 ;;
    2) echo "pytest: interrupted" >&2 ;;
    3) echo "pytest: internal error" >&2 ;;
    4) echo "pytest: usage error" >&2 ;;
    5) echo "pytest: the stage selected no test" >&2 ;;
    *) echo "pytest: exit $rc" >&2 ;;
  esac
  return 1
}

stage_c() { run_pytest c; }
stage_wine() { run_pytest wine; }
stage_smtp() { run_pytest smtp; }
stage_fuzz() { scripts/fuzz "${MAPISHIM_FUZZ_SECONDS:-300}"; }

# ---- running them ----------------------------------------------------------------------

names=() results=() times=()
now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { s = b - a; printf "%d:%02d", s / 60, s % 60 }'; }

run_stage() {
  local name=$1 start rc=0
  shift
  echo "== $name"
  start=$(now)
  # A subshell with errexit of its own: a failing command ends this stage, not the run.
  set +e
  (set -e; "$@")
  rc=$?
  set -e
  names+=("$name")
  times+=("$(elapsed "$start" "$(now)")")
  if [ $rc -eq 0 ]; then results+=(ok); else results+=("FAILED ($rc)"); fi
}

total_start=$(now)
if [ $setup -eq 1 ]; then
  run_stage setup scripts/setup.sh "${stages[@]}"
fi
if [ -s target/ci/wine32-unavailable ]; then
  MAPISHIM_WINE32_UNAVAILABLE=$(cat target/ci/wine32-unavailable)
  export MAPISHIM_WINE32_UNAVAILABLE
  echo "UNAVAILABLE: 32-bit Wine ($MAPISHIM_WINE32_UNAVAILABLE): the 32-bit build and its export/import checks still run" >&2
fi
for stage in "${stages[@]}"; do
  run_stage "$stage" "stage_$stage"
done

failed=0
echo
echo "== summary${CI:+ (CI=$CI)}"
printf '%-12s %-12s %s\n' stage result "wall time"
for i in "${!names[@]}"; do
  printf '%-12s %-12s %s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
  [ "${results[$i]}" = ok ] || failed=1
done
printf '%-12s %-12s %s\n' total "$([ $failed -eq 0 ] && echo ok || echo FAILED)" "$(elapsed "$total_start" "$(now)")"
exit $failed
