"""SMTP hardening (issue 11): a bounded `password_command` (item 3), one connection per
MAPILogon session (item 17), against aiosmtpd on loopback with STARTTLS and AUTH, with the
Linux library and the x64 DLL under Wine (where a command is stopped through a job object);
and a session's messages pipelined (RFC 2920) to aiosmtpd announcing PIPELINING and to
Postfix's smtp-sink, with no NOOP probe between them."""

import email
import email.policy
import time

import pytest
from conftest import C_DIR, Runner, compile_c, run_unpiped, toml_string, wine_env, wine_program
from oauth_smtp import OAuthSmtp, tls_context
from smtp_server import Server
from smtp_sink import SmtpSink


@pytest.fixture(scope="session")
def session_sends(dist, build_dir):
    return Runner("linux", compile_c(dist, build_dir, C_DIR / "session_sends.c", "session_sends"))


@pytest.fixture(scope="session", params=["linux", "wine64"])
def session_sender(request, dist, build_dir):
    """session_sends, and secret_helper (a `password_command`), for Linux or Wine."""
    if request.param == "linux":
        sends = compile_c(dist, build_dir, C_DIR / "session_sends.c", "session_sends")
        runner = Runner("linux", sends)
        runner.helper = compile_c(dist, build_dir, C_DIR / "secret_helper.c", "secret_helper")
        return runner
    windows_dist = request.getfixturevalue("windows_dist")
    prefix = request.getfixturevalue("wine_prefix")
    sends = wine_program("wine64", windows_dist, build_dir, C_DIR / "session_sends.c", "session_sends")
    runner = Runner("wine64", sends, prefix=["wine"], env=wine_env(prefix))
    runner.helper = wine_program("wine64", windows_dist, build_dir, C_DIR / "secret_helper.c", "secret_helper", with_dll=False)
    return runner


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
    proc = run_unpiped([*runner.prefix, runner.exe, sessions, rounds, pause_ms, "SMTP:to@example.org"], setup.env(runner), timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [int(line[3:]) for line in proc.stdout.splitlines() if line.startswith("rc=")], proc


def call_times(proc):
    """How long each MAPISendMail took, in seconds, as the program measured it."""
    return [int(line[3:]) / 1000 for line in proc.stdout.splitlines() if line.startswith("ms=")]


def spooled(setup):
    return sorted(setup.outbox.rglob("*.eml")) if setup.outbox.exists() else []


def test_each_session_keeps_its_own_connection(session_sender, setup, tmp_path):
    ca_file, context = tls_context(tmp_path)
    with OAuthSmtp(context, password=("accounts@example.org", "s3cret")) as smtp:
        config(setup, smtp.port, ca_file, 'password = "s3cret"\n')
        codes, _ = sends(session_sender, setup, 2, 3)
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
    "mode, expected",
    [("hang", "did not finish within 3 s"), ("empty", "printed nothing"), ("fail", "nope")],
)
def test_password_command_is_bounded_and_never_empty(session_sender, setup, tmp_path, mode, expected):
    """A hanging command (with a child of its own) is stopped with its tree within
    `timeout_secs`; empty output or a failure is an authentication-configuration error."""
    ca_file, context = tls_context(tmp_path)
    marker = tmp_path / "child-survived"
    command = [session_sender.path(session_sender.helper), mode] + ([session_sender.path(marker)] if mode == "hang" else [])
    with OAuthSmtp(context, password=("accounts@example.org", "s3cret")) as smtp:
        config(setup, smtp.port, ca_file, f"password_command = [{', '.join(map(toml_string, command))}]\n", timeout=3)
        started = time.monotonic()
        codes, proc = sends(session_sender, setup, 1, 1)
    assert codes == [3], "an authentication-configuration error is MAPI_E_LOGIN_FAILURE"
    [took] = call_times(proc)
    assert took < 3 + 1, f"MAPISendMail returned after {took:.1f} s"
    assert smtp.messages == [] and smtp.handler.attempts == [] and spooled(setup) == []
    assert expected in setup.log.read_text()
    if mode == "hang":
        # The child would have written the marker 5 s after it started.
        time.sleep(max(0.0, started + 6.5 - time.monotonic()))
        assert not marker.exists(), "the command's child outlived the time limit"


def plain_config(setup, port):
    setup.write_config(
        text=(
            'backend = "smtp"\nfrom = "Accounts <accounts@example.org>"\n'
            "[outbox]\ndir = {outbox}\n[log]\nfile = {log}\nlevel = \"debug\"\n"
            f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout_secs = 5\n'
        )
    )


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "one-by-one"])
def test_a_session_pipelines_when_offered_and_never_probes(session_sends, setup, pipelining):
    with Server() as server:
        server.recorder.pipelining = pipelining
        plain_config(setup, server.port)
        codes, _ = sends(session_sends, setup, 1, 5)
    assert codes == [0] * 5
    assert [m.rcpt_tos for m in server.messages] == [["to@example.org"]] * 5
    assert server.recorder.connections == 1
    # Two round trips a message with PIPELINING (the envelope, then the content), four
    # without; never a NOOP before reusing the session's connection.
    assert server.recorder.pipelined == (5 if pipelining else 0)
    assert server.recorder.noops == 0


def test_a_refused_sender_leaves_the_pipelined_connection_in_step(session_sends, setup):
    with Server() as server:
        server.recorder.pipelining = True
        server.recorder.refuse_mail = "550 5.7.1 sender refused"
        plain_config(setup, server.port)
        started = time.monotonic()
        codes, _ = sends(session_sends, setup, 1, 3, timeout=30)
    assert time.monotonic() - started < 10, "every reply was read; nothing waited for a timeout"
    assert codes == [2] * 3 and server.messages == []
    assert server.recorder.connections == 1, "the replies stayed in step: no reconnect"
    assert "MAIL FROM: permanent error (550): 5.7.1 sender refused" in setup.log.read_text()
    assert len(list((setup.outbox / "failed").glob("*.eml"))) == 3


def test_a_connection_the_server_closed_while_idle_is_replaced(session_sends, setup):
    # smtp-sink ends a session after 1 s without a command (-t 1): the pooled connection is
    # dead when the next round sends, and that message goes out on a new one, once.
    with SmtpSink(dump=True, options=["-t", "1"]) as sink:
        plain_config(setup, sink.port)
        codes, _ = sends(session_sends, setup, 1, 3, pause_ms=2500)
    assert codes == [0] * 3
    assert sink.messages == 3 and len(sink.dumps) == 3
    assert spooled(setup) == []
    assert setup.log.read_text().count("trying a new one") == 2


def test_pipelined_messages_reach_smtp_sink_intact(session_sends, setup):
    with SmtpSink(dump=True) as sink:
        plain_config(setup, sink.port)
        codes, _ = sends(session_sends, setup, 2, 4)
    assert codes == [0] * 8 and sink.messages == 8
    subjects = []
    for dumped in sink.dumps:
        # smtp-sink writes its own X-Client-* and Received lines above the message.
        parsed = email.message_from_bytes(dumped, policy=email.policy.default)
        assert parsed["X-Rcpt-Args"] is not None or parsed["Received"] is not None
        assert parsed["From"] == "Accounts <accounts@example.org>"
        assert parsed.get_body(("plain",)).get_content().rstrip() == "Hello."
        subjects.append(str(parsed["Subject"]))
    assert sorted(subjects) == sorted(f"session {s} round {r}" for s in (1, 2) for r in range(1, 5))
