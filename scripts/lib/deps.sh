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
