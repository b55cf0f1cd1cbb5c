#!/usr/bin/env python3
"""A recording stand-in for a mail composer (xdg-email, thunderbird) or URL opener.

It records its argv at once, waits like a composer that takes a moment to open, then
reads every attached file the way a real composer does and records what it found:
one JSON object per line in $MAPISHIM_STANDIN_RECORD ("started", then "done").

$MAPISHIM_STANDIN_DELAY (seconds, default 2) and $MAPISHIM_STANDIN_EXIT (exit code) shape
its behaviour; the kind comes from the file name it is installed under.
"""

import hashlib
import json
import os
import sys
import time
import urllib.parse


def record(event):
    with open(os.environ["MAPISHIM_STANDIN_RECORD"], "a", encoding="utf-8") as out:
        out.write(json.dumps(event) + "\n")


def thunderbird_fields(value):
    """Splits a -compose value the way Thunderbird does: a field ends at "',"."""
    fields = {}
    for part in value.split("',"):
        key, _, rest = part.partition("='")
        fields[key] = rest[:-1] if rest.endswith("'") else rest
    return fields


def attached_files(kind, argv):
    if kind == "xdg-email":
        return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--attach"]
    if kind == "thunderbird" and argv[:1] == ["-compose"]:
        urls = thunderbird_fields(argv[1]).get("attachment", "")
        return [urllib.parse.unquote(urllib.parse.urlparse(u).path) for u in urls.split(",") if u]
    return []


def main():
    argv = sys.argv[1:]
    kind = os.path.basename(sys.argv[0])
    record({"event": "started", "kind": kind, "argv": argv})
    time.sleep(float(os.environ.get("MAPISHIM_STANDIN_DELAY", "2")))
    files = []
    for path in attached_files(kind, argv):
        try:
            with open(path, "rb") as f:
                data = f.read()
            files.append({"path": path, "name": os.path.basename(path), "sha256": hashlib.sha256(data).hexdigest()})
        except OSError as e:
            files.append({"path": path, "name": os.path.basename(path), "error": str(e)})
    record({"event": "done", "kind": kind, "files": files})
    code = int(os.environ.get("MAPISHIM_STANDIN_EXIT", "0"))
    if code:
        print(f"{kind}: simulated failure", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
