#!/usr/bin/env python3
"""Writes test Maildirs for the mailbox store, and a JSON manifest of what
MAPIFindNext / MAPIReadMail must return for them.

    python3 tests/maildir_gen.py OUTDIR

creates OUTDIR/normal, OUTDIR/drafts and OUTDIR/hostile (each a Maildir), OUTDIR/outside
(files that symlinks in hostile point to; nothing may read or write them) and
OUTDIR/manifest.json. Deterministic: fixed dates, boundaries, names and file times; the
only randomness-free stdlib modules are used (email for messages).

Manifest ("version": 1), per maildir:
  "path"         folder relative to OUTDIR
  "configure_as" "maildir" or "drafts" (the [mailbox] key to point at it)
  "id_order"     IDs in MAPIFindNext order without flags
  "fifo_order"   IDs with MAPI_GUARANTEE_FIFO
  "unread_order" IDs with MAPI_UNREAD_ONLY (ID order)
  "messages"     one object per listed message:
      "id", "file" (path relative to the maildir; bytes that are not UTF-8 as \\xNN, the
      exact bytes then in "file_hex"), "size"
      "expect": fields MAPIReadMail(MAPI_PEEK) returns; a field that is absent is not
                 checked (hostile content whose parse is best-effort):
          "subject", "note_text" (CRLF line ends), "date_received" ("YYYY/MM/DD HH:MM",
          UTC), "conversation_id" (null = none), "flags" (MAPI_UNREAD 1 |
          MAPI_RECEIPT_REQUESTED 2 | MAPI_SENT 4), "originator" ({"name","address"} or
          null), "recipients" ([{"class" 1 To/2 Cc/3 Bcc, "name", "address" "SMTP:..."}]),
          "attachments" ([{"file_name", "size", "sha256", "content_type"}], in order)
      "error": a MAPI code MAPIReadMail (full read) must return instead
      "envelope": fields a MAPI_ENVELOPE_ONLY read returns when the full read fails
  "skipped": files that must never be listed or read, with the reason
Strings that are not ASCII are \\u-escaped JSON.
"""
import base64
import hashlib
import json
import os
import quopri
import shutil
import sys
from email.generator import BytesGenerator
from email.message import Message
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from io import BytesIO

MAPI_UNREAD, MAPI_RECEIPT_REQUESTED, MAPI_SENT = 0x1, 0x2, 0x4
MAPI_TO, MAPI_CC, MAPI_BCC = 1, 2, 3
MAPI_E_TOO_MANY_RECIPIENTS = 10
MAPI_E_INSUFFICIENT_MEMORY = 5
HOST = "mapishim-gen"
# File times of every generated file: 2023-01-02 03:04:05 UTC.
MTIME = 1672628645


def utc(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y/%m/%d %H:%M")


def date_header(y, mo, d, h, mi, tz_hours):
    tz = timezone(timedelta(hours=tz_hours))
    dt = datetime(y, mo, d, h, mi, 30, tzinfo=tz)
    return format_datetime(dt), int(dt.timestamp())


def message_id_for(tag, unique: bytes):
    """The store's ID scheme (docs/mailbox.md)."""
    ok = (
        0 < len(unique) <= 61
        and unique[:1].isalnum()
        and unique.isascii()
        and all(chr(b).isalnum() or chr(b) in "._,=+-" for b in unique)
    )
    if ok:
        return f"{tag}-{unique.decode('ascii')}"
    return f"{tag}_{hashlib.sha256(unique).hexdigest()[:32]}"


def encoded_word(text, charset, codec=None):
    data = text.encode(codec or charset)
    return f"=?{charset}?B?{base64.b64encode(data).decode('ascii')}?="


def text_part(text, charset="utf-8", subtype="plain", cte="base64", codec=None):
    part = Message()
    part["Content-Type"] = f'text/{subtype}; charset="{charset}"'
    data = text.encode(codec or charset)
    if cte == "base64":
        part["Content-Transfer-Encoding"] = "base64"
        part.set_payload(base64.encodebytes(data).decode("ascii"))
    elif cte == "quoted-printable":
        part["Content-Transfer-Encoding"] = "quoted-printable"
        part.set_payload(quopri.encodestring(data).decode("ascii"))
    else:
        assert data.isascii()
        part["Content-Transfer-Encoding"] = "7bit"
        part.set_payload(data.decode("ascii"))
    return part


def file_part(data, content_type, disposition):
    part = Message()
    part["Content-Type"] = content_type
    if disposition is not None:
        part["Content-Disposition"] = disposition
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(base64.encodebytes(data).decode("ascii"))
    return part


def multipart(subtype, boundary, parts):
    msg = Message()
    msg["Content-Type"] = f'multipart/{subtype}; boundary="{boundary}"'
    for p in parts:
        msg.attach(p)
    return msg


def render(msg, crlf=False):
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, maxheaderlen=0).flatten(
        msg, linesep="\r\n" if crlf else "\n"
    )
    return out.getvalue()


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def pattern(size, seed):
    """Deterministic bytes that do not compress to nothing."""
    block = hashlib.sha256(seed.encode()).digest()
    out = bytearray()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def att(name, data, content_type):
    return {
        "file_name": name,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": content_type,
    }


def rcpt(cls, name, addr):
    return {"class": cls, "name": name or addr, "address": f"SMTP:{addr}"}


def orig(name, addr):
    return {"name": name or addr, "address": f"SMTP:{addr}"}


class Maildir:
    def __init__(self, root, name, tag, configure_as):
        self.root, self.name, self.tag = root, name, tag
        self.configure_as = configure_as
        self.path = os.path.join(root, name)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.path, sub), exist_ok=True)
        self.messages, self.skipped = [], []

    def add(self, sub, unique, info, data, expect=None, date=None, error=None, envelope=None):
        """Writes one message; `unique` is bytes or str, `info` the flags (None: no info)."""
        unique_b = unique if isinstance(unique, bytes) else unique.encode()
        name = unique_b + (b":2," + info.encode() if info is not None else b"")
        path = os.path.join(os.fsencode(self.path), sub.encode(), name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (MTIME, MTIME))
        entry = {
            "id": message_id_for(self.tag, unique_b),
            "file": (sub.encode() + b"/" + name).decode("utf-8", "backslashreplace"),
            "size": len(data),
            "_date": date if date is not None else MTIME,
            "_unread": sub == "new" or info is None or "S" not in info,
        }
        if not name.isascii():
            try:
                name.decode("utf-8")
            except UnicodeDecodeError:
                entry["file_hex"] = (sub.encode() + b"/" + name).hex()
        if expect is not None:
            expect = dict(expect)
            flags = expect.get("flags", 0)
            if entry["_unread"]:
                flags |= MAPI_UNREAD
            if self.configure_as == "drafts" or (info and "D" in info):
                flags |= MAPI_SENT
            expect["flags"] = flags
            if "date_received" not in expect:
                expect["date_received"] = utc(entry["_date"])
            entry["expect"] = expect
        if error is not None:
            entry["error"] = error
        if envelope is not None:
            entry["envelope"] = envelope
        self.messages.append(entry)
        return entry

    def skip(self, rel, reason):
        self.skipped.append({"file": rel, "reason": reason})

    def manifest(self):
        msgs = sorted(self.messages, key=lambda m: m["id"])
        fifo = sorted(self.messages, key=lambda m: (m["_date"], m["id"]))
        out = {
            "path": self.name,
            "configure_as": self.configure_as,
            "id_order": [m["id"] for m in msgs],
            "fifo_order": [m["id"] for m in fifo],
            "unread_order": [m["id"] for m in msgs if m["_unread"]],
            "messages": [
                {k: v for k, v in m.items() if not k.startswith("_")} for m in msgs
            ],
            "skipped": self.skipped,
        }
        return out


def headers(msg, subject, frm, to=(), cc=(), bcc=(), date=None, mid=None, extra=()):
    """Sets envelope headers on msg (compat32: values are written as given)."""
    if frm:
        msg["From"] = frm
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if bcc:
        msg["Bcc"] = ", ".join(bcc)
    if subject is not None:
        msg["Subject"] = subject
    if date:
        msg["Date"] = date
    if mid:
        msg["Message-ID"] = f"<{mid}>"
    for k, v in extra:
        msg[k] = v
    msg["MIME-Version"] = "1.0"
    return msg


def uniq(n, extra=""):
    return f"{1700000000 + n}.M{n}P4242{extra}.{HOST}"


def normal(root):
    md = Maildir(root, "normal", "i", "maildir")
    alice = ("Alice Example", "alice@example.org")
    bob = ("Bob", "bob@example.org")
    carol = (None, "carol@example.org")

    # 1. Plain ASCII, unread in new/, thread root. Dates are not in file-name order.
    d, ts = date_header(2024, 3, 5, 14, 7, 1)
    text = "Hello Bob,\n\nthis is plain text.\n-- \nAlice\n"
    m = headers(text_part(text, "us-ascii", cte="7bit"), "Plain hello",
                "Alice Example <alice@example.org>",
                to=["Bob <bob@example.org>"], cc=["carol@example.org"],
                date=d, mid="root@example.org")
    md.add("new", uniq(1), None, render(m), date=ts, expect={
        "subject": "Plain hello", "note_text": crlf(text), "conversation_id": "root@example.org",
        "originator": orig(*alice),
        "recipients": [rcpt(MAPI_TO, *bob), rcpt(MAPI_CC, *carol)], "attachments": []})

    # 2. Read multipart reply with two attachments; References name the thread root.
    d, ts = date_header(2024, 3, 5, 9, 30, -5)
    pdf = b"%PDF-1.4\n" + pattern(3000, "pdf")
    notes = "line one\nline two\n".encode()
    body = "See the attachments.\n"
    m = multipart("mixed", "b-two", [
        text_part(body, "utf-8", cte="quoted-printable"),
        file_part(pdf, 'application/pdf; name="report.pdf"', 'attachment; filename="report.pdf"'),
        file_part(notes, 'text/plain; charset="utf-8"', 'attachment; filename="notes.txt"'),
    ])
    headers(m, "Re: Plain hello", "Bob <bob@example.org>", to=["Alice Example <alice@example.org>"],
            date=d, mid="reply@example.org",
            extra=[("In-Reply-To", "<root@example.org>"), ("References", "<root@example.org>")])
    md.add("cur", uniq(2), "S", render(m), date=ts, expect={
        "subject": "Re: Plain hello", "note_text": crlf(body), "conversation_id": "root@example.org",
        "originator": orig(*bob), "recipients": [rcpt(MAPI_TO, *alice)],
        "attachments": [att("report.pdf", pdf, "application/pdf"),
                        att("notes.txt", notes, "text/plain")]})

    # 3. HTML only: the note text is mail-parser's html_to_text of it.
    d, ts = date_header(2024, 1, 20, 23, 59, 9)
    html = ("<html><head><title>T</title><style>p{color:red}</style></head><body>"
            "<p>Hello <b>HTML</b> world</p><p>Second &amp; last</p></body></html>\n")
    m = headers(text_part(html, "utf-8", "html", cte="quoted-printable"), "HTML only",
                "alice@example.org", to=["bob@example.org"], date=d, mid="html@example.org")
    md.add("cur", uniq(3), "RS", render(m), date=ts, expect={
        "subject": "HTML only", "note_text": "Hello HTML world\r\nSecond & last\r\n",
        "conversation_id": "html@example.org", "originator": orig(None, "alice@example.org"),
        "recipients": [rcpt(MAPI_TO, None, "bob@example.org")], "attachments": []})

    # 4-8. Charsets: subject as an RFC 2047 word and body in that charset; cur/ without S.
    samples = [
        (4, "iso-8859-1", None, "Grüße aus Köln", "Jürgen Müller",
         "Ça va? Déjà vu, naïve façade.\n"),
        (5, "windows-1252", "cp1252", "Preis: 42 € – „Angebot“", "François “Frank”",
         "Smart “quotes” and the € sign…\n"),
        (6, "shift_jis", None, "日本語の件名", "山田太郎", "こんにちは、世界。\nシフトJISの本文です。\n"),
        (7, "gb2312", None, "中文主题", "王小明", "你好，世界。\n这是简体中文。\n"),
        (8, "iso-8859-15", None, "Œuvre à 10 €", "Œdipe Ÿves", "Le cœur de l'œuvre coûte 10 €.\n"),
    ]
    for n, charset, codec, subject, sender, text in samples:
        d, ts = date_header(2024, 2, n, 8, 15, 0)
        m = headers(text_part(text, charset, cte="base64", codec=codec),
                    encoded_word(subject, charset, codec),
                    f"{encoded_word(sender, charset, codec)} <zoe@example.org>",
                    to=["bob@example.org"], date=d, mid=f"cs{n}@example.org")
        md.add("cur", uniq(n), "", render(m), date=ts, expect={
            "subject": subject, "note_text": crlf(text), "originator": orig(sender, "zoe@example.org"),
            "recipients": [rcpt(MAPI_TO, None, "bob@example.org")], "attachments": []})

    # 9. A 5 MB attachment and a read receipt request.
    d, ts = date_header(2023, 12, 31, 23, 0, 0)
    big = pattern(5 * 1024 * 1024, "big")
    m = multipart("mixed", "b-big", [
        text_part("Big one.\n", "us-ascii", cte="7bit"),
        file_part(big, "application/octet-stream", 'attachment; filename="big.bin"'),
    ])
    headers(m, "Large attachment", "Alice Example <alice@example.org>", to=["bob@example.org"],
            date=d, mid="big@example.org",
            extra=[("Disposition-Notification-To", "alice@example.org")])
    md.add("cur", uniq(9), "S", render(m), date=ts, expect={
        "subject": "Large attachment", "note_text": "Big one.\r\n", "flags": MAPI_RECEIPT_REQUESTED,
        "originator": orig(*alice), "recipients": [rcpt(MAPI_TO, None, "bob@example.org")],
        "attachments": [att("big.bin", big, "application/octet-stream")]})

    # 10. multipart/alternative: the plain part is the note; Bcc and an RFC 2047 name.
    d, ts = date_header(2024, 4, 1, 12, 0, 2)
    plain = "Plain alternative.\n"
    m = multipart("alternative", "b-alt", [
        text_part(plain, "utf-8", cte="base64"),
        text_part("<p>HTML alternative.</p>\n", "utf-8", "html", cte="base64"),
    ])
    headers(m, "Alternative", f"{encoded_word('Zoë Ünïcode', 'utf-8')} <zoe@example.org>",
            to=["Bob <bob@example.org>"], cc=["Carol C <carol@example.org>"],
            bcc=["hidden@example.org"], date=d, mid="alt@example.org")
    md.add("cur", uniq(10), "S", render(m), date=ts, expect={
        "subject": "Alternative", "note_text": crlf(plain),
        "originator": orig("Zoë Ünïcode", "zoe@example.org"),
        "recipients": [rcpt(MAPI_TO, *bob), rcpt(MAPI_CC, "Carol C", "carol@example.org"),
                       rcpt(MAPI_BCC, None, "hidden@example.org")], "attachments": []})

    # 11. Outlook Thread-Index: the conversation is the hex of its first 22 bytes.
    d, ts = date_header(2024, 4, 2, 7, 45, 0)
    index = bytes(range(1, 23)) + b"\x00\x01\x02\x03\x04"
    m = headers(text_part("Threaded.\n", "us-ascii", cte="7bit"), "Thread index",
                "bob@example.org", to=["alice@example.org"], date=d, mid="ti@example.org",
                extra=[("Thread-Index", base64.b64encode(index).decode()),
                       ("References", "<root@example.org>")])
    md.add("cur", uniq(11), "S", render(m), date=ts, expect={
        "subject": "Thread index", "note_text": "Threaded.\r\n",
        "conversation_id": index[:22].hex(), "originator": orig(None, "bob@example.org"),
        "recipients": [rcpt(MAPI_TO, None, "alice@example.org")], "attachments": []})

    # 12. A unique name too long to be its own ID: hashed.
    d, ts = date_header(2024, 4, 3, 10, 0, 0)
    long_unique = f"1700000012.M12P4242.{'verylonghostname' * 5}.example"
    m = headers(text_part("Long name.\n", "us-ascii", cte="7bit"), "Long unique name",
                "bob@example.org", to=["alice@example.org"], date=d, mid="long@example.org")
    md.add("cur", long_unique, "S", render(m), date=ts, expect={
        "subject": "Long unique name", "note_text": "Long name.\r\n"})

    # 13. CRLF line ends throughout, and a draft flag (MAPI_SENT).
    d, ts = date_header(2024, 4, 4, 16, 20, -8)
    m = headers(text_part("Written with CRLF.\nSecond line.\n", "us-ascii", cte="7bit"),
                "CRLF message", "alice@example.org", to=["bob@example.org"], date=d,
                mid="crlf@example.org")
    md.add("cur", uniq(13), "DS", render(m, crlf=True), date=ts, expect={
        "subject": "CRLF message", "note_text": "Written with CRLF.\r\nSecond line.\r\n"})

    # 14. A group address and an unnamed list.
    d, ts = date_header(2024, 4, 5, 11, 11, 0)
    m = headers(text_part("Group.\n", "us-ascii", cte="7bit"), "Group",
                "alice@example.org", to=["Team: bob@example.org, Carol <carol@example.org>;",
                                         "dave@example.org"],
                date=d, mid="group@example.org")
    md.add("cur", uniq(14), "S", render(m), date=ts, expect={
        "subject": "Group",
        "recipients": [rcpt(MAPI_TO, None, "bob@example.org"),
                       rcpt(MAPI_TO, "Carol", "carol@example.org"),
                       rcpt(MAPI_TO, None, "dave@example.org")]})

    # 15. No Date header: the file time is the date.
    m = headers(text_part("Undated.\n", "us-ascii", cte="7bit"), "No date",
                "alice@example.org", to=["bob@example.org"], mid="nodate@example.org")
    md.add("cur", uniq(15), "S", render(m), expect={
        "subject": "No date", "note_text": "Undated.\r\n", "date_received": utc(MTIME)})

    # 16. A forwarded message as an attachment, with no file name: its subject names it.
    d, ts = date_header(2024, 4, 6, 9, 0, 0)
    inner = headers(text_part("Inner.\n", "us-ascii", cte="7bit"), "Inner subject",
                    "carol@example.org", to=["alice@example.org"], mid="inner@example.org")
    inner_bytes = render(inner)
    wrapper = Message()
    wrapper["Content-Type"] = "message/rfc822"
    wrapper["Content-Disposition"] = "attachment"
    wrapper.set_payload([inner])
    m = multipart("mixed", "b-fwd", [text_part("Forwarding.\n", "us-ascii", cte="7bit"), wrapper])
    headers(m, "Fwd: Inner subject", "alice@example.org", to=["bob@example.org"], date=d,
            mid="fwd@example.org")
    md.add("cur", uniq(16), "S", render(m), date=ts, expect={
        "subject": "Fwd: Inner subject", "note_text": "Forwarding.\r\n",
        "attachments": [{"file_name": "Inner subject.eml", "content_type": "message/rfc822"}]})
    return md


def drafts(root):
    md = Maildir(root, "drafts", "d", "drafts")
    d, ts = date_header(2024, 5, 1, 10, 0, 0)
    m = headers(text_part("Draft text.\n", "us-ascii", cte="7bit"), "A draft",
                "alice@example.org", to=["bob@example.org"], date=d, mid="draft@example.org")
    md.add("cur", uniq(100), "DS", render(m), date=ts, expect={
        "subject": "A draft", "note_text": "Draft text.\r\n",
        "recipients": [rcpt(MAPI_TO, None, "bob@example.org")]})
    return md


def hostile(root):
    md = Maildir(root, "hostile", "i", "maildir")
    outside = os.path.join(root, "outside")
    os.makedirs(outside, exist_ok=True)
    secret = os.path.join(outside, "secret.eml")
    with open(secret, "wb") as f:
        f.write(b"Subject: secret\n\nmust never be read\n")

    def simple(subject, body=b"x\n", extra=b""):
        return b"Subject: " + subject + b"\nFrom: evil@example.org\n" + extra + b"\n" + body

    # Attachment names that try to escape, name devices, carry control characters, or collide.
    names = [
        ('filename="../../x"', "x"),
        ('filename="con.txt"', "_con.txt"),
        ('filename="a/b"', "b"),
        ('filename="..\\\\..\\\\win.ini"', "win.ini"),
        ("filename*=utf-8''..%2F..%2Fescaped.txt", "escaped.txt"),
        ('filename="bad\x01\x1fname.txt"', "bad name.txt"),
        ('filename=""', "attachment-7.bin"),
        ('filename="dup.txt"', "dup.txt"),
        ('filename="DUP.txt"', "DUP (2).txt"),
        ('filename="dup.txt"', "dup (3).txt"),
        ('filename=".."', "attachment-11.bin"),
        ('filename="NUL"', "_NUL"),
        ('filename="/etc/passwd"', "passwd"),
    ]
    parts = [text_part("Names.\n", "us-ascii", cte="7bit")]
    expected = []
    for i, (param, safe) in enumerate(names):
        data = f"attachment {i}\n".encode()
        parts.append(file_part(data, "application/octet-stream", f"attachment; {param}"))
        expected.append(att(safe, data, "application/octet-stream"))
    m = multipart("mixed", "b-names", parts)
    headers(m, "Hostile names", "evil@example.org", mid="names@example.org")
    md.add("cur", "h01names", "S", render(m), expect={
        "subject": "Hostile names", "note_text": "Names.\r\n", "attachments": expected})

    # Malformed MIME: parsed best effort; only the subject is certain.
    md.add("cur", "h02noclose", "S", simple(
        b"No closing boundary",
        b"--zz\nContent-Type: text/plain\n\nunterminated\n--zz\nContent-Type: app/x\n\nabc",
        b'Content-Type: multipart/mixed; boundary="zz"\n'), expect={"subject": "No closing boundary"})
    md.add("cur", "h03noboundary", "S", simple(
        b"Multipart without boundary", b"text\n", b"Content-Type: multipart/mixed\n"),
        expect={"subject": "Multipart without boundary"})
    md.add("cur", "h04badbase64", "S", simple(
        b"Bad base64", b"!!!@@@###$$$\n", b"Content-Transfer-Encoding: base64\n"),
        expect={"subject": "Bad base64"})
    md.add("cur", "h05badcharset", "S", simple(
        b"Unknown charset", b"caf\xe9\n", b'Content-Type: text/plain; charset="x-klingon"\n'),
        expect={"subject": "Unknown charset"})

    # A 1 MB header line before the fields that matter.
    md.add("cur", "h06longline", "S",
           b"X-Junk: " + b"A" * (1024 * 1024) + b"\n" + simple(b"After a long line", b"ok\n"),
           expect={"subject": "After a long line", "note_text": "ok\r\n"})

    # Truncated in the middle of a base64 attachment.
    full = render(multipart("mixed", "b-trunc", [
        text_part("Cut short.\n", "us-ascii", cte="7bit"),
        file_part(pattern(20000, "trunc"), "application/octet-stream",
                  'attachment; filename="cut.bin"')]))
    m = headers(Message(), "Truncated", "evil@example.org")
    md.add("cur", "h07truncated", "S", render(m).rstrip(b"\n") + b"\n" + full[: len(full) // 2],
           expect={"subject": "Truncated"})

    # Not messages: empty, binary garbage, a text file. An empty file reads as an empty
    # message (subject "", note text "", file time).
    md.add("cur", "h08empty", "S", b"", expect={
        "subject": "", "note_text": "", "originator": None, "recipients": [],
        "attachments": [], "conversation_id": None})
    md.add("cur", "h09binary", "S", bytes(range(256)) * 64, expect={})
    md.add("new", "h10readme", None, b"This folder is a Maildir.\nDo not edit.\n", expect={})

    # Deep nesting and too many parts.
    depth = 2000
    nested = b"Subject: Deep\nMIME-Version: 1.0\n"
    for i in range(depth):
        nested += f'Content-Type: multipart/mixed; boundary="n{i}"\n\n--n{i}\n'.encode()
    nested += b"Content-Type: text/plain\n\ndeep text\n"
    md.add("cur", "h11deep", "S", nested, expect={"subject": "Deep"})
    many = b'Subject: Many parts\nContent-Type: multipart/mixed; boundary="m"\n\n'
    many += b"--m\nContent-Type: text/plain\n\nx\n" * 20000 + b"--m--\n"
    md.add("cur", "h12manyparts", "S", many, error=MAPI_E_INSUFFICIENT_MEMORY,
           envelope={"subject": "Many parts"})

    # Too many recipients, in one 150 kB header line.
    to = ", ".join(f"r{i}@example.org" for i in range(10001)).encode()
    md.add("cur", "h13recipients", "S", simple(b"Crowd", b"x\n", b"To: " + to + b"\n"),
           error=MAPI_E_TOO_MANY_RECIPIENTS)

    # Larger than the 64 MiB read limit (sparse): refused, but its envelope reads.
    path = os.path.join(md.path, "cur", "h14huge:2,S")
    with open(path, "wb") as f:
        f.write(b"Subject: Huge\nFrom: evil@example.org\n\n")
        f.truncate(100 * 1024 * 1024)
    os.utime(path, (MTIME, MTIME))
    md.messages.append({"id": message_id_for("i", b"h14huge"), "file": "cur/h14huge:2,S",
                        "size": 100 * 1024 * 1024, "_date": MTIME, "_unread": False,
                        "error": MAPI_E_INSUFFICIENT_MEMORY,
                        "envelope": {"subject": "Huge",
                                     "originator": orig(None, "evil@example.org")}})

    # Hostile file names: control characters, not UTF-8, very long, a device name, spaces.
    md.add("cur", b"evil\x01name", "S", simple(b"Control name"), expect={"subject": "Control name"})
    md.add("cur", b"latin1-\xff\xfe", "S", simple(b"Latin-1 name"), expect={"subject": "Latin-1 name"})
    md.add("cur", "x" * 200, "S", simple(b"Long name"), expect={"subject": "Long name"})
    md.add("new", "con", None, simple(b"Device name"), expect={"subject": "Device name"})
    md.add("new", "name with spaces", None, simple(b"Spaces"), expect={"subject": "Spaces"})

    # The same unique name in new/ and cur/: listed once, the cur/ copy.
    with open(os.path.join(md.path, "new", "h15twice"), "wb") as f:
        f.write(simple(b"Twice (new)"))
    os.utime(os.path.join(md.path, "new", "h15twice"), (MTIME, MTIME))
    md.add("cur", "h15twice", "S", simple(b"Twice (cur)"), expect={"subject": "Twice (cur)"})

    # Never listed: symlinks out, dot files, folders, tmp/, Maildir++ subfolders, a FIFO.
    os.symlink(secret, os.path.join(md.path, "cur", "link-abs:2,S"))
    os.symlink(os.path.join("..", "..", "outside", "secret.eml"), os.path.join(md.path, "new", "link-rel"))
    os.symlink("/etc/passwd", os.path.join(md.path, "new", "link-passwd"))
    md.skip("cur/link-abs:2,S", "symlink to a file outside")
    md.skip("new/link-rel", "relative symlink to a file outside")
    md.skip("new/link-passwd", "symlink to /etc/passwd")
    with open(os.path.join(md.path, "cur", ".hidden:2,S"), "wb") as f:
        f.write(simple(b"Hidden"))
    md.skip("cur/.hidden:2,S", "dot file")
    os.makedirs(os.path.join(md.path, "cur", "subdir"), exist_ok=True)
    with open(os.path.join(md.path, "cur", "subdir", "inner:2,S"), "wb") as f:
        f.write(simple(b"In a subfolder"))
    md.skip("cur/subdir", "folder")
    with open(os.path.join(md.path, "tmp", "partial"), "wb") as f:
        f.write(simple(b"Being delivered"))
    md.skip("tmp/partial", "tmp/ is never read")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md.path, ".Sub", sub), exist_ok=True)
    with open(os.path.join(md.path, ".Sub", "cur", "sub1:2,S"), "wb") as f:
        f.write(simple(b"Maildir++ subfolder"))
    md.skip(".Sub", "Maildir++ subfolder")
    if hasattr(os, "mkfifo"):
        os.mkfifo(os.path.join(md.path, "new", "fifo"))
        md.skip("new/fifo", "named pipe (reading it would block)")
    return md


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    boxes = [normal(root), drafts(root), hostile(root)]
    manifest = {"version": 1, "mtime": MTIME, "maildirs": {b.name: b.manifest() for b in boxes}}
    with open(os.path.join(root, "manifest.json"), "w", encoding="ascii") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
