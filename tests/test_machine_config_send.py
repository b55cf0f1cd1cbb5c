"""A message sent by a real caller (tests/c/mapi_send.c against libmapi32.so) with the
machine file at the real /etc/mapishim/config.toml locking [smtp]: the user's file points
[smtp] elsewhere, the message still reaches the machine's server (aiosmtpd on loopback),
and the refused override is logged once (issue 15 item 2)."""

from conftest import VCARDS
from smtp_server import Server, free_port
from test_machine_config import LOCKED, linux_env, with_etc_mapishim


def test_locked_smtp_from_etc_carries_the_message(linux_sender, tmp_path):
    log = tmp_path / "mapishim.log"
    with Server() as server:
        machine_dir = tmp_path / "etc-mapishim"
        machine_dir.mkdir()
        (machine_dir / "config.toml").write_text(
            'locked = ["smtp", "on_failure"]\nbackend = "smtp"\non_failure = "error"\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\ntimeout_secs = 5\n'
            f'[outbox]\ndir = "{tmp_path / "outbox"}"\n'
        )
        user = tmp_path / "home" / ".config" / "mapishim" / "config.toml"
        user.parent.mkdir(parents=True)
        # A port nothing listens on, and a spool instead of an error: both refused.
        user.write_text(
            f'from = "Me <me@example.org>"\non_failure = "spool"\n[smtp]\nport = {free_port()}\n'
            f'[log]\nfile = "{log}"\n[addressbook]\nvcard = ["contacts.vcf"]\n'
        )
        (user.parent / "contacts.vcf").write_text(VCARDS)
        args = ["--to", "SMTP:to@example.org", "--subject", "machine", "--body", "b", "--repeat", "2"]
        proc = with_etc_mapishim(machine_dir, [linux_sender, *args], linux_env(tmp_path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.count("rc=0") == 2, proc.stdout
    assert [m.mail_from for m in server.messages] == ["me@example.org"] * 2
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").glob("*.eml"))
    logged = log.read_text()
    # Once per load of the files, not once per call.
    assert logged.count(f"{user}:3: {LOCKED}") == 1, logged
    assert logged.count("key `on_failure` is locked") == 1, logged
    assert f"configuration loaded config={user} machine=/etc/mapishim/config.toml" in logged, logged
