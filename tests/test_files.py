"""Files holding mail or logs are private: every outbox, spool, drafts, failed and reason file
and the log, written by the C library or the CLI, is 0600 in a 0700 folder, including the
folders created on first use (default locations too). Linux only: Windows files inherit the
per-user ACL of the profile folder (docs/architecture.md)."""

import os
import stat
import subprocess

from conftest import Runner, send
from smtp_server import Server, free_port


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def assert_private(*files):
    for f in files:
        assert mode(f) == 0o600, f"{f}: {oct(mode(f))}"
        assert mode(f.parent) == 0o700, f"{f.parent}: {oct(mode(f.parent))}"


def config(setup, outbox, log, backend="outbox", port=None, extra_top=""):
    text = f'backend = "{backend}"\nfrom = "Sender <sender@example.org>"\non_failure = "spool"\n{extra_top}'
    text += f"[outbox]\ndir = {{path:{outbox}}}\n[log]\nfile = {{path:{log}}}\n"
    if port is not None:
        text += f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout_secs = 5\n'
    setup.write_config(text=text)


def fresh_paths(setup):
    """An outbox and a log in folders that do not exist yet: the library creates them."""
    return setup.root / "new" / "outbox", setup.root / "logs" / "mapishim.log"


def emls(folder):
    return sorted(folder.glob("*.eml"))


def test_c_library_outbox_and_log_are_private_from_first_use(linux_sender, setup):
    outbox, log = fresh_paths(setup)
    config(setup, outbox, log)
    codes, _ = send(Runner("linux", linux_sender), setup, "--to", "SMTP:bob@example.org", "--make-attach", "a.txt::x")
    assert codes == [0]
    [stored] = emls(outbox)
    assert_private(stored, log)
    assert mode(outbox.parent) == 0o700, "parents created on first use are private too"


def test_c_library_spool_drafts_failed_and_reason_are_private(linux_sender, setup):
    outbox, log = fresh_paths(setup)
    sender = Runner("linux", linux_sender)
    config(setup, outbox, log, backend="smtp", port=free_port())
    assert send(sender, setup, "--to", "SMTP:bob@example.org")[0] == [0], "server down: spooled"
    [spooled] = emls(outbox)
    assert send(sender, setup, "--subject", "no recipients", "--flags", "8")[0] == [14], "kept as a draft"
    [draft] = emls(outbox / "drafts")
    with Server() as server:
        server.recorder.refuse.add("nobody@example.org")
        config(setup, outbox, log, backend="smtp", port=server.port)
        assert send(sender, setup, "--to", "SMTP:nobody@example.org")[0] == [14]
    [failed] = emls(outbox / "failed")
    reason = failed.with_suffix(".reason")
    assert "nobody@example.org" in reason.read_text()
    assert_private(spooled, draft, failed, reason, log)
    assert not list(outbox.rglob("*.lock")) and not list(outbox.rglob(".tmp-*"))


def mapishim(dist, setup, *args, env=None):
    return subprocess.run(
        [dist / "bin" / "mapishim", *args], env=env or setup.env(), capture_output=True, text=True, timeout=120
    )


def test_cli_send_flush_failed_reason_and_log_are_private(dist, setup):
    outbox, log = fresh_paths(setup)
    port = free_port()
    config(setup, outbox, log, backend="smtp", port=port)
    sent = mapishim(dist, setup, "send", "--to", "nobody@example.org")
    assert sent.returncode == 0, sent.stderr
    [spooled] = emls(outbox)
    assert_private(spooled, log)
    with Server(port=port) as server:
        server.recorder.refuse.add("nobody@example.org")
        flushed = mapishim(dist, setup, "outbox", "flush")
    assert "0 delivered, 1 failed" in flushed.stdout, flushed.stdout + flushed.stderr
    [failed] = emls(outbox / "failed")
    assert failed.name == spooled.name
    assert_private(failed, failed.with_suffix(".reason"), log)
    assert not list(outbox.rglob("*.lock")), "flush locks the message itself, no lock file"


def test_default_outbox_and_log_folders_are_private(dist, setup):
    home = setup.root / "home"
    setup.write_config(text='backend = "outbox"\nfrom = "Sender <sender@example.org>"\n')
    env = {k: v for k, v in setup.env().items() if not k.startswith("XDG_")}
    sent = mapishim(dist, setup, "send", "--to", "bob@example.org", env=env)
    assert sent.returncode == 0, sent.stderr
    [stored] = emls(home / ".local" / "share" / "mapishim" / "outbox")
    log = home / ".local" / "state" / "mapishim" / "mapishim.log"
    assert_private(stored, log)
    for folder in (stored.parent.parent, log.parent):
        assert mode(folder) == 0o700, folder
    assert os.path.getsize(log) > 0
