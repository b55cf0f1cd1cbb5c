#!/usr/bin/env bash
# Builds the Windows Installer packages from the dist folder build-windows.sh made, with
# wixl (msitools) and packaging/wix/mapishim.wxs:
#   DIST/mapishim-<version>-x64.msi   the x64 and the x86 builds, side by side
#   DIST/mapishim-<version>-x86.msi   the x86 build, for 32-bit Windows
# Usage: scripts/build-msi.sh DIST [VERSION]   (VERSION: Cargo.toml's, without a
# pre-release suffix, which Windows Installer versions cannot hold). Prints each package.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh
ensure_apt wixl:wixl
dist=$(cd "${1:?usage: build-msi.sh DIST [VERSION]}" && pwd)
version=${2:-$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)}
version=${version%%[-+]*}
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "build-msi.sh: version $version is not N.N.N" >&2
  exit 1
fi
wxs=$PWD/packaging/wix/mapishim.wxs
for arch in x64 x86; do
  out=$dist/mapishim-$version-$arch.msi
  # One ProductCode per version and architecture, the same on every rebuild (UUIDv5): a
  # rebuilt package is the same product, a new version a major upgrade of it. Also its
  # packed form, the name Windows Installer gives the product's registry keys.
  read -r product packed < <(python3 - "mapishim-$version-$arch" <<'PY'
import sys, uuid
code = str(uuid.uuid5(uuid.UUID("7E4A2DF5-338B-4380-971D-0CCFA6154241"), sys.argv[1])).upper()
g = code.replace("-", "")
print(code, g[7::-1] + g[11:7:-1] + g[15:11:-1] + "".join(g[i + 1] + g[i] for i in range(16, 32, 2)))
PY
)
  # File/@Source is relative to the folder wixl runs in (it takes no absolute source).
  (cd "$dist" && wixl -a "$arch" -D Arch="$arch" -D Version="$version" -D ProductCode="$product" -D PackedProductCode="$packed" -o "$out" "$wxs")
  echo "$out"
done
