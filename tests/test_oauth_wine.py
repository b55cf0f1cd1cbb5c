"""OAuth2 in the Windows build, under Wine (issue 12): `mapishim.exe auth login` stores the
tokens with DPAPI (the file never holds a token in the clear, and only the Windows account
that wrote it can read it back), and the x64 mapi32.dll sends with XOAUTH2, refreshing a
token the server stopped accepting — against the same loopback stand-ins as
tests/test_oauth.py."""

import json
import os

import pytest
from conftest import C_DIR, Runner, require_wine, run_unpiped, wine_env, wine_program
from oauth_server import OAuthServer
from oauth_smtp import OAuthSmtp, tls_context
from test_oauth import ACCOUNT, assert_no_secret_in, mapishim, oauth_config, secrets_of, spooled, subjects, token_file


@pytest.fixture(scope="module")
def wine_sends(windows_dist, wine_prefix, build_dir):
    require_wine("wine64")
    exe = wine_program("wine64", windows_dist, build_dir, C_DIR / "session_sends.c", "session_sends")
    return Runner("wine64", exe, prefix=["wine"], env=wine_env(wine_prefix))


@pytest.fixture(scope="module")
def wine_cli(windows_dist, wine_prefix, build_dir):
    """mapishim.exe in a folder of its own with the Wine 8 bcryptprimitives forwarder."""
    app = build_dir / "wine64-cli"
    app.mkdir(exist_ok=True)
    for name, source in (("mapishim.exe", "mapishim.exe"), ("bcryptprimitives.dll", "wine/bcryptprimitives.dll")):
        (app / name).write_bytes((windows_dist / "x64" / source).read_bytes())
    return Runner("wine64", app / "mapishim.exe", prefix=["wine"], env=wine_env(wine_prefix, overrides=""))


def wine_mapishim(cli, setup, *args, timeout=120, **extra):
    # A browser that does not exist: the device flow then only prints the URL and code.
    env = setup.env(cli, BROWSER="no-such-browser.exe", **extra)
    return run_unpiped([*cli.prefix, cli.exe, *args], env, timeout)


def wine_send(runner, setup, rounds=1, pause_ms=0):
    proc = run_unpiped([*runner.prefix, runner.exe, 1, rounds, pause_ms, "SMTP:to@example.org"], setup.env(runner), 180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [int(line[3:]) for line in proc.stdout.splitlines() if line.startswith("rc=")]


def test_wine_login_stores_tokens_with_dpapi_and_sends_with_xoauth2(dist, wine_cli, wine_sends, setup, tmp_path):
    ca_file, context = tls_context(tmp_path)
    # Tokens announce an hour but stop working after 5 s: the second send must refresh.
    with OAuthServer(pending_polls=1, interval=1, valid_for=5) as oauth, OAuthSmtp(context, introspect_url=oauth.introspect_url) as smtp:
        smtp.handler.close_after_data = True
        oauth_config(setup, oauth, smtp.port, ca_file, timeout=30)
        done = wine_mapishim(wine_cli, setup, "auth", "login")
        assert done.returncode == 0, done.stdout + done.stderr
        [device] = oauth.devices.values()
        assert device.user_code in done.stdout and f"signed in as {ACCOUNT}" in done.stdout
        assert "could not open a browser" in done.stdout, "the device flow tried the configured browser"
        assert oauth.violations == []

        stored = token_file(setup).read_bytes()
        for secret in secrets_of(oauth):
            assert secret.encode() not in stored, "a token is in the file in the clear"
        with pytest.raises(ValueError):
            json.loads(stored.decode("latin-1"))
        # A DPAPI blob: version 1, then Windows' provider GUID or, from Wine's crypt32, its marker.
        assert stored[:4] == b"\x01\x00\x00\x00", stored[:20].hex()
        assert stored[4:20] in (bytes.fromhex("d08c9ddf0115d1118c7a00c04fc297eb"), b"Wine Crypt32 ok\x00"), stored[:20]

        status = wine_mapishim(wine_cli, setup, "auth", "status")
        assert status.returncode == 0 and "signed in:     yes" in status.stdout, status.stdout + status.stderr
        # The Linux build reads the same file as it is: to it the sealed file is no sign-in.
        linux = mapishim(dist, setup, "auth", "status")
        assert "signed in:     yes" not in linux.stdout, linux.stdout

        codes = wine_send(wine_sends, setup, rounds=2, pause_ms=6000)
        assert codes == [0, 0]
        assert oauth.violations == [] and smtp.handler.violations == []
        attempts = [(a.mechanism, a.user, a.accepted) for a in smtp.handler.attempts]
        assert attempts == [("XOAUTH2", ACCOUNT, True), ("XOAUTH2", ACCOUNT, False), ("XOAUTH2", ACCOUNT, True)]
        assert len(oauth.grants("refresh_token")) == 1
        assert sorted(subjects(smtp)) == ["Subject: session 1 round 1", "Subject: session 1 round 2"], "no loss, no duplicate"
        rotated = token_file(setup).read_bytes()
        assert rotated != stored and rotated[:4] == b"\x01\x00\x00\x00", "the rotated token was sealed again"
        for secret in secrets_of(oauth):
            assert secret.encode() not in rotated
        assert_no_secret_in(setup.log.read_text(errors="replace"), oauth, "the log")
    assert spooled(setup) == []
