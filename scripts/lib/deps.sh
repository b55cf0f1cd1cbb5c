# shellcheck shell=bash
# Installs what the build and the tests need, on Debian/Ubuntu (as root) — sourced by the
# scripts. Everything is checked first, so a machine that has it all is not touched.

# ensure_apt CMD:PACKAGE ... — installs PACKAGE when CMD (a name on PATH or an absolute
# path) is missing. Nothing installed here may start a service: the tests start their own
# servers (Dovecot, smtp-sink) as unprivileged processes, and a CI machine runs no daemons.
ensure_apt() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "MISSING: ${missing[*]} (install them, or run as root on Debian/Ubuntu)" >&2
    return 1
  fi
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Postfix asks what kind of mail server this is: none (only its smtp-sink is used).
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  local policy=/usr/sbin/policy-rc.d own_policy=0 rc=0
  if [ ! -e "$policy" ]; then
    # invoke-rc.d's documented veto (exit 101): packages install, their services stay off.
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
  fi
  apt-get update -qq >/dev/null 2>&1 || true   # a broken optional index must not stop us
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  [ $own_policy -eq 1 ] && rm -f "$policy"
  return $rc
}

# ensure_venv DIR REQUIREMENTS — a Python venv holding exactly the pinned packages of the
# requirements file; when every pin is already met, pip is not run at all.
ensure_venv() {
  local dir=$1 requirements=$2
  if [ ! -x "$dir/bin/python" ]; then
    python3 -m venv "$dir" 2>/dev/null || { ensure_apt python3-venv:python3-venv && python3 -m venv "$dir"; } || {
      # Debian names the venv package after the Python version.
      local minor
      minor=$(python3 -c 'import sys; print(sys.version_info[1])')
      ensure_apt "python3.$minor-venv:python3.$minor-venv"
      python3 -m venv "$dir"
    }
  fi
  venv_satisfies "$dir" "$requirements" && return 0
  echo "installing the pinned Python packages of $requirements into $dir" >&2
  "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
  venv_satisfies "$dir" "$requirements"
}

# venv_satisfies DIR REQUIREMENTS — true when every `name==version` line is installed.
venv_satisfies() {
  "$1/bin/python" - "$2" <<'PY'
import importlib.metadata as md, re, sys
bad = []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, version = line.partition("==")
    try:
        have = md.version(name.strip())
    except md.PackageNotFoundError:
        have = None
    if have != version.strip():
        bad.append(f"{name.strip()} {have or 'missing'} (want {version.strip()})")
if bad:
    print("venv differs from the pins: " + ", ".join(bad), file=sys.stderr)
    sys.exit(1)
PY
}

# ensure_rust_target TRIPLE ... — rustup targets of the default toolchain.
ensure_rust_target() {
  local installed t
  installed=$(rustup target list --installed)
  for t in "$@"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
  done
}

# ensure_rust_component NAME ... — rustup components (rustfmt, clippy) of the default toolchain.
ensure_rust_component() {
  local installed c
  installed=$(rustup component list --installed)
  for c in "$@"; do
    grep -q "^$c-" <<<"$installed" || rustup component add "$c"
  done
}

# ensure_toolchain VERSION — a rustup toolchain (minimal profile), e.g. the workspace's
# rust-version for the MSRV gate.
ensure_toolchain() {
  rustup run "$1" rustc --version >/dev/null 2>&1 || rustup toolchain install "$1" --profile minimal
}

# workspace_rust_version — the `rust-version` declared in the workspace Cargo.toml.
workspace_rust_version() {
  sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -n 1
}

# ensure_wine32 — 32-bit Wine (wine32:i386) on Debian bookworm. Returns 1, with the reason
# in $WINE32_UNAVAILABLE, when the package mirror cannot provide it (the one excused case,
# docs/decisions.md §7); 2 when it could be installed but this user cannot (not root).
#
# Why the dance: adding i386 often meets a broken i386 security index (apt-get update exits
# 100), and wine32:i386 needs i386 libraries in the exact version of their installed amd64
# twins (Multi-Arch: same). When the amd64 twin came from bookworm-security but only the
# bookworm i386 build is reachable, the amd64 twin is pinned back to /bookworm.
ensure_wine32() {
  export WINE32_UNAVAILABLE=""
  dpkg -s wine32:i386 >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    WINE32_UNAVAILABLE="not root on Debian: install wine32:i386 by hand"
    return 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  dpkg --add-architecture i386
  apt-get update -qq >/dev/null 2>&1 || true   # exit 100 from a broken i386 index is expected
  local pins=() log name installed candidate
  log=$(mktemp)
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    if apt-get install -y -q --no-install-recommends --allow-downgrades -t bookworm wine32:i386 "${pins[@]}" >"$log" 2>&1; then
      rm -f "$log"
      return 0
    fi
    local added=0
    while read -r name; do
      installed=$(dpkg-query -W -f='${Version}' "$name:amd64" 2>/dev/null || true)
      [ -n "$installed" ] || continue
      candidate=$(apt-cache madison "$name" 2>/dev/null | awk -F'|' '$3 ~ /bookworm\/main amd64/ {gsub(/ /,"",$2); print $2; exit}')
      if [ -n "$candidate" ] && [ "$candidate" != "$installed" ] && [[ " ${pins[*]} " != *" $name/bookworm "* ]]; then
        pins+=("$name/bookworm")
        added=1
      fi
    done < <(grep -oE '[a-z0-9][a-z0-9.+-]*:i386' "$log" | sed 's/:i386$//' | sort -u)
    [ $added -eq 1 ] || break
  done
  WINE32_UNAVAILABLE="apt could not install wine32:i386 after pinning ${#pins[@]} amd64 libraries to bookworm: $(grep -E '^E:|Depends:' "$log" | head -3 | tr '\n' ' ')"
  rm -f "$log"
  return 1
}
