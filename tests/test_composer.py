"""MAPI_DIALOG requests opened in the user's composer, proven with recording stand-ins for
xdg-email, Thunderbird and the mailto opener (tests/composer_standin.py): what they were
given, and what they could read after the caller had deleted its files."""

import hashlib
import json
import os
import shutil
import time
import urllib.parse

import pytest
from composer_standin import thunderbird_fields
from conftest import ROOT, run, send, toml_string

MAPI_DIALOG = 0x8
MAPI_DIALOG_MODELESS = 0xC
HOSTILE_SUBJECT = "Q3 \"report\" it's ',to='evil@example.org\" --attach \"/etc/passwd\\"
HOSTILE_NAME = "it's, a \"report\" ü.pdf"
# Quotes are among the characters no attachment name keeps (Windows forbids them).
STAGED_NAMES = ["it's, a _report_ ü.pdf", "it's, a _report_ ü (2).pdf"]
CONTENT = "quarterly numbers"


def install_standin(directory, name):
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    # An absolute interpreter: under Wine the host program gets Windows' PATH.
    text = (ROOT / "tests" / "composer_standin.py").read_text().replace("#!/usr/bin/env python3", "#!/usr/bin/python3", 1)
    target.write_text(text)
    target.chmod(0o755)
    return target


def composer_config(setup, kind, program, extra=""):
    setup.write_config(
        text=(
            'from = "Sender <sender@example.org>"\n[outbox]\ndir = {outbox}\n[log]\nfile = {log}\nlevel = "debug"\n'
            f'[composer]\nkind = "{kind}"\nprogram = {program}\n{extra}'
        )
    )


def events(record, wanted="done", timeout=30):
    """The stand-in's records once `wanted` has been written (bounded wait, not a timing claim)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if record.exists():
            lines = [json.loads(line) for line in record.read_text().splitlines()]
            if any(e["event"] == wanted for e in lines):
                return lines
        time.sleep(0.1)
    raise AssertionError(f"the stand-in never recorded {wanted!r}: {record.read_text() if record.exists() else 'nothing'}")


def standin_env(setup, delay=2, exit_code=0):
    return dict(
        MAPISHIM_STANDIN_RECORD=str(setup.root / "record.jsonl"),
        MAPISHIM_STANDIN_DELAY=str(delay),
        MAPISHIM_STANDIN_EXIT=str(exit_code),
    )


def hostile_send_args(flags):
    return [
        "--flags", str(flags), "--subject", HOSTILE_SUBJECT, "--body", "Hello,\nsee attached.\n",
        "--to", "SMTP:to@example.org", "--cc", "cc@example.org", "--bcc", "SMTP:hidden@example.org",
        "--make-attach", f"{HOSTILE_NAME}::{CONTENT}", "--make-attach", f"{HOSTILE_NAME}::second",
    ]


def check_files(done):
    digest = lambda text: hashlib.sha256(text.encode()).hexdigest()  # noqa: E731
    files = done["files"]
    assert [f["name"] for f in files] == STAGED_NAMES, files
    assert [f.get("sha256") for f in files] == [digest(CONTENT), digest("second")], files


@pytest.mark.parametrize("sender", ["linux", "wine64"], indirect=True)
def test_xdg_email_gets_every_field_and_readable_attachments(sender, setup):
    program = install_standin(setup.root / "bin", "xdg-email")
    # Under Wine the program is the host's, reached through `start /unix`.
    composer_config(setup, "xdg-email", toml_string(str(program)))
    codes, proc = send(sender, setup, *hostile_send_args(MAPI_DIALOG_MODELESS), **standin_env(setup))
    assert codes == [0], proc.stderr
    record = setup.root / "record.jsonl"
    # The caller has returned and deleted its files; the composer is still "opening".
    assert not any(e["event"] == "done" for e in _read(record)), "modeless returned only after the composer finished"
    started, done = events(record)
    argv = started["argv"]
    if sender.is_wine:
        # Through start /unix every caller text travels in one encoded mailto: URL.
        assert argv[0] == "--utf8" and argv[1:5:2] == ["--attach", "--attach"] and len(argv) == 6, argv
        url = urllib.parse.urlparse(argv[-1])
        query = urllib.parse.parse_qs(url.query)
        assert (url.scheme, url.path) == ("mailto", "to@example.org")
        assert query["subject"] == [HOSTILE_SUBJECT] and query["bcc"] == ["hidden@example.org"]
        assert query["body"] == ["Hello,\r\nsee attached.\r\n"]
    else:
        assert argv[:9] == [
            "--utf8", "--cc", "cc@example.org", "--bcc", "hidden@example.org",
            "--subject", HOSTILE_SUBJECT, "--body", "Hello,\nsee attached.\n",
        ], argv
        assert argv[9::2][:2] == ["--attach", "--attach"] and argv[-1] == "to@example.org", argv
    check_files(done)
    assert setup.messages() == [], "a dialog request with a composer does not reach the backend"


def _read(record):
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


def test_thunderbird_fields_cannot_break_out(linux_sender, setup):
    from conftest import Runner

    program = install_standin(setup.root / "bin", "thunderbird")
    composer_config(setup, "thunderbird", toml_string(str(program)))
    codes, _ = send(Runner("linux", linux_sender), setup, *hostile_send_args(MAPI_DIALOG), **standin_env(setup))
    assert codes == [0]
    started, done = events(setup.root / "record.jsonl")
    assert started["argv"][0] == "-compose" and len(started["argv"]) == 2
    fields = thunderbird_fields(started["argv"][1])
    assert set(fields) == {"to", "cc", "bcc", "subject", "body", "attachment"}, fields
    assert fields["to"] == "to@example.org" and fields["bcc"] == "hidden@example.org"
    assert fields["subject"] == HOSTILE_SUBJECT.replace("'", "\u2019")
    check_files(done)


def test_mailto_url_is_encoded_and_attachments_are_logged(linux_sender, setup):
    from conftest import Runner

    program = install_standin(setup.root / "bin", "xdg-open")
    composer_config(setup, "mailto", toml_string(str(program)))
    codes, _ = send(Runner("linux", linux_sender), setup, *hostile_send_args(MAPI_DIALOG), **standin_env(setup, delay=0))
    assert codes == [0]
    [url] = events(setup.root / "record.jsonl")[0]["argv"]
    parsed = urllib.parse.urlparse(url)
    assert parsed.scheme == "mailto" and parsed.path == "to@example.org"
    query = urllib.parse.parse_qs(parsed.query)
    assert query["subject"] == [HOSTILE_SUBJECT] and query["cc"] == ["cc@example.org"]
    assert query["body"] == ["Hello,\r\nsee attached.\r\n"]
    assert "mailto: URLs cannot carry attachments" in setup.log.read_text()


def test_silent_sends_still_go_to_the_backend(sender_linux_and_program):
    runner, setup = sender_linux_and_program
    codes, _ = send(runner, setup, "--subject", "silent", "--to", "SMTP:to@example.org", **standin_env(setup))
    assert codes == [0]
    [msg] = setup.messages()
    assert msg["Subject"] == "silent"
    assert not (setup.root / "record.jsonl").exists(), "the composer ran for a send without a dialog"


@pytest.fixture
def sender_linux_and_program(linux_sender, setup):
    from conftest import Runner

    program = install_standin(setup.root / "bin", "xdg-email")
    composer_config(setup, "xdg-email", toml_string(str(program)))
    return Runner("linux", linux_sender), setup


def test_a_composer_that_fails_at_once_is_reported(sender_linux_and_program):
    runner, setup = sender_linux_and_program
    env = standin_env(setup, delay=0, exit_code=3)
    codes, _ = send(runner, setup, "--flags", str(MAPI_DIALOG), "--subject", "x", **env)
    assert codes == [2], "MAPI_DIALOG waits briefly and reports a composer that failed"
    assert "composer xdg-email failed" in setup.log.read_text()
    assert "simulated failure" in setup.log.read_text(), "its error output is in the log"


def test_missing_composer_program_fails_precisely(linux_sender, setup, dist):
    from conftest import Runner

    composer_config(setup, "xdg-email", toml_string(str(setup.root / "nowhere" / "xdg-email")))
    codes, _ = send(Runner("linux", linux_sender), setup, "--flags", str(MAPI_DIALOG), "--subject", "x")
    assert codes == [2]
    assert "composer unavailable: program" in setup.log.read_text()
    check = run([dist / "bin" / "mapishim", "config", "check"], env=setup.env())
    assert "warning:       composer: program" in check.stdout and "not found" in check.stdout, check.stdout


def test_auto_picks_the_first_available_composer(linux_sender, setup):
    from conftest import Runner

    bin_dir = setup.root / "bin"
    install_standin(bin_dir, "thunderbird")
    setup.write_config(
        text='[outbox]\ndir = {outbox}\n[log]\nfile = {log}\n[composer]\nkind = "auto"\n'
    )
    env = standin_env(setup, delay=0)
    env["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
    env["DISPLAY"] = ""  # no desktop session: xdg-email is not a candidate
    codes, _ = send(Runner("linux", linux_sender), setup, "--flags", str(MAPI_DIALOG), "--subject", "auto", **env)
    assert codes == [0]
    [started, _] = events(setup.root / "record.jsonl")
    assert started["kind"] == "thunderbird"


def test_staged_folders_expire(sender_linux_and_program):
    runner, setup = sender_linux_and_program
    setup.config_args["text"] += "retention_hours = 1\n"
    args = ["--flags", str(MAPI_DIALOG), "--make-attach", "a.txt::x"]
    assert send(runner, setup, *args, **standin_env(setup, delay=0))[0] == [0]
    first = events(setup.root / "record.jsonl")[-1]["files"][0]["path"]
    assert os.path.exists(first)
    two_hours_ago = time.time() - 7200
    os.utime(os.path.dirname(first), (two_hours_ago, two_hours_ago))
    os.remove(setup.root / "record.jsonl")
    assert send(runner, setup, *args, **standin_env(setup, delay=0))[0] == [0]
    second = events(setup.root / "record.jsonl")[-1]["files"][0]["path"]
    assert not os.path.exists(os.path.dirname(first)), "the expired staging folder is still there"
    assert os.path.exists(second)
    shutil.rmtree(os.path.dirname(second))


@pytest.fixture(scope="session")
def windows_standin(build_dir):
    """A Windows program that records its arguments (tests/c/record_argv.c)."""
    from conftest import require_wine, run as run_cmd

    require_wine("wine64")
    exe = build_dir / "standin" / "thunderbird.exe"
    exe.parent.mkdir(exist_ok=True)
    run_cmd(["x86_64-w64-mingw32-gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O1",
             ROOT / "tests" / "c" / "record_argv.c", "-o", exe])
    return exe


def windows_record(setup):
    record = setup.root / "record.jsonl"
    lines = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return [[bytes.fromhex(a).decode() for a in e["argv_hex"]] for e in lines]


@pytest.mark.parametrize("sender", ["wine64"], indirect=True)
def test_thunderbird_and_mailto_from_the_windows_dll(sender, setup, windows_standin):
    from conftest import wine_path

    record = {"MAPISHIM_STANDIN_RECORD": wine_path(setup.root / "record.jsonl")}
    composer_config(setup, "thunderbird", toml_string(wine_path(windows_standin)))
    codes, proc = send(sender, setup, *hostile_send_args(MAPI_DIALOG), **record)
    assert codes == [0], proc.stderr
    [argv] = windows_record(setup)
    assert argv[0] == "-compose" and len(argv) == 2
    fields = thunderbird_fields(argv[1])
    assert set(fields) == {"to", "cc", "bcc", "subject", "body", "attachment"}, fields
    assert fields["subject"] == HOSTILE_SUBJECT.replace("'", "\u2019")
    urls = fields["attachment"].split(",")
    prefix = sender.env["WINEPREFIX"]
    digest = lambda data: hashlib.sha256(data).hexdigest()  # noqa: E731
    found = []
    for url in urls:
        path = urllib.parse.unquote(urllib.parse.urlparse(url).path)  # /C:/users/…
        drive, rest = path.lstrip("/").split(":", 1)
        with open(f"{prefix}/dosdevices/{drive.lower()}:{rest}", "rb") as f:
            found.append((os.path.basename(rest), digest(f.read())))
    # The caller deleted its files when the call returned; the staged copies remain.
    assert found == [(STAGED_NAMES[0], digest(CONTENT.encode())), (STAGED_NAMES[1], digest(b"second"))]

    os.remove(setup.root / "record.jsonl")
    composer_config(setup, "mailto", toml_string(wine_path(windows_standin)))
    codes, _ = send(sender, setup, *hostile_send_args(MAPI_DIALOG), **record)
    assert codes == [0]
    [[url]] = windows_record(setup)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    assert query["subject"] == [HOSTILE_SUBJECT]


# Issue 11 item 16: recipients reach the composer as `Name <address>`, quoted as RFC 5322
# asks; item 13: what a caller like 7-Zip types as the address (a name, a list) with
# MAPI_DIALOG; and the exact command line is in the debug log.
NAMED = ["--to-named", "Anna Müller::SMTP:anna@x.org", "--to-named", 'Müller, "Hans"::hans@x.org']
NAMED_TEXT = ["Anna Müller <anna@x.org>", '"Müller, \\"Hans\\"" <hans@x.org>']
TYPED = ["--to", "Bob Smith", "--to", "bob@x.org, carol@x.org"]
BOB_SMITH = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Smith\r\nEMAIL:bob.smith@example.org\r\nEND:VCARD\r\n"


def linux_runner(linux_sender):
    from conftest import Runner

    return Runner("linux", linux_sender)


@pytest.mark.parametrize("kind", ["xdg-email", "thunderbird", "xdg-open"])
def test_composers_get_display_names_quoted(linux_sender, setup, kind):
    program = install_standin(setup.root / "bin", kind)
    composer_config(setup, "mailto" if kind == "xdg-open" else kind, toml_string(str(program)))
    args = [*NAMED, "--subject", "names", "--flags", str(MAPI_DIALOG)]
    codes, _ = send(linux_runner(linux_sender), setup, *args, **standin_env(setup, delay=0))
    assert codes == [0]
    argv = events(setup.root / "record.jsonl")[0]["argv"]
    if kind == "xdg-email":
        assert argv[-2:] == NAMED_TEXT, argv
    elif kind == "thunderbird":
        assert thunderbird_fields(argv[1])["to"] == ",".join(NAMED_TEXT), argv
    else:
        url = urllib.parse.urlparse(argv[0])
        assert (url.scheme, url.path) == ("mailto", ""), argv
        assert urllib.parse.parse_qs(url.query)["to"] == [",".join(NAMED_TEXT)], argv
    # The exact command line is logged at debug, one line, shell-quoted.
    logged = [line for line in setup.log.read_text().splitlines() if "composer command line" in line]
    assert len(logged) == 1 and str(program) in logged[0], logged
    assert ("Anna%20M%C3%BCller" if kind == "xdg-open" else "Anna Müller") in logged[0], logged


# 7-Zip 26.03 calls MAPISendMailW, older versions MAPISendMail.
CALLS = pytest.mark.parametrize("call", [[], ["--wide"]], ids=["MAPISendMail", "MAPISendMailW"])


@CALLS
@pytest.mark.parametrize("sender", ["linux", "wine64"], indirect=True)
def test_typed_names_and_lists_without_a_composer_are_resolved(sender, setup, call):
    """7-Zip's `-semlBob Smith`: a name in lpszAddress, and a typed list, with MAPI_DIALOG and
    no composer: resolved through the address book, one recipient per entry (outbox)."""
    (setup.root / "contacts.vcf").write_text(BOB_SMITH, newline="")
    codes, proc = send(sender, setup, *TYPED, *call, "--subject", "typed", "--flags", str(MAPI_DIALOG))
    assert codes == [0], proc.stdout
    [msg] = setup.messages()
    got = [(a.display_name, a.addr_spec) for a in msg["To"].addresses]
    assert got == [("Bob Smith", "bob.smith@example.org"), ("", "bob@x.org"), ("", "carol@x.org")]


def test_typed_names_that_resolve_to_nothing_fail_without_dialog(linux_sender, setup):
    codes, _ = send(linux_runner(linux_sender), setup, "--to", "Nobody Known", "--subject", "x")
    assert codes == [14]  # MAPI_E_UNKNOWN_RECIPIENT, and nothing stored
    assert setup.messages() == []


@CALLS
@pytest.mark.parametrize("sender", ["linux", "wine64"], indirect=True)
def test_typed_text_goes_to_the_composer_as_typed(sender, setup, request, call):
    """With a composer, what resolves to nothing is put in the window as the user typed it."""
    from conftest import wine_path

    if sender.is_wine:
        program = request.getfixturevalue("windows_standin")
        record = {"MAPISHIM_STANDIN_RECORD": wine_path(setup.root / "record.jsonl")}
        composer_config(setup, "thunderbird", toml_string(wine_path(program)))
    else:
        program = install_standin(setup.root / "bin", "thunderbird")
        record = standin_env(setup, delay=0)
        composer_config(setup, "thunderbird", toml_string(str(program)))
    codes, proc = send(sender, setup, *TYPED, *call, "--subject", "typed", "--flags", str(MAPI_DIALOG), **record)
    assert codes == [0], proc.stdout
    argv = windows_record(setup)[0] if sender.is_wine else events(setup.root / "record.jsonl")[0]["argv"]
    assert thunderbird_fields(argv[1])["to"] == "Bob Smith,bob@x.org,carol@x.org", argv
    assert setup.messages() == []
    assert "passed to the composer as typed" in setup.log.read_text()
