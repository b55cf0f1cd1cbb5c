"""The sendmail backend with Debian's real msmtp, delivering to aiosmtpd on loopback."""

import email
import email.policy
import shutil

import pytest
from conftest import send, toml_string
from smtp_server import Server, free_port

MSMTP = shutil.which("msmtp") or "/usr/bin/msmtp"


def sendmail_config(setup, port, extra_top=""):
    rc = setup.root / "msmtprc"
    rc.write_text(f"defaults\nauth off\ntls off\nlogfile {setup.root / 'msmtp.log'}\naccount default\nhost 127.0.0.1\nport {port}\n")
    rc.chmod(0o600)
    setup.write_config(
        text=(
            f'backend = "sendmail"\nfrom = "Accounts <accounts@example.org>"\n{extra_top}'
            "[outbox]\ndir = {outbox}\n[log]\nfile = {log}\n"
            f'[sendmail]\nprogram = {toml_string(MSMTP)}\nargs = ["-C", {toml_string(str(rc))}]\ntimeout_secs = 10\n'
        )
    )


def full_send_args():
    return [
        "--subject", "via msmtp", "--body", "Line one\n.\nafter a lone dot\n",
        "--to", "SMTP:to@example.org", "--cc", "cc@example.org", "--bcc", "SMTP:hidden@example.org",
        "--make-attach", "report.csv::a;b\n1;2\n",
    ]


def test_msmtp_delivers_with_bcc_only_in_the_envelope(linux_sender_runner, setup):
    with Server() as server:
        sendmail_config(setup, server.port)
        codes, proc = send(linux_sender_runner, setup, *full_send_args())
        assert codes == [0], proc.stderr
    [received] = server.messages
    assert received.mail_from == "accounts@example.org"
    assert sorted(received.rcpt_tos) == ["cc@example.org", "hidden@example.org", "to@example.org"]
    assert b"hidden@example.org" not in received.data, "Bcc leaked into the delivered message"
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    assert parsed["Subject"] == "via msmtp"
    body = parsed.get_body(("plain",)).get_content()
    assert "\n.\nafter a lone dot" in body.replace("\r\n", "\n"), body
    [att] = list(parsed.iter_attachments())
    assert att.get_filename() == "report.csv" and att.get_content() in ("a;b\n1;2\n", b"a;b\n1;2\n")
    assert setup.files() == [], "nothing is left in the outbox after a delivery"
    assert "handed to sendmail" in setup.log.read_text()


def test_msmtp_failure_is_reported_and_kept(linux_sender_runner, setup):
    sendmail_config(setup, free_port())  # nothing listens there
    codes, _ = send(linux_sender_runner, setup, *full_send_args())
    assert codes == [2]
    log = setup.log.read_text()
    assert "sendmail refused the message" in log and "msmtp" in log, log
    failed = sorted((setup.outbox / "failed").iterdir())
    assert [p.suffix for p in failed] == [".eml", ".reason"]
    assert b"hidden@example.org" in failed[0].read_bytes(), "the kept copy names every recipient"


def test_dialog_without_recipients_becomes_a_draft(linux_sender_runner, setup):
    with Server() as server:
        sendmail_config(setup, server.port)
        codes, _ = send(linux_sender_runner, setup, "--flags", "8", "--subject", "no one yet")
    assert codes == [14] and server.messages == []
    [draft] = (setup.outbox / "drafts").iterdir()
    assert b"no one yet" in draft.read_bytes()


@pytest.fixture
def linux_sender_runner(linux_sender):
    from conftest import Runner

    return Runner("linux", linux_sender)


def test_a_program_that_exits_without_reading_cannot_kill_the_caller(linux_sender_runner, setup):
    """No SIGPIPE: the message is not written into a pipe the program may have closed."""
    big = setup.root / "big.bin"
    big.write_bytes(b"x" * (4 << 20))
    setup.write_config(
        text=(
            'backend = "sendmail"\nfrom = "a@example.org"\n[outbox]\ndir = {outbox}\n[log]\nfile = {log}\n'
            '[sendmail]\nprogram = "/bin/false"\n'
        )
    )
    codes, proc = send(linux_sender_runner, setup, "--to", "SMTP:to@example.org", "--attach", str(big))
    assert codes == [2], (proc.returncode, proc.stderr)
    assert "sendmail refused the message" in setup.log.read_text()
