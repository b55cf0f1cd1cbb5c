"""The C suite (tests/c/mapi_suite.c) against libmapi32.so: each case runs in its own
process with its own configuration; the messages it leaves are checked with Python's
`email` package."""

import email.utils
import os
import time

import pytest
from conftest import run_case


def addresses(msg, header):
    value = msg[header]
    return [a.addr_spec for a in value.addresses] if value is not None else []


def names(msg, header):
    return {a.addr_spec: a.display_name for a in msg[header].addresses}


def body_text(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def attachments(msg):
    return [(a.get_filename(), a.get_content_type(), a.get_payload(decode=True)) for a in msg.iter_attachments()]


def run_ok(suite, setup, case, **env):
    proc = run_case(suite, setup, case, **env)
    assert proc.returncode == 0, f"{case} failed:\n{proc.stderr}"
    return setup.messages()


def test_recipient_shapes(suite, setup):
    [msg] = run_ok(suite, setup, "recipient_shapes")
    assert addresses(msg, "To") == ["a@example.org", "b@example.org", "c@example.org"]
    assert addresses(msg, "Cc") == ["d@example.org", "e@example.org"]
    assert addresses(msg, "Bcc") == ["f@example.org", "g@example.org", "alice@example.org"]
    assert names(msg, "To")["b@example.org"] == "Bee"
    assert names(msg, "Cc")["e@example.org"] == "", "SMTP: name equal to the address is not a display name"
    assert names(msg, "Bcc")["alice@example.org"] == "Alice Martin"
    assert msg["From"].addresses[0].addr_spec == "config@example.org"


def test_null_and_empty_strings(suite, setup):
    msgs = run_ok(suite, setup, "null_and_empty")
    assert len(msgs) == 2
    for msg in msgs:
        assert (msg["Subject"] or "") == ""
        assert body_text(msg).strip() == ""
        assert list(msg.iter_attachments()) == []


def test_line_endings_become_crlf(suite, setup):
    [msg] = run_ok(suite, setup, "line_endings")
    assert b"lf\r\ncrlf\r\ncr\r\nend" in msg.raw


def test_attachment_names_and_bytes(suite, setup):
    [msg] = run_ok(suite, setup, "attachments")
    assert attachments(msg) == [
        ("tmp0001.tmp", "application/octet-stream", b"alpha\n"),
        ("beta.txt", "text/plain", b"beta\r\nline2"),
        ("Q3 report.pdf", "application/pdf", b"%PDF-1.4\0binary\xff"),
    ]
    assert body_text(msg).strip() == "see files", "nPosition must never splice"
    assert list(setup.scratch.iterdir()) == [], "the caller deleted its files; we had copied them"


def test_utf8_strings_and_path(suite, setup):
    [msg] = run_ok(suite, setup, "utf8")
    assert msg["Subject"] == "Grüße €"
    assert names(msg, "To")["jm@example.org"] == "Jürgen Müller"
    assert body_text(msg).strip() == "Käse"
    assert attachments(msg) == [("Prüfbericht €.txt", "text/plain", b"utf8 path")]


def test_ansi_code_page(suite, setup):
    setup.write_config(extra_top='ansi_codepage = "windows-1252"')
    [msg] = run_ok(suite, setup, "ansi_cp1252")
    assert msg["Subject"] == "café € ü"
    assert names(msg, "To")["rene@example.org"] == "René €"
    assert body_text(msg).strip() == "über"


def test_wide_strings(suite, setup):
    first, second = run_ok(suite, setup, "wide")
    assert first["Subject"] == "Wé \U0001F600 €"
    assert names(first, "To")["zoe@example.org"] == "Zoë"
    assert attachments(first) == [("shown-wide.txt", "text/plain", b"wide attachment")]
    assert second["Subject"] == "bad \ufffd!", "a lone surrogate is replaced, not fatal"


def test_bad_utf8_is_replaced(suite, setup):
    msgs = run_ok(suite, setup, "bad_utf8")
    assert len(msgs) <= 1
    if msgs:
        assert "\ufffd" in msgs[0]["Subject"]


def test_originators(suite, setup):
    msgs = {m["Subject"]: m for m in run_ok(suite, setup, "originators")}
    for subject in ("orig-null", "orig-empty", "orig-smtp"):
        assert msgs[subject]["From"].addresses[0].addr_spec == "config@example.org"
        assert msgs[subject]["From"].addresses[0].display_name == "Config Sender"
    real = msgs["orig-real"]["From"].addresses[0]
    assert (real.display_name, real.addr_spec) == ("Real Sender", "real@example.org")


def test_originator_fallback_without_config_from(suite, setup):
    setup.write_config(text="[outbox]\ndir = {outbox}\n[log]\nfile = {log}\n")
    msgs = run_ok(suite, setup, "originators")
    fallback = [m for m in msgs if m["Subject"] == "orig-null"][0]
    assert "@" in fallback["From"].addresses[0].addr_spec
    assert "no `from` configured" in setup.log.read_text()


def test_receipt_requested(suite, setup):
    [msg] = run_ok(suite, setup, "receipt")
    [(_, addr)] = email.utils.getaddresses([str(msg["Disposition-Notification-To"])])
    assert addr == "config@example.org"


def test_flags_and_dialogs(suite, setup):
    msgs = run_ok(suite, setup, "flags")
    assert len(msgs) == 9
    no_recipients = [m for m in msgs if m["To"] is None]
    assert len(no_recipients) == 2, "dialog requests without recipients are captured"


def test_sessions(suite, setup):
    assert len(run_ok(suite, setup, "sessions")) == 2


def test_resolve_name(suite, setup):
    [msg] = run_ok(suite, setup, "resolve")
    assert names(msg, "To") == {"alice@example.org": "Alice Martin"}


def test_free_buffer(suite, setup):
    assert run_ok(suite, setup, "free_buffer") == []


def test_without_a_mailbox_reading_validates_then_refuses(suite, setup):
    assert run_ok(suite, setup, "no_mailbox") == []


def test_send_documents(suite, setup):
    [msg] = run_ok(suite, setup, "send_documents")
    assert msg["To"] is None
    assert [(n, b) for n, _, b in attachments(msg)] == [("First.txt", b"document a"), ("Second.bin", b"document b")]


def test_working_directory_unchanged(suite, setup):
    assert len(run_ok(suite, setup, "working_directory")) == 1


def test_8_threads_x_50_sends(suite, setup):
    msgs = run_ok(suite, setup, "threads")
    assert len(msgs) == 400
    assert len({m.path.name for m in msgs}) == 400
    assert len({m["Message-ID"] for m in msgs}) == 400
    assert {m["Subject"] for m in msgs} == {f"thread {t} message {i}" for t in range(8) for i in range(50)}


def test_logs_say_what_happened_without_bodies(suite, setup):
    run_ok(suite, setup, "recipient_shapes")
    log = setup.log.read_text()
    assert "message stored in outbox" in log
    assert "shapes" not in log, "no subjects at info level"


# ---- hostile input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    ["null_message", "count_with_null_array", "bad_attachments", "bad_recipients", "free_buffer"],
)
def test_refused_calls_leave_nothing(suite, setup, case):
    fifo = setup.root / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    proc = run_case(suite, setup, case, timeout=30, MAPISHIM_TEST_FIFO=fifo)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 20, "devices and FIFOs are refused without reading"
    assert setup.files() == [], "a failed call leaves no file behind"


def test_header_injection_is_impossible(suite, setup):
    [msg] = run_ok(suite, setup, "header_injection")
    header_names = [k.lower() for k in msg.keys()]
    assert "x-injected" not in header_names and "bcc" not in header_names
    for part in msg.walk():
        assert "x-injected" not in [k.lower() for k in part.keys()]
    every = addresses(msg, "To") + addresses(msg, "Cc")
    assert every == ["bob@example.org", "cc@example.org"]
    assert "Bcc: evil" in names(msg, "To")["bob@example.org"], "the display name is kept, on one line"
    assert msg["Subject"] == "Hello Bcc: evil@attacker.example X-Injected: yes"
    [(name, _, data)] = attachments(msg)
    assert "\r" not in name and "\n" not in name and data == b"inject"


def test_large_text(suite, setup):
    msgs = run_ok(suite, setup, "large_text")
    bodies = [m for m in msgs if m["Subject"] == "large body"]
    assert len(bodies) == 1 and body_text(bodies[0]).strip() == "x" * (1024 * 1024)
    assert len(msgs) in (1, 2)


def test_3000_recipients(suite, setup):
    [msg] = run_ok(suite, setup, "many_recipients")
    total = sum(len(addresses(msg, h)) for h in ("To", "Cc", "Bcc"))
    assert total == 3000


def test_200_attachments(suite, setup):
    [msg] = run_ok(suite, setup, "many_attachments")
    found = attachments(msg)
    assert [n for n, _, _ in found] == [f"file{i:03d}.txt" for i in range(200)]
    assert all(b == b"same file, many times" for _, _, b in found)


def test_broken_config_fails_cleanly(suite, setup):
    setup.write_config(text='backend = "outbox"\n[outbox]\ndirectory = "/tmp/x"\n')
    proc = run_case(suite, setup, "broken_config")
    assert proc.returncode == 0, proc.stderr
    assert setup.files() == []


def test_missing_named_config_fails_cleanly(suite, setup):
    setup.config_args["delete"] = True
    proc = run_case(suite, setup, "broken_config")
    assert proc.returncode == 0, proc.stderr


def test_unwritable_outbox(suite, setup):
    blocker = setup.root / "a-file"
    blocker.write_text("not a folder")
    setup.write_config(outbox=blocker / "outbox")
    proc = run_case(suite, setup, "unwritable_outbox")
    assert proc.returncode == 0, proc.stderr
    assert not (blocker / "outbox").exists()

