"""Machine-wide configuration and policy (issue 15 item 2), read by the real program at the
real paths: the machine file under the user's, key by key; `locked` refusing a user's
value; the Windows policy value `ConfigFile` in the machine file's place; and `config
check` naming where every key came from.

On Linux the machine file is the real /etc/mapishim/config.toml, seen only by the program
under test: a private mount namespace binds the test's folder there (root is needed for
that, as for any write under /etc; this machine's tests run as root), so that other
programs on the machine never read it. Under Wine it is the prefix's real
%ProgramData%\\mapishim\\config.toml, and the policy is set with `wine reg add`."""

import os
from pathlib import Path

import pytest

from conftest import VCARDS, run

ETC = Path("/etc/mapishim")
LOCKED = "key `smtp` is locked by the machine configuration; the user's value is ignored"

MACHINE = (
    'locked = ["smtp"]\n'
    'backend = "smtp"\n'
    'from = "IT Desk <it@example.org>"\n'
    "[smtp]\n"
    'host = "mail.example.org"\n'
    "port = 587\n"
)
USER = (
    'from = "Me <me@example.org>"\n'
    "[smtp]\n"
    'host = "evil.example"\n'
    "[addressbook]\n"
    'vcard = ["contacts.vcf"]\n'
)


def with_etc_mapishim(machine_dir, cmd, env):
    """Runs `cmd` with `machine_dir` mounted on /etc/mapishim for it alone."""
    if os.geteuid() != 0:
        pytest.skip("binding a folder on /etc/mapishim needs root")
    ETC.mkdir(exist_ok=True)  # the mount point; empty for every other program
    script = 'mount --bind "$1" /etc/mapishim && shift && exec "$@"'
    return run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", machine_dir, *cmd], env=env, check=False)


def linux_env(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path / "home"))
    for name in ("MAPISHIM_CONFIG", "XDG_CONFIG_HOME", "MAPISHIM_LOG"):
        env.pop(name, None)
    return env


def test_etc_file_under_the_users_file_with_locked_smtp(dist, tmp_path):
    machine_dir = tmp_path / "etc-mapishim"
    machine_dir.mkdir()
    (machine_dir / "config.toml").write_text(MACHINE + f'[outbox]\ndir = "{tmp_path / "outbox"}"\n')
    user = tmp_path / "home" / ".config" / "mapishim" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text(USER + f'[log]\nfile = "{tmp_path / "mapishim.log"}"\n')
    (user.parent / "contacts.vcf").write_text(VCARDS)
    proc = with_etc_mapishim(machine_dir, [dist / "bin" / "mapishim", "config", "check"], linux_env(tmp_path))
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "config:        /etc/mapishim/config.toml (machine)\n" in out, out
    assert f"config:        {user}\n" in out, out
    # The merge: the server from the machine file, the sender and address book from the user's.
    assert "source:        smtp.host = machine (/etc/mapishim/config.toml:5)\n" in out, out
    assert "source:        smtp.port = machine (/etc/mapishim/config.toml:6)\n" in out, out
    assert "source:        backend = machine (/etc/mapishim/config.toml:2)\n" in out, out
    assert f"source:        from = user ({user}:1)\n" in out, out
    assert f"source:        addressbook.vcard = user ({user}:5)\n" in out, out
    assert "source:        imap = default\n" in out, out
    assert "mail.example.org" in out and "evil.example" not in out, out
    # `locked`: the user's [smtp] is refused, and said so.
    assert "locked:        smtp\n" in out, out
    assert f"refused:       {user}:2: {LOCKED}\n" in out, out
    # Nothing of the machine file leaks to a program outside the namespace.
    assert not (ETC / "config.toml").exists()


def test_etc_file_errors_name_the_etc_file(dist, tmp_path):
    machine_dir = tmp_path / "etc-mapishim"
    machine_dir.mkdir()
    (machine_dir / "config.toml").write_text('[smtp]\nhost = "h"\nport = "many"\n')
    proc = with_etc_mapishim(machine_dir, [dist / "bin" / "mapishim", "config", "check"], linux_env(tmp_path))
    assert proc.returncode != 0
    assert "/etc/mapishim/config.toml:3: invalid type" in proc.stderr, proc.stderr
    # `locked` in the user's file is an error on its line.
    (machine_dir / "config.toml").write_text(MACHINE)
    user = tmp_path / "home" / ".config" / "mapishim" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text('\nlocked = ["smtp"]\n')
    proc = with_etc_mapishim(machine_dir, [dist / "bin" / "mapishim", "config", "check"], linux_env(tmp_path))
    assert proc.returncode != 0
    assert f"{user}:2: key `locked`: `locked` belongs in the machine file" in proc.stderr, proc.stderr
