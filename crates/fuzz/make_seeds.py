#!/usr/bin/env python3
"""Writes the seed corpus (crates/fuzz/seeds/) in the input format of src/lib.rs.

    python3 crates/fuzz/make_seeds.py

Reads: the Maildirs of tests/maildir_gen.py (each message becomes a MAPIReadMail case, cut
to 4 KiB so that AFL++ mutates it quickly), plus hand-written send and resolve cases.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = HERE / "seeds"
NULL = b"\xff"
TO, CC, BCC, FILE = b"\x01", b"\x02", b"\x03", b"\x80"


def send(op, flags, subject, note, oname=b"", oaddr=b"", items=(), mtype=b"", date=b"", conv=b""):
    fields = [subject, note, oname, oaddr, mtype, date, conv]
    for item in items:
        fields += list(item)
    return bytes([op, flags]) + b"\0".join(fields)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    cases = {}
    att = (FILE + b"\xff", b"report.pdf", b"0", b"")
    cases["send-plain"] = send(0, 0, b"Hello", b"Body\r\n", items=[(TO, b"Bob", b"SMTP:bob@example.org", b"")])
    cases["send-names"] = send(0, 0x10, "Grüße \"quoted\"".encode(), b"x", "Müller \"Hans\"".encode(), b"hans@example.org",
                               [(TO, 'é",<evil@x.org>,"'.encode(), b"bob@example.org", b""), (CC, b"Bob Smith", b"", b""), att])
    cases["send-inject"] = send(0, 0, b"s\r\nBcc: evil@x.org", b"n", b"A\r\nX-Evil: 1", b"a@example.org",
                                [(TO, b"=?utf-8?B?ZXZpbA==?=", b"b@example.org\r\nX-Evil: 2", b"")])
    cases["send-list"] = send(0, 0x04, b"list", b"", items=[(TO, b"", b"bob@x.org, carol@x.org; dave@x.org", b""), (BCC, b"bj", b"", b"")])
    cases["send-files"] = send(0, 0x20, NULL, NULL, items=[
        (FILE + b"\x01", b"page.html", b"0", b""), (FILE + b"\x05", b"..\\..\\con", b"1", b""),
        (FILE + b"\xff", b"", b"2", b""), (FILE + b"\x02", "名前.txt".encode(), b"3", b""),
        (FILE + b"\xff", b"secret.eml", b"4", b""), (FILE + b"\xff", b"rel", b"5", b""),
        (TO, b"x" * 300, b"y@example.org", b"\x01\x02\x03")])
    cases["send-files-ok"] = send(0, 0, b"files", b"see attached", items=[
        (FILE + b"\x01", b"a.txt", b"0", b""), (FILE + b"\xff", b"", b"3", b""), (TO, b"", b"bob@example.org", b"")])
    cases["send-long"] = send(0, 0, "é".encode() * 500, b"z", items=[(TO, b"n" * 1000, b"q@example.org", b"")])
    cases["sendw-plain"] = send(1, 0x08, "Wide ☃".encode(), b"Body", items=[(TO, b"Bob", b"bob@example.org", b""), att])
    cases["sendw-surrogates"] = send(1, 0x80, b"lone \xed\xa0\x80 high", b"\xed\xbf\xbf", b"\xf0\x9f\x98\x80",
                                     b"a\xe2\x80\xa8@example.org", [(TO, b"", "bob\u00a0@example.org".encode(), b"")])
    cases["sendw-session"] = send(1, 0x80, b"s", b"n", items=[(TO, b"Anna", b"", b"")])
    for i, name in enumerate([b"Bob Smith", b"bob", b"bj", b"SMTP:x@example.org", b"Anna M\xfcller",
                              b"A <a@example.org>", b"", NULL, "\"Last, First\" <q@x>".encode()]):
        cases[f"resolve-{i}"] = bytes([2, 0x80 if i % 2 else 0]) + name
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, ROOT / "tests" / "maildir_gen.py", Path(tmp) / "m"], check=True)
        n = 0
        for box in ("normal", "hostile", "drafts"):
            for sub in ("cur", "new"):
                folder = Path(tmp) / "m" / box / sub
                for f in sorted(folder.iterdir(), key=lambda p: os.fsencode(p.name)):
                    if not f.is_file() or f.is_symlink() or f.name.startswith("."):
                        continue
                    with open(f, "rb") as fh:
                        data = fh.read(4096)
                    flags = (n * 37) & 0x3f
                    if sub == "new":
                        flags |= 0x10
                    cases[f"read-{n:02d}"] = bytes([3, flags]) + os.fsencode(f.name) + b"\0" + data
                    n += 1
    # An attachment named like a message but holding anything: MAPIReadMail copies it to
    # the cache as it is (a finding of the oracle's, not of the library, in the first long run).
    eml_attachment = (b"From: a@example.org\nSubject: s\nMessage-ID: <m@x>\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
                      b"--b\nContent-Type: text/plain\n\nbody\n--b\nContent-Type: application/octet-stream\n"
                      b"Content-Disposition: attachment; filename=\"dup.t.eml\"\nContent-Transfer-Encoding: base64\n\n"
                      b"bm90IGEgbWVzc2FnZQo=\n--b--\n")
    cases["read-eml-attachment"] = bytes([3, 0]) + b"eml-attachment:2,S\0" + eml_attachment
    for name, data in cases.items():
        (OUT / name).write_bytes(data)
    print(f"{len(cases)} seeds in {OUT}")


if __name__ == "__main__":
    main()
