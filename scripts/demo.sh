#!/usr/bin/env bash
# The main job, on the built-in default: builds libmapi32, compiles a small "legacy app"
# against include/mapi.h, lets it send a message with an attachment through Simple MAPI,
# and prints the .eml file the outbox backend wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh
. scripts/lib/cargo.sh
ensure_apt cc:gcc

echo "== building libmapi32 (release)" >&2
dist=$(scripts/build.sh release)
app=$(cargo_target_dir)/legacy_app
cc -std=c99 -Wall -Wextra -I"$dist/include" tests/c/legacy_app.c -L"$dist/lib" -lmapi32 \
   -Wl,-rpath,"$dist/lib" -o "$app"

echo "== running the legacy app" >&2
"$app" "$@"
newest=$("$dist/bin/mapishim" outbox list 2>/dev/null | tail -n 1 | cut -f 1)
echo "== message written by the outbox backend:" >&2
echo "$newest"
