#!/usr/bin/env bash
# Machine set-up for the build and the tests, on Debian/Ubuntu with Rust (rustup) installed.
# Everything is checked first, so a machine that has it all is not touched; what is missing
# is installed (apt needs root). Nothing installed here starts a service.
#
# Usage: scripts/setup.sh [STAGE...]   STAGE as in scripts/test.sh; default: every stage.
#
# 32-bit Wine is the one thing allowed to be missing (docs/decisions.md §7): when the package
# mirror cannot provide wine32:i386, the reason goes to target/ci/wine32-unavailable, which
# scripts/test.sh reads, and the set-up still succeeds.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh

state=target/ci
mkdir -p "$state"

build() {
  if ! command -v cargo >/dev/null || ! command -v rustup >/dev/null; then
    echo "MISSING: Rust (cargo and rustup): see https://rustup.rs" >&2
    return 1
  fi
  ensure_apt cc:gcc python3:python3
}

setup_gates() {
  ensure_rust_component rustfmt clippy
  ensure_rust_target x86_64-pc-windows-gnu   # clippy for the Windows code
  ensure_toolchain "$(workspace_rust_version)"
  ensure_apt shellcheck:shellcheck
}

setup_rust() { :; }

setup_venv() { ensure_venv target/venv tests/requirements.txt; }

# The C programs against the Linux library, the header in every language mode (gcc, clang,
# and mingw-w64 for the Windows header checks), symbols, valgrind, the Debian package
# (dpkg-deb, dpkg-shlibdeps, lintian) and programs built against it (pkg-config, CMake).
setup_c() {
  ensure_apt clang:clang valgrind:valgrind nm:binutils readelf:binutils \
    x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64 i686-w64-mingw32-gcc:gcc-mingw-w64-i686 \
    dpkg-deb:dpkg lintian:lintian dpkg-shlibdeps:dpkg-dev cmake:cmake pkg-config:pkg-config
  setup_venv
}

# Windows builds (Rust targets, mingw-w64) and programs under 64- and 32-bit Wine; the
# installer (wixl, msiinfo) and window tests (Xvfb, xdotool, ImageMagick's import/compare).
setup_wine() {
  ensure_rust_target x86_64-pc-windows-gnu i686-pc-windows-gnu
  ensure_apt x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64 i686-w64-mingw32-gcc:gcc-mingw-w64-i686 \
    wine:wine wineboot:wine Xvfb:xvfb xdotool:xdotool import:imagemagick compare:imagemagick \
    wixl:wixl msiinfo:msitools
  rm -f "$state/wine32-unavailable"
  local rc=0
  ensure_wine32 || rc=$?
  case $rc in
    0) ;;
    1) # the mirror cannot provide it: excused, loudly
      printf '%s\n' "$WINE32_UNAVAILABLE" >"$state/wine32-unavailable"
      echo "UNAVAILABLE: 32-bit Wine ($WINE32_UNAVAILABLE)" >&2 ;;
    *) echo "MISSING: 32-bit Wine ($WINE32_UNAVAILABLE)" >&2; return 1 ;;
  esac
  setup_venv
}

# Real mail services on loopback, started by the tests as unprivileged processes: msmtp
# (sendmail backend), Dovecot (IMAP drafts), Postfix's smtp-sink (benchmarks).
setup_smtp() {
  ensure_apt msmtp:msmtp /usr/sbin/dovecot:dovecot-imapd /usr/sbin/smtp-sink:postfix
  setup_venv
}

# The fuzz stage's tools (cargo-afl at its pinned version, AFL++ built from it), kept under
# the target folder; scripts/fuzz installs them itself when they are missing.
setup_fuzz() {
  ensure_apt make:make
  scripts/fuzz --install
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(all)
build
for stage in "${stages[@]}"; do
  case "$stage" in
    all) setup_gates; setup_rust; setup_c; setup_wine; setup_smtp; setup_fuzz ;;
    gates | fmt | clippy | msrv | shellcheck | headers | scripts) setup_gates ;;
    rust | c | wine | smtp | fuzz) "setup_$stage" ;;
    *) echo "unknown stage $stage (see scripts/test.sh --help)" >&2; exit 2 ;;
  esac
done
