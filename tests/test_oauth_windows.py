"""OAuth2 in the Windows build under Wine (issue 12): `mapishim.exe auth login` stores the
tokens sealed with DPAPI (the file does not hold them in the clear), and the x64 DLL sends
with XOAUTH2 using them, against the same loopback stand-ins as tests/test_oauth.py."""

import shutil

from conftest import C_DIR, Runner, run_unpiped, wine_env, wine_program
from oauth_server import OAuthServer
from oauth_smtp import OAuthSmtp, tls_context
from test_oauth import ACCOUNT, oauth_config, secrets_of, token_file

# The CRYPTPROTECT provider GUID {df9d8cd0-1501-11d1-8c7a-00c04fc297eb} that opens every
# DPAPI blob, after its version field.
DPAPI_PROVIDER = bytes.fromhex("d08c9ddf0115d1118c7a00c04fc297eb")


def test_wine_x64_dpapi_token_file_and_xoauth2_send(windows_dist, wine_prefix, build_dir, setup, tmp_path):
    drive_c = wine_prefix / "drive_c"
    # Wine 8 needs the bcryptprimitives forwarder where mapishim.exe finds it.
    shutil.copy(windows_dist / "x64" / "wine" / "bcryptprimitives.dll", drive_c / "windows" / "system32")
    exe = wine_program("wine64", windows_dist, build_dir, C_DIR / "session_sends.c", "session_sends")
    runner = Runner("wine64", exe, prefix=["wine"], env=wine_env(wine_prefix))
    ca_file, context = tls_context(tmp_path)
    with OAuthServer(pending_polls=0, valid_for=3) as oauth, OAuthSmtp(context, introspect_url=oauth.introspect_url) as smtp:
        smtp.handler.close_after_data = True
        oauth_config(setup, oauth, smtp.port, ca_file)
        env = setup.env(runner)
        env.pop("DISPLAY", None)
        login = run_unpiped(["wine", windows_dist / "x64" / "mapishim.exe", "auth", "login"], env, timeout=180)
        assert login.returncode == 0, login.stdout + login.stderr
        assert f"signed in as {ACCOUNT}" in login.stdout

        raw = token_file(setup).read_bytes()
        assert raw[4:20] == DPAPI_PROVIDER, "the file is a DPAPI blob"
        for secret in secrets_of(oauth):
            assert secret.encode() not in raw, "no token in the clear"
        assert b"refresh_token" not in raw and ACCOUNT.encode() not in raw

        status = run_unpiped(["wine", windows_dist / "x64" / "mapishim.exe", "auth", "status"], env, timeout=180)
        assert status.returncode == 0 and "signed in:     yes" in status.stdout, status.stdout + status.stderr

        # Two sends 4 s apart: the first token has stopped working by the second.
        proc = run_unpiped([*runner.prefix, runner.exe, 1, 2, 4000, "SMTP:to@example.org"], env, timeout=180)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        codes = [int(line[3:]) for line in proc.stdout.splitlines() if line.startswith("rc=")]
        assert codes == [0, 0]
        assert [(a.mechanism, a.accepted) for a in smtp.handler.attempts] == [("XOAUTH2", True), ("XOAUTH2", False), ("XOAUTH2", True)]
        assert len(smtp.messages) == 2 and len(oauth.grants("refresh_token")) == 1
        assert oauth.violations == [] and smtp.handler.violations == []
        assert token_file(setup).read_bytes()[4:20] == DPAPI_PROVIDER, "the rotated tokens are sealed too"
