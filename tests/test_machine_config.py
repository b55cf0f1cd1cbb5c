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
import shutil
from pathlib import Path

import pytest

from conftest import VCARDS, require_wine, run
from test_windows import wine, wine8_ready  # noqa: F401 (a fixture)

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
    created = not ETC.exists()
    ETC.mkdir(exist_ok=True)  # the mount point; empty for every other program
    script = 'mount --bind "$1" /etc/mapishim && shift && exec "$@"'
    try:
        return run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", machine_dir, *cmd], env=env, check=False)
    finally:
        if created:
            ETC.rmdir()


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


# ---- Windows, under Wine -----------------------------------------------------------------

POLICY = r"HKLM\SOFTWARE\Policies\mapishim"
USER_POLICY = r"HKCU\SOFTWARE\Policies\mapishim"


@pytest.fixture
def wine_files(wine8_ready):  # noqa: F811 (the imported fixture)
    """The prefix's real machine file, user file and policy values, removed afterwards so
    that other tests in the shared prefix see none of them."""
    drive_c = wine8_ready / "drive_c"
    users = [p for p in (drive_c / "users").iterdir() if (p / "AppData" / "Roaming").is_dir()]
    assert len(users) == 1, users
    paths = {
        "machine": drive_c / "ProgramData" / "mapishim" / "config.toml",
        "user": users[0] / "AppData" / "Roaming" / "mapishim" / "config.toml",
        "policy": drive_c / "ProgramData" / "policy-share" / "mapishim.toml",
        "user_name": users[0].name,
    }
    yield wine8_ready, paths
    for key in (POLICY, USER_POLICY):
        wine(wine8_ready, "reg", "delete", key, "/f", check=False)
    for key in ("machine", "user", "policy"):
        shutil.rmtree(paths[key].parent, ignore_errors=True)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def config_check(windows_dist, prefix, arch="x64"):
    proc = wine(prefix, windows_dist / arch / "mapishim.exe", "config", "check", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.replace("\r\n", "\n")


def test_wine_programdata_file_locked_and_policy(windows_dist, wine_files):
    prefix, paths = wine_files
    home = rf"C:\users\{paths['user_name']}\AppData\Roaming\mapishim\config.toml"
    write(paths["machine"], MACHINE)
    write(paths["user"], USER)
    write(paths["user"].with_name("contacts.vcf"), VCARDS)
    out = config_check(windows_dist, prefix)
    assert "config:        C:\\ProgramData\\mapishim\\config.toml (machine)\n" in out, out
    assert f"config:        {home}\n" in out, out
    assert "source:        smtp.host = machine (C:\\ProgramData\\mapishim\\config.toml:5)\n" in out, out
    assert f"source:        from = user ({home}:1)\n" in out, out
    assert f"refused:       {home}:2: {LOCKED}\n" in out, out

    # The policy names a file (REG_EXPAND_SZ, expanded) that takes the machine file's place.
    write(paths["policy"], 'backend = "smtp"\n[smtp]\nhost = "policy.example.org"\n')
    policy_value = r"%ProgramData%\policy-share\mapishim.toml"
    wine(prefix, "reg", "add", POLICY, "/v", "ConfigFile", "/t", "REG_EXPAND_SZ", "/d", policy_value, "/f")
    out = config_check(windows_dist, prefix)
    named = r"C:\ProgramData\policy-share\mapishim.toml"
    assert f"config:        {named} (policy, named by {POLICY}\\ConfigFile; in place of the machine file)\n" in out, out
    assert "ProgramData\\mapishim\\config.toml" not in out, out
    assert f"source:        smtp.host = user ({home}:3)\n" in out, out  # nothing locked now
    assert f"source:        backend = policy ({named}:1)\n" in out, out
    assert f"source:        from = user ({home}:1)\n" in out, out

    # HKCU alone is read too; with both set, the machine policy wins (Group Policy's rule).
    write(paths["policy"].with_name("user.toml"), 'from = "Policy User <pu@example.org>"\n')
    user_value = str(paths["policy"].with_name("user.toml")).replace(str(prefix / "drive_c"), "C:").replace("/", "\\")
    wine(prefix, "reg", "add", USER_POLICY, "/v", "ConfigFile", "/t", "REG_SZ", "/d", user_value, "/f")
    out = config_check(windows_dist, prefix)
    assert f"config:        {named} (policy, named by {POLICY}\\ConfigFile;" in out, out
    wine(prefix, "reg", "delete", POLICY, "/f")
    out = config_check(windows_dist, prefix)
    assert f"config:        {user_value} (policy, named by {USER_POLICY}\\ConfigFile;" in out, out

    # A policy file that cannot be read stops the configuration: no silent fallback.
    wine(prefix, "reg", "add", POLICY, "/v", "ConfigFile", "/t", "REG_SZ", "/d", r"\\nosuchserver\share\mapishim.toml", "/f")
    proc = wine(prefix, windows_dist / "x64" / "mapishim.exe", "config", "check", check=False)
    assert proc.returncode != 0
    assert r"\\nosuchserver\share\mapishim.toml: cannot read" in proc.stderr, proc.stderr


def test_wine32_reads_the_same_machine_file_and_policy(windows_dist, wine_files):
    """A 32-bit program sees the same %ProgramData% and the same HKLM policy key (not a
    WOW64-redirected copy)."""
    require_wine("wine32")
    prefix, paths = wine_files
    write(paths["machine"], MACHINE)
    out = config_check(windows_dist, prefix, "x86")
    assert "source:        smtp.host = machine (C:\\ProgramData\\mapishim\\config.toml:5)\n" in out, out
    write(paths["policy"], 'backend = "smtp"\n[smtp]\nhost = "policy.example.org"\n')
    wine(prefix, "reg", "add", POLICY, "/v", "ConfigFile", "/t", "REG_SZ", "/d", r"C:\ProgramData\policy-share\mapishim.toml", "/f")
    out = config_check(windows_dist, prefix, "x86")
    assert f"(policy, named by {POLICY}\\ConfigFile; in place of the machine file)\n" in out, out
    assert "source:        smtp.host = policy (C:\\ProgramData\\policy-share\\mapishim.toml:3)\n" in out, out
