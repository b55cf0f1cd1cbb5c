"""MAPIFindNext / MAPIReadMail / MAPISaveMail / MAPIDeleteMail over generated Maildirs
(tests/maildir_gen.py), driven by a C program (tests/c/mailbox_walk.c) through the C ABI,
compared field by field with the generator's manifest."""

import hashlib
import json
import os
import subprocess
import sys

import pytest
from conftest import C_DIR, ROOT, Runner, compile_c, have, run_unpiped, wine_env, wine_program

MAPI_PEEK, MAPI_ENVELOPE_ONLY, MAPI_BODY_AS_FILE, MAPI_SUPPRESS_ATTACH = 0x80, 0x40, 0x200, 0x800
MAPI_UNREAD_ONLY, MAPI_GUARANTEE_FIFO, MAPI_LONG_MSGID = 0x20, 0x100, 0x4000
MAPI_E_NO_MESSAGES, MAPI_E_INVALID_MESSAGE = 16, 17
MAPI_SENT = 0x4
# Every combination of the read flags, each with MAPI_PEEK so that nothing changes.
READ_FLAG_SETS = [
    MAPI_PEEK | env | body | suppress
    for env in (0, MAPI_ENVELOPE_ONLY)
    for body in (0, MAPI_BODY_AS_FILE)
    for suppress in (0, MAPI_SUPPRESS_ATTACH)
]


@pytest.fixture
def generated(setup):
    """Fresh Maildirs per test (reads mark messages read; FIFOs and symlinks do not copy)."""
    out = setup.root / "mail"
    subprocess.run([sys.executable, ROOT / "tests" / "maildir_gen.py", out], check=True, capture_output=True)
    return out, json.loads((out / "manifest.json").read_text())


@pytest.fixture(scope="session", params=["linux", "wine64", "wine32"])
def walker(request, build_dir):
    if request.param == "linux":
        dist = request.getfixturevalue("dist")
        return Runner("linux", compile_c(dist, build_dir, C_DIR / "mailbox_walk.c", "mailbox_walk"))
    windows_dist = request.getfixturevalue("windows_dist")
    prefix = request.getfixturevalue("wine_prefix")
    exe = wine_program(request.param, windows_dist, build_dir, C_DIR / "mailbox_walk.c", "mailbox_walk")
    return Runner(request.param, exe, prefix=["wine"], env=wine_env(prefix))


class Box:
    """A private copy of one generated Maildir with a configuration pointing at it."""

    def __init__(self, setup, generated, name, drafts=False, trash=False):
        out, manifest = generated
        self.setup = setup
        self.info = manifest["maildirs"][name]
        self.maildir = out / self.info["path"]
        self.drafts = setup.root / "mail" / "SavedDrafts" if drafts else None
        self.trash = setup.root / "mail" / "Deleted" if trash else None
        extra = ""
        if self.drafts:
            extra += f"drafts = {{path:{self.drafts}}}\n"
        if self.trash:
            extra += f"trash = {{path:{self.trash}}}\n"
        setup.write_config(
            text=(
                'from = "Me <me@example.org>"\nansi_codepage = "utf-8"\n[outbox]\ndir = {outbox}\n'
                "[log]\nfile = {log}\n"
                f"[mailbox]\nmaildir = {{path:{self.maildir}}}\n{extra}"
            )
        )

    def run(self, walker, *args, check=True, wrapper=(), timeout=600):
        proc = run_unpiped([*wrapper, *walker.prefix, walker.exe, *args], self.setup.env(walker), timeout)
        if check:
            assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
        return proc


def listed(proc):
    lines = proc.stdout.splitlines()
    return [l[3:] for l in lines if l.startswith("id=")], int(lines[-1][3:])


def unhex(value):
    return None if value == "NULL" else bytes.fromhex(value).decode("utf-8")


def parse_dumps(stdout):
    """The `read … end` blocks of mailbox_walk, as dictionaries."""
    dumps, cur, recip = [], None, None
    for line in stdout.splitlines():
        if line.startswith("read "):
            fields = dict(p.split("=", 1) for p in line[5:].split(" "))
            cur = {"id": fields["id"], "flags": int(fields["flags"]), "rc": int(fields["rc"]),
                   "recipients": [], "files": [], "originator": None}
        elif line == "end":
            dumps.append(cur)
            cur = None
        elif line.startswith(("originator=", "recipient=")):
            key, rest = line.split("=", 1)
            cls, name = rest.split("|name=")
            recip = {"class": int(cls), "name": unhex(name)}
            if key == "originator":
                cur["originator"] = recip
            else:
                cur["recipients"].append(recip)
        elif line.startswith("address="):
            recip["address"] = unhex(line[8:])
        elif line.startswith("eid="):
            recip["eid"] = int(line[4:])
        elif line.startswith("file_path="):
            cur["files"].append({"path": unhex(line[10:])})
        elif line.startswith("file_name="):
            cur["files"][-1]["file_name"] = unhex(line[10:])
        elif line.startswith("mflags="):
            cur["mflags"] = int(line[7:])
        elif "=" in line and cur is not None:
            key, value = line.split("=", 1)
            cur[key] = unhex(value)
    return dumps


def host_path(walker, path):
    """An attachment path the library returned, as this (Linux) test can open it."""
    if not walker.is_wine:
        return path
    drive, rest = path.split(":", 1)
    prefix = walker.env["WINEPREFIX"]
    return f"{prefix}/dosdevices/{drive.lower()}:{rest.replace(chr(92), '/')}"


def digest(data):
    return hashlib.sha256(data).hexdigest()


def check_read(walker, dump, message):
    flags = dump["flags"]
    envelope_only = flags & MAPI_ENVELOPE_ONLY
    where = f"{message['id']} flags={flags:#x}"
    # "envelope": what an envelope-only read still gives when the full read fails.
    if "error" in message and not (envelope_only and "envelope" in message):
        assert dump["rc"] == message["error"], where
        return
    expect = message.get("envelope") if "error" in message else message.get("expect")
    assert dump["rc"] == 0, where
    if expect is None:
        return
    for key, field in [("subject", "subject"), ("date_received", "date"), ("conversation_id", "conversation")]:
        if key in expect:
            assert dump[field] == expect[key], f"{where}: {key}"
    if "flags" in expect:
        assert dump["mflags"] == expect["flags"], where
    if "originator" in expect:
        o = expect["originator"]
        got = dump["originator"]
        assert (got and {k: got[k] for k in ("name", "address")}) == (o and {"name": o["name"], "address": o["address"]}), where
        assert got is None or got["class"] == 0
    if "recipients" in expect:
        got = [{k: r[k] for k in ("class", "name", "address")} for r in dump["recipients"]]
        assert got == expect["recipients"], where
    note = expect.get("note_text")
    if envelope_only:
        assert dump["note"] is None and dump["files"] == [], where
        return
    files = list(dump["files"])
    if flags & MAPI_BODY_AS_FILE:
        assert dump["note"] is None, where
        body = files.pop(0)
        assert body["file_name"] == "body.txt", where
        if note is not None:
            with open(host_path(walker, body["path"]), "rb") as f:
                assert f.read().decode("utf-8") == note, where
    elif "note_text" in expect:
        assert dump["note"] == note, where
    if flags & MAPI_SUPPRESS_ATTACH:
        assert files == [], where
    elif "attachments" in expect:
        assert [f["file_name"] for f in files] == [a["file_name"] for a in expect["attachments"]], where
        for got, want in zip(files, expect["attachments"]):
            with open(host_path(walker, got["path"]), "rb") as f:
                data = f.read()
            if "sha256" in want:
                assert digest(data) == want["sha256"], f"{where}: {want['file_name']}"
            if "size" in want:
                assert len(data) == want["size"], f"{where}: {want['file_name']}"


def test_walk_matches_the_manifest(walker, setup, generated):
    box = Box(setup, generated, "normal")
    info = box.info
    assert listed(box.run(walker, "list", "0")) == (info["id_order"], MAPI_E_NO_MESSAGES)
    assert listed(box.run(walker, "list", str(MAPI_GUARANTEE_FIFO))) == (info["fifo_order"], MAPI_E_NO_MESSAGES)
    assert listed(box.run(walker, "list", str(MAPI_UNREAD_ONLY))) == (info["unread_order"], MAPI_E_NO_MESSAGES)
    assert listed(box.run(walker, "list", str(MAPI_LONG_MSGID)))[0] == info["id_order"]
    before = snapshot(box.maildir)
    proc = box.run(walker, "readall", *map(str, READ_FLAG_SETS))
    dumps = parse_dumps(proc.stdout)
    messages = {m["id"]: m for m in info["messages"]}
    assert len(dumps) == len(READ_FLAG_SETS) * len(messages)
    for dump in dumps:
        check_read(walker, dump, messages[dump["id"]])
    assert snapshot(box.maildir) == before, "MAPI_PEEK reads changed the Maildir"
    # Without MAPI_PEEK every message is marked read; IDs stay the same.
    box.run(walker, "readall", "0")
    assert listed(box.run(walker, "list", str(MAPI_UNREAD_ONLY))) == ([], MAPI_E_NO_MESSAGES)
    assert listed(box.run(walker, "list", "0"))[0] == info["id_order"]
    assert box.run(walker, "edge").returncode == 0


def snapshot(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size if p.is_file() and not p.is_symlink() else None)
                  for p in root.rglob("*"))


def test_save_replace_and_delete(walker, setup, generated):
    box = Box(setup, generated, "normal", drafts=True, trash=True)
    # Windows argv is in the ANSI code page, which this configuration says is UTF-8.
    subject = "Draft een" if walker.is_wine else "Draft één"
    proc = box.run(walker, "save", subject, "first version\n")
    [draft], rc = listed(proc)
    assert rc == 0 and draft.startswith("d-") and len(draft) < 64
    [dump] = parse_dumps(box.run(walker, "read", draft, str(MAPI_PEEK)).stdout)
    assert dump["rc"] == 0 and dump["subject"] == subject and dump["mflags"] & MAPI_SENT
    assert dump["note"] == "first version\r\n"
    assert [r["address"] for r in dump["recipients"]] == ["SMTP:reader@example.org"]
    assert [f["file_name"] for f in dump["files"]] == ["notes.txt"]
    # Replacing keeps the ID and leaves one file.
    [same], rc = listed(box.run(walker, "save", "Draft two", "second\n", draft))
    assert (same, rc) == (draft, 0)
    [dump] = parse_dumps(box.run(walker, "read", draft, str(MAPI_PEEK)).stdout)
    assert dump["subject"] == "Draft two"
    assert sum(1 for p in (box.drafts / "cur").iterdir()) == 1
    # Delete moves to the trash; the ID is gone and the walk goes on without it.
    victim = box.info["id_order"][0]
    assert listed(box.run(walker, "delete", victim))[1] == 0
    assert listed(box.run(walker, "delete", victim))[1] == MAPI_E_INVALID_MESSAGE
    [dump] = parse_dumps(box.run(walker, "read", victim, str(MAPI_PEEK)).stdout)
    assert dump["rc"] == MAPI_E_INVALID_MESSAGE
    assert victim not in listed(box.run(walker, "list", "0"))[0]
    assert len([p for sub in ("cur", "new") for p in (box.trash / sub).iterdir()]) == 1


def test_hostile_maildir_is_survived(walker, setup, generated):
    box = Box(setup, generated, "hostile")
    attach_root = setup.root / "home" / ".cache" / "mapishim" / "read"
    outside_before = snapshot(setup.root / "mail")
    ids, rc = listed(box.run(walker, "list", "0"))
    assert rc == MAPI_E_NO_MESSAGES
    # A Windows program cannot tell a host symlink or FIFO from a file (Wine shows them as
    # files), so under Wine those are listed too; reading them must still be harmless.
    # And a file name that is not UTF-8 reaches it as another name, so its ID differs.
    messages = {m["id"]: m for m in box.info["messages"]}
    expected = box.info["id_order"]
    if walker.is_wine:
        expected = [i for i in expected if "file_hex" not in messages[i]]
        unknown = [i for i in ids if i not in messages]
        assert set(unknown) >= {"i-fifo", "i-link-abs", "i-link-passwd", "i-link-rel"}
        assert len(unknown) == 4 + len(box.info["id_order"]) - len(expected), unknown
    assert [i for i in ids if i in expected] == expected
    proc = box.run(walker, "readall", *map(str, READ_FLAG_SETS))
    dumps = parse_dumps(proc.stdout)
    assert len(dumps) == len(READ_FLAG_SETS) * len(ids)
    for dump in dumps:
        if walker.is_wine and (dump["id"] == "i-con" or any(ord(c) < 32 for c in messages.get(dump["id"], {}).get("file", ""))):
            # "con" is the console device to a Windows program, and control characters are
            # not allowed in Windows file names: such reads fail cleanly.
            assert dump["rc"] in (0, 2)
            continue
        if dump["id"] not in expected:
            assert dump["id"] != "i-fifo" or dump["rc"] == MAPI_E_INVALID_MESSAGE
            continue
        check_read(walker, dump, messages[dump["id"]])
        for f in dump["files"]:
            path = os.path.realpath(host_path(walker, f["path"]))
            if not walker.is_wine:
                assert path.startswith(str(attach_root) + "/"), path
            assert "/" not in f["file_name"] and "\\" not in f["file_name"]
    assert snapshot(setup.root / "mail") == outside_before, "a read changed files outside the attachment folder"


def test_valgrind_walk(setup, generated, dist, build_dir):
    if not have("valgrind"):
        pytest.skip("valgrind not installed")
    walker = Runner("linux", compile_c(dist, build_dir, C_DIR / "mailbox_walk.c", "mailbox_walk"))
    box = Box(setup, generated, "normal", drafts=True)
    wrapper = ["valgrind", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite", "-q"]
    for args in (["readall", str(MAPI_PEEK), str(MAPI_PEEK | MAPI_BODY_AS_FILE), str(MAPI_PEEK | MAPI_ENVELOPE_ONLY)],
                 ["save", "valgrind draft", "x"], ["edge"]):
        proc = box.run(walker, *args, check=False, wrapper=wrapper, timeout=900)
        assert proc.returncode == 0, f"{args}: {proc.stderr[-3000:]}"


def test_cli_lists_and_shows_what_the_api_returns(setup, generated, dist):
    from conftest import run

    box = Box(setup, generated, "normal")
    mapishim = dist / "bin" / "mapishim"
    listing = run([mapishim, "mailbox", "list"], env=setup.env())
    rows = [line.split("\t") for line in listing.stdout.splitlines()]
    assert [r[0] for r in rows] == box.info["id_order"]
    messages = {m["id"]: m["expect"] for m in box.info["messages"]}
    for row in rows:
        expect = messages[row[0]]
        assert row[4] == expect["subject"] and row[2] == expect["date_received"]
        assert (row[1][0] == "U") == bool(expect["flags"] & 1)
    unread = run([mapishim, "mailbox", "list", "--unread", "--fifo"], env=setup.env())
    in_date_order = [i for i in box.info["fifo_order"] if i in box.info["unread_order"]]
    assert [line.split("\t")[0] for line in unread.stdout.splitlines()] == in_date_order
    first = box.info["messages"][1]
    shown = run([mapishim, "mailbox", "show", first["id"]], env=setup.env()).stdout
    assert f"subject:      {first['expect']['subject']}" in shown
    for att in first["expect"].get("attachments", []):
        assert f"attachment:   {att['file_name']} ({att['size']} bytes" in shown
    assert listed_unread_unchanged(mapishim, setup) == box.info["unread_order"], "show marked a message read"


def listed_unread_unchanged(mapishim, setup):
    from conftest import run

    out = run([mapishim, "mailbox", "list", "--unread"], env=setup.env()).stdout
    return [line.split("\t")[0] for line in out.splitlines()]


def test_strings_arrive_in_the_ansi_code_page(setup, generated, dist, build_dir):
    walker = Runner("linux", compile_c(dist, build_dir, C_DIR / "mailbox_walk.c", "mailbox_walk"))
    box = Box(setup, generated, "normal")
    setup.config_args["text"] = setup.config_args["text"].replace('ansi_codepage = "utf-8"', 'ansi_codepage = "windows-1252"')
    checked = 0
    for message in box.info["messages"]:
        subject = message["expect"].get("subject", "")
        if subject.isascii():
            continue
        proc = box.run(walker, "read", message["id"], str(MAPI_PEEK | MAPI_SUPPRESS_ATTACH))
        line = next(l for l in proc.stdout.splitlines() if l.startswith("subject="))
        # Characters windows-1252 lacks become "?", one per character.
        want = "".join(c if c.encode("cp1252", "ignore") else "?" for c in subject).encode("cp1252")
        assert bytes.fromhex(line[8:]) == want, message["id"]
        checked += 1
    assert checked >= 3
