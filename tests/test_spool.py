"""The spool under stress: concurrent `mapishim outbox flush` runs deliver each message
exactly once and leave nothing behind; a process killed mid-write leaves a temporary file
that `outbox list` reports and the next send removes; and no text (a file name) can forge a
log line."""

import email
import email.policy
import os
import signal
import subprocess
import tempfile
import time
from collections import Counter

import pytest
from conftest import Runner, run_case, send
from smtp_server import Server, free_port


def smtp_config(setup, port):
    setup.write_config(
        text=(
            'backend = "smtp"\nfrom = "Accounts <accounts@example.org>"\non_failure = "spool"\n'
            "[outbox]\ndir = {outbox}\n[log]\nfile = {log}\n"
            f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout_secs = 5\n'
        )
    )


def message_id(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"]


def spool_messages(linux_sender, setup, port, count):
    """`count` messages spooled through the C library while the server is down."""
    smtp_config(setup, port)
    codes, _ = send(Runner("linux", linux_sender), setup, "--to", "SMTP:to@example.org", "--repeat", count, timeout=300)
    assert codes == [0] * count
    files = sorted(setup.outbox.glob("*.eml"))
    assert len(files) == count
    return {message_id(f.read_bytes()) for f in files}


def concurrent_flushes(dist, setup, runs):
    """Starts `runs` flushes at once; returns their (exit code, stdout, stderr)."""
    outputs = []
    procs = []
    env = setup.env()  # once: it rewrites the configuration file the runs read
    for _ in range(runs):
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        outputs.append((out, err))
        procs.append(subprocess.Popen([dist / "bin" / "mapishim", "outbox", "flush"], env=env, stdout=out, stderr=err))
    results = []
    for proc, (out, err) in zip(procs, outputs):
        code = proc.wait(timeout=300)
        out.seek(0)
        err.seek(0)
        results.append((code, out.read().decode(), err.read().decode()))
    return results


def counts(stdout):
    """The summary line: `N delivered, N failed, N remaining, N busy`."""
    line = [x for x in stdout.splitlines() if " delivered, " in x][-1]
    return {part.split()[1]: int(part.split()[0]) for part in line.split(", ")}


def check_flushes(dist, setup, linux_sender, messages, runs):
    port = free_port()
    spooled = spool_messages(linux_sender, setup, port, messages)
    with Server(port=port) as server:
        # A slow answer to DATA keeps every run busy long enough for them to overlap.
        server.recorder.data_delay = 0.005
        results = concurrent_flushes(dist, setup, runs)
    delivered = Counter(message_id(m.data) for m in server.messages)
    assert set(delivered) == spooled, "no message lost"
    assert max(delivered.values()) == 1, f"delivered twice: {[k for k, v in delivered.items() if v > 1]}"
    for code, out, err in results:
        assert code == 0, f"exit {code}: {out}\n{err}"
        c = counts(out)
        assert c["failed"] == 0 and c["remaining"] == 0, out
    summaries = [counts(out) for _, out, _ in results]
    assert sum(s["delivered"] for s in summaries) == messages
    assert sum(s["busy"] for s in summaries) > 0, "the runs overlapped (else this test proves nothing)"
    assert list(setup.outbox.iterdir()) == [], "spool empty: no message, no lock file, no temporary file"


def test_two_processes_one_spool_no_duplicate_no_loss(dist, setup, linux_sender):
    check_flushes(dist, setup, linux_sender, messages=100, runs=2)


def test_three_concurrent_flushes_of_300_leave_no_lock_and_exit_0(dist, setup, linux_sender):
    check_flushes(dist, setup, linux_sender, messages=300, runs=3)


def rc(proc):
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip().rsplit("rc=", 1)[1])


@pytest.mark.parametrize("suite", ["linux", "wine64"], indirect=True)
def test_the_library_flushes_under_the_message_lock_and_sweeps_leftovers(suite, setup):
    """The DLL's own flush (after a delivery) on Windows semantics too: lock the message
    file, deliver, remove it while locked; and the spool's old temporary files go."""
    port = free_port()
    smtp_config(setup, port)
    assert rc(run_case(suite, setup, "send_one")) == 0
    assert len(list(setup.outbox.glob("*.eml"))) == 1
    left = setup.outbox / ".tmp-20260101T000000Z-000000-1-0000"
    left.write_bytes(b"partial")
    os.utime(left, (time.time() - 7200, time.time() - 7200))
    with Server(port=port) as server:
        assert rc(run_case(suite, setup, "send_one")) == 0
    assert len(server.messages) == 2, "the new message and the spooled one"
    assert list(setup.outbox.iterdir()) == [], "no message, lock or temporary file left"


def outbox_config(setup):
    setup.write_config(text='backend = "outbox"\nfrom = "S <s@example.org>"\n[outbox]\ndir = {outbox}\n[log]\nfile = {log}\n')


def temporaries(setup):
    return sorted(setup.outbox.glob(".tmp-*"))


def test_sigkilled_100mb_send_leaves_a_temporary_file_that_the_next_send_removes(dist, setup, linux_sender):
    outbox_config(setup)
    big = setup.root / "big.bin"
    with open(big, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(100):
            f.write(block)
    env = setup.env()
    proc = subprocess.Popen(
        [linux_sender, "--to", "SMTP:bob@example.org", "--attach", f"{big}::big.bin"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        temps = temporaries(setup) if setup.outbox.exists() else []
        if temps and temps[0].stat().st_size > 8 << 20:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the send finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    [left] = temporaries(setup)
    assert left.stat().st_size > 8 << 20 and not list(setup.outbox.glob("*.eml"))

    listing = subprocess.run([dist / "bin" / "mapishim", "outbox", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    assert f"temporary file: {left}" in listing.stderr and "less than an hour" in listing.stderr

    # A recent temporary file may be another process's write in progress: it stays.
    in_progress = setup.outbox / ".tmp-20991231T000000Z-000000-1-0000"
    in_progress.write_bytes(b"being written")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(left, (two_hours_ago, two_hours_ago))
    listing = subprocess.run([dist / "bin" / "mapishim", "outbox", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert f"temporary file: {left}" in listing.stderr and "interrupted write" in listing.stderr

    codes, _ = send(Runner("linux", linux_sender), setup, "--to", "SMTP:bob@example.org")
    assert codes == [0]
    assert temporaries(setup) == [in_progress], "the next send removed the leftover only"
    assert len(list(setup.outbox.glob("*.eml"))) == 1
    assert "removed a temporary file left by an interrupted write" in setup.log.read_text()


def test_flush_sweeps_old_temporaries_in_spool_and_drafts(dist, setup):
    smtp_config(setup, free_port())
    old = []
    for folder in (setup.outbox, setup.outbox / "drafts"):
        folder.mkdir(parents=True, exist_ok=True)
        left = folder / ".tmp-20260101T000000Z-000000-1-0000"
        left.write_bytes(b"partial")
        os.utime(left, (time.time() - 7200, time.time() - 7200))
        old.append(left)
    flushed = subprocess.run([dist / "bin" / "mapishim", "outbox", "flush"], env=setup.env(), capture_output=True, text=True, timeout=60)
    assert flushed.returncode == 0, flushed.stdout + flushed.stderr
    assert not any(p.exists() for p in old)


def test_a_file_name_cannot_forge_a_log_line(linux_sender, setup):
    outbox_config(setup)
    forged = "2026-01-01T00:00:00.000000Z ERROR forged: all mail deleted"
    codes, _ = send(Runner("linux", linux_sender), setup, "--to", "SMTP:bob@example.org", "--attach", f"/nonexistent/x.txt\n{forged}")
    assert codes == [11], "MAPI_E_ATTACHMENT_NOT_FOUND"
    log = setup.log.read_text()
    assert not [line for line in log.splitlines() if line.startswith("2026-01-01")], log
    assert f"x.txt\\n{forged}" in log, log
