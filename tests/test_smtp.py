"""The SMTP backend against a real SMTP server (aiosmtpd) on loopback. The tests marked
with ["linux", "wine64"] also run for the x64 DLL under Wine."""

import email
import email.policy
import subprocess

import pytest
from conftest import run_case
from smtp_server import Server, free_port, tls_contexts


def smtp_config(setup, port, security="none", extra="", on_failure="spool"):
    setup.write_config(
        text=(
            'backend = "smtp"\nfrom = "Accounts <accounts@example.org>"\n'
            f'on_failure = "{on_failure}"\n'
            "[outbox]\ndir = {outbox}\n[log]\nfile = {log}\n"
            f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\ntimeout_secs = 5\n{extra}'
        )
    )


def starttls_auth_config(setup, port, ca_file):
    """STARTTLS with the test CA in `ca_file`, and AUTH with the password from the environment."""
    extra = 'username = "accounts@example.org"\npassword_env = "MAPISHIM_SMTP_PASSWORD"\nca_file = {path:' + str(ca_file) + "}\n"
    smtp_config(setup, port, security="starttls", extra=extra)


def rc(proc):
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip().rsplit("rc=", 1)[1])


def spool(setup):
    return sorted(p for p in setup.outbox.glob("*.eml")) if setup.outbox.exists() else []


def check_delivery(msg_received):
    parsed = email.message_from_bytes(msg_received.data, policy=email.policy.default)
    assert parsed["Bcc"] is None and b"hidden@example.org" not in msg_received.data
    assert msg_received.mail_from == "accounts@example.org"
    assert sorted(msg_received.rcpt_tos) == ["cc@example.org", "hidden@example.org", "to@example.org"]
    [att] = list(parsed.iter_attachments())
    assert att.get_filename() == "report.csv"
    return parsed


@pytest.mark.parametrize("suite", ["linux", "wine64"], indirect=True)
def test_plain_delivery_envelope_and_bcc(suite, setup):
    with Server() as server:
        smtp_config(setup, server.port)
        assert rc(run_case(suite, setup, "send_one")) == 0
    [received] = server.messages
    check_delivery(received)
    assert spool(setup) == []


@pytest.mark.parametrize("suite", ["linux", "wine64"], indirect=True)
def test_starttls_with_ca_file_and_auth(suite, setup, tmp_path):
    ca_file, context = tls_contexts(tmp_path)
    with Server(starttls=context, auth=("accounts@example.org", "s3cret")) as server:
        starttls_auth_config(setup, server.port, ca_file)
        assert rc(run_case(suite, setup, "send_one", MAPISHIM_SMTP_PASSWORD="s3cret")) == 0
    [received] = server.messages
    check_delivery(received)


def test_implicit_tls(linux_suite, setup, tmp_path):
    ca_file, context = tls_contexts(tmp_path)
    with Server(tls=context) as server:
        smtp_config(setup, server.port, security="tls", extra="ca_file = {path:" + str(ca_file) + "}\n")
        assert rc(run_case(linux_suite, setup, "send_one")) == 0
    assert len(server.messages) == 1


def test_untrusted_certificate_is_a_network_failure_not_spooled(linux_suite, setup, tmp_path):
    _, context = tls_contexts(tmp_path)
    with Server(tls=context) as server:
        smtp_config(setup, server.port, security="tls")
        assert rc(run_case(linux_suite, setup, "send_one")) == 23
    assert server.messages == [] and spool(setup) == []
    assert "TLS or certificate problem" in setup.log.read_text()


@pytest.mark.parametrize("suite", ["linux", "wine64"], indirect=True)
def test_wrong_password_is_a_login_failure_with_nothing_spooled(suite, setup, tmp_path):
    ca_file, context = tls_contexts(tmp_path)
    with Server(starttls=context, auth=("accounts@example.org", "s3cret")) as server:
        starttls_auth_config(setup, server.port, ca_file)
        assert rc(run_case(suite, setup, "send_one", MAPISHIM_SMTP_PASSWORD="Wr0ng-Pa55")) == 3
    assert server.messages == [] and spool(setup) == []
    assert "Wr0ng-Pa55" not in setup.log.read_text(), "passwords never reach the log"


def flush(dist, setup):
    return subprocess.run([dist / "bin" / "mapishim", "outbox", "flush"], env=setup.env(), capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("suite", ["linux", "wine64"], indirect=True)
def test_server_down_spools_then_flush_delivers_once(suite, setup, dist):
    port = free_port()
    smtp_config(setup, port)
    assert rc(run_case(suite, setup, "send_one")) == 0, "queued counts as success"
    [queued] = spool(setup)
    assert b"Bcc: <hidden@example.org>" in queued.read_bytes(), "the spool keeps Bcc for later"
    down = flush(dist, setup)
    assert down.returncode != 0 and "1 remaining" in down.stdout
    with Server(port=port) as server:
        up = flush(dist, setup)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "1 delivered, 0 failed, 0 remaining" in up.stdout
        again = flush(dist, setup)
        assert "0 delivered" in again.stdout
    [received] = server.messages
    check_delivery(received)
    assert spool(setup) == []


def test_on_failure_error_reports_network_failure(linux_suite, setup):
    smtp_config(setup, free_port(), on_failure="error")
    assert rc(run_case(linux_suite, setup, "send_one")) == 23
    assert spool(setup) == []


def test_connection_dropped_mid_data_loses_nothing_and_duplicates_nothing(linux_suite, setup, dist):
    with Server() as server:
        server.recorder.drop_data = 1
        smtp_config(setup, server.port)
        assert rc(run_case(linux_suite, setup, "send_one")) == 0
        assert len(spool(setup)) == 1 and server.messages == []
        assert flush(dist, setup).returncode == 0
    assert len(server.messages) == 1
    check_delivery(server.messages[0])
    assert spool(setup) == []


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_550_on_the_only_recipient(linux_suite, setup, pipelining):
    with Server() as server:
        server.recorder.pipelining = pipelining
        server.recorder.refuse.add("nobody@example.org")
        smtp_config(setup, server.port)
        assert rc(run_case(linux_suite, setup, "send_one", MAPISHIM_TEST_TO="only")) == 14
    assert server.messages == []
    failed = setup.outbox / "failed"
    [copy] = sorted(failed.glob("*.eml"))
    reason = copy.with_suffix(".reason").read_text()
    assert "550" in reason and "nobody@example.org" in reason and "time:" in reason


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_some_recipients_refused(linux_suite, setup, pipelining):
    with Server() as server:
        server.recorder.pipelining = pipelining
        server.recorder.refuse.add("cc@example.org")
        smtp_config(setup, server.port)
        assert rc(run_case(linux_suite, setup, "send_one")) == 0
    [received] = server.messages
    assert sorted(received.rcpt_tos) == ["hidden@example.org", "to@example.org"]
    [copy] = sorted((setup.outbox / "failed").glob("*.eml"))
    assert "cc@example.org" in copy.with_suffix(".reason").read_text()


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_8_threads_share_a_small_pool(linux_suite, setup, pipelining):
    with Server() as server:
        server.recorder.pipelining = pipelining
        smtp_config(setup, server.port)
        proc = run_case(linux_suite, setup, "threads")
        assert proc.returncode == 0, proc.stderr
    assert len(server.messages) == 400
    assert server.recorder.connections <= 16, f"{server.recorder.connections} connections for 400 messages"


def test_dialog_without_recipients_is_kept_as_draft(linux_suite, setup):
    with Server() as server:
        smtp_config(setup, server.port)
        proc = run_case(linux_suite, setup, "send_documents")
    assert proc.returncode == 1 and "returned 14" in proc.stderr
    assert len(list((setup.outbox / "drafts").glob("*.eml"))) == 1
    assert server.messages == []
    assert "configure [composer]" in setup.log.read_text()


def test_next_send_flushes_the_spool(linux_suite, setup):
    port = free_port()
    smtp_config(setup, port)
    assert rc(run_case(linux_suite, setup, "send_one")) == 0
    assert len(spool(setup)) == 1
    with Server(port=port) as server:
        assert rc(run_case(linux_suite, setup, "send_one")) == 0
    assert len(server.messages) == 2, "the new message and the spooled one"
    assert spool(setup) == []


def test_config_check_warns_about_plain_passwords(dist, setup):
    smtp_config(setup, 2525, security="starttls", extra='username = "u"\npassword = "Pl41n-Secret"\n')
    proc = subprocess.run([dist / "bin" / "mapishim", "config", "check"], env=setup.env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "warning:" in proc.stdout and "smtp.password" in proc.stdout
    assert "Pl41n-Secret" not in proc.stdout


def test_logon_flushes_the_spool(linux_suite, setup):
    port = free_port()
    smtp_config(setup, port)
    assert rc(run_case(linux_suite, setup, "send_one")) == 0
    assert len(spool(setup)) == 1
    with Server(port=port) as server:
        proc = run_case(linux_suite, setup, "logon_only")  # MAPILogon, no send
        assert proc.returncode == 0, proc.stderr
    assert len(server.messages) == 1 and spool(setup) == []
