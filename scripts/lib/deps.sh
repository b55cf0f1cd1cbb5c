# Installs what the build and the tests need, on Debian/Ubuntu (as root) — sourced by the
# scripts. Everything is checked first, so a machine that has it all is not touched.

# ensure_apt CMD:PACKAGE ... — installs PACKAGE when CMD is missing.
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
  apt-get update -qq >/dev/null 2>&1 || true   # a broken optional index must not stop us
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_venv DIR PACKAGE... — a Python venv with the given PyPI packages.
ensure_venv() {
  local dir=$1; shift
  if [ ! -x "$dir/bin/python" ]; then
    python3 -m venv "$dir" 2>/dev/null || { ensure_apt python3-venv:python3-venv && python3 -m venv "$dir"; } || {
      # Debian names the venv package after the Python version.
      ensure_apt "python3.$(python3 -c 'import sys; print(sys.version_info[1])')-venv:python3.$(python3 -c 'import sys; print(sys.version_info[1])')-venv"
      python3 -m venv "$dir"
    }
  fi
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
}

# ensure_wine32 — 32-bit Wine (wine32:i386) on Debian bookworm. Returns non-zero, with the
# reason in $WINE32_UNAVAILABLE, when the package mirror cannot provide it.
#
# Why the dance: adding i386 often meets a broken i386 security index (apt-get update exits
# 100), and wine32:i386 needs i386 libraries in the exact version of their installed amd64
# twins (Multi-Arch: same). When the amd64 twin came from bookworm-security but only the
# bookworm i386 build is reachable, the amd64 twin is pinned back to /bookworm.
ensure_wine32() {
  WINE32_UNAVAILABLE=""
  dpkg -s wine32:i386 >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    WINE32_UNAVAILABLE="not root on Debian: install wine32:i386 by hand"
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  dpkg --add-architecture i386
  apt-get update -qq >/dev/null 2>&1 || true   # exit 100 from a broken i386 index is expected
  local pins=() log name installed candidate attempt
  log=$(mktemp)
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if apt-get install -y -q --no-install-recommends --allow-downgrades -t bookworm wine32:i386 "${pins[@]}" >"$log" 2>&1; then
      rm -f "$log"
      return 0
    fi
    local added=0
    for name in $(grep -oE '[a-z0-9][a-z0-9.+-]*:i386' "$log" | sed 's/:i386$//' | sort -u); do
      installed=$(dpkg-query -W -f='${Version}' "$name:amd64" 2>/dev/null || true)
      [ -n "$installed" ] || continue
      candidate=$(apt-cache madison "$name" 2>/dev/null | awk -F'|' '$3 ~ /bookworm\/main amd64/ {gsub(/ /,"",$2); print $2; exit}')
      if [ -n "$candidate" ] && [ "$candidate" != "$installed" ] && [[ " ${pins[*]} " != *" $name/bookworm "* ]]; then
        pins+=("$name/bookworm")
        added=1
      fi
    done
    [ $added -eq 1 ] || break
  done
  WINE32_UNAVAILABLE="apt could not install wine32:i386 after pinning ${#pins[@]} amd64 libraries to bookworm: $(grep -E '^E:|Depends:' "$log" | head -3 | tr '\n' ' ')"
  rm -f "$log"
  return 1
}
