"""SMTP hardening (issue 11): a bounded `password_command` (item 3) and one connection per
MAPILogon session (item 17), against aiosmtpd on loopback with STARTTLS and AUTH."""

import time

import pytest
from conftest import C_DIR, Runner, compile_c, run_unpiped
from oauth_smtp import OAuthSmtp, tls_context


@pytest.fixture(scope="session")
def session_sends(dist, build_dir):
    return Runner("linux", compile_c(dist, build_dir, C_DIR / "session_sends.c", "session_sends"))


def config(setup, port, ca_file, auth_lines, timeout=5):
    setup.write_config(
        text=(
            'backend = "smtp"\nfrom = "Accounts <accounts@example.org>"\n'
            "[outbox]\ndir = {outbox}\n[log]\nfile = {log}\nlevel = \"debug\"\n"
            f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "starttls"\ntimeout_secs = {timeout}\n'
            'username = "accounts@example.org"\n'
            "ca_file = {path:" + str(ca_file) + "}\n" + auth_lines
        )
    )


def sends(runner, setup, sessions, rounds, pause_ms=0, timeout=60):
    proc = run_unpiped([runner.exe, sessions, rounds, pause_ms, "SMTP:to@example.org"], setup.env(runner), timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [int(line[3:]) for line in proc.stdout.splitlines() if line.startswith("rc=")], proc


def spooled(setup):
    return sorted(setup.outbox.rglob("*.eml")) if setup.outbox.exists() else []


def test_each_session_keeps_its_own_connection(session_sends, setup, tmp_path):
    ca_file, context = tls_context(tmp_path)
    with OAuthSmtp(context, password=("accounts@example.org", "s3cret")) as smtp:
        config(setup, smtp.port, ca_file, 'password_command = ["printf", "s3cret\\\\n"]\n')
        codes, _ = sends(session_sends, setup, 2, 3)
    assert codes == [0] * 6
    by_session = {}
    for m in smtp.messages:
        subject = next(line for line in m.data.split(b"\r\n") if line.startswith(b"Subject: "))
        by_session.setdefault(subject.split()[2], set()).add(m.peer)
    assert len(smtp.messages) == 6 and sorted(by_session) == [b"1", b"2"]
    peers = [by_session[b"1"], by_session[b"2"]]
    assert all(len(p) == 1 for p in peers), f"each session sends on one connection: {peers}"
    assert peers[0] != peers[1], "two sessions do not share a connection"
    assert len(smtp.handler.connections) == 2
    assert smtp.handler.violations == []


@pytest.mark.parametrize(
    "command, expected",
    [
        ('["sleep", "20"]', "did not finish within 3 s"),
        ('["true"]', "printed nothing"),
        ('["sh", "-c", "echo nope >&2; exit 4"]', "nope"),
    ],
)
def test_password_command_is_bounded_and_never_empty(session_sends, setup, tmp_path, command, expected):
    ca_file, context = tls_context(tmp_path)
    with OAuthSmtp(context, password=("accounts@example.org", "s3cret")) as smtp:
        config(setup, smtp.port, ca_file, f"password_command = {command}\n", timeout=3)
        started = time.monotonic()
        codes, _ = sends(session_sends, setup, 1, 1)
        elapsed = time.monotonic() - started
    assert codes == [3], "an authentication-configuration error is MAPI_E_LOGIN_FAILURE"
    assert elapsed < 3 + 1, f"returned after {elapsed:.1f} s"
    assert smtp.messages == [] and smtp.handler.attempts == [] and spooled(setup) == []
    assert expected in setup.log.read_text()
