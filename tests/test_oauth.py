"""OAuth2 accounts (issue 12): `mapishim config init`, `mapishim auth login|status|logout`
with the device and browser flows, and sends with XOAUTH2 and OAUTHBEARER, against an
OAuth2 authorization server stand-in and aiosmtpd on loopback. Both stand-ins record what
they received and list protocol violations, which every test asserts empty."""

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import C_DIR, ROOT, Runner, compile_c, run_unpiped
from oauth_server import Grant, OAuthServer
from oauth_smtp import OAuthSmtp, tls_context

ACCOUNT = "accounts@example.org"
BROWSER = ROOT / "tests" / "oauth_browser.py"


@pytest.fixture(scope="session")
def session_sends(dist, build_dir):
    return Runner("linux", compile_c(dist, build_dir, C_DIR / "session_sends.c", "session_sends"))


@pytest.fixture
def tls(tmp_path):
    return tls_context(tmp_path)


def token_file(setup):
    return setup.root / "tokens" / "account.json"


def oauth_config(setup, oauth, smtp_port=None, ca_file=None, auth="xoauth2", flow="device", smtp_extra="", oauth_section=True, timeout=10):
    """[smtp] with the microsoft365 preset, every preset key overridden for loopback."""
    smtp = (
        f'[smtp]\nprovider = "microsoft365"\nhost = "127.0.0.1"\nport = {smtp_port or 9}\nsecurity = "starttls"\n'
        f'username = "{ACCOUNT}"\nauth = "{auth}"\ntimeout_secs = {timeout}\n'
        + ("ca_file = {path:" + str(ca_file) + "}\n" if ca_file else "")
        + smtp_extra
    )
    section = ""
    if oauth_section:
        section = (
            f'[oauth2]\nclient_id = "{oauth.client_id}"\nflow = "{flow}"\n'
            'scopes = ["https://outlook.office.com/SMTP.Send", "offline_access"]\n'
            f'device_authorization_url = "{oauth.device_authorization_url}"\n'
            f'authorization_url = "{oauth.authorization_url}"\n'
            f'token_url = "{oauth.token_url}"\n'
            "token_file = {path:" + str(token_file(setup)) + "}\n"
        )
    setup.write_config(
        text=(
            f'backend = "smtp"\nfrom = "Accounts <{ACCOUNT}>"\n'
            '[outbox]\ndir = {outbox}\n[log]\nfile = {log}\nlevel = "debug"\n' + smtp + section
        )
    )


def mapishim(dist, setup, *args, timeout=60, **env):
    environment = setup.env(**env)
    environment.pop("DISPLAY", None)
    environment.pop("WAYLAND_DISPLAY", None)
    environment.setdefault("BROWSER", str(ROOT / "tests" / "no-browser-configured"))
    return subprocess.run([dist / "bin" / "mapishim", *args], env=environment, capture_output=True, text=True, timeout=timeout)


def login(dist, setup, **env):
    done = mapishim(dist, setup, "auth", "login", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def sends(runner, setup, sessions=1, rounds=1, pause_ms=0, timeout=60):
    proc = run_unpiped([runner.exe, sessions, rounds, pause_ms, "SMTP:to@example.org"], setup.env(runner), timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [int(line[3:]) for line in proc.stdout.splitlines() if line.startswith("rc=")]


def spooled(setup):
    return sorted(setup.outbox.rglob("*.eml")) if setup.outbox.exists() else []


def secrets_of(oauth):
    return list(oauth.issued_access) + list(oauth.refresh_tokens) + list(oauth.used_refresh_tokens)


def assert_no_secret_in(text, oauth, where):
    for secret in secrets_of(oauth):
        assert secret not in text, f"a token appears in {where}"


def subjects(smtp):
    return [next(line for line in m.data.split(b"\r\n") if line.startswith(b"Subject: ")).decode() for m in smtp.messages]


def test_device_login_status_check_logout(dist, setup):
    with OAuthServer(pending_polls=2, slow_down_at={3}, interval=1) as oauth:
        oauth_config(setup, oauth)
        done = login(dist, setup)
        [device] = oauth.devices.values()
        assert device.user_code in done.stdout and oauth.base + "/device" in done.stdout
        polls = [r for r in oauth.grants("urn:ietf:params:oauth:grant-type:device_code")]
        assert len(polls) == 4, "two pending, one slow_down, then the tokens"
        gaps = [b.at - a.at for a, b in zip(polls, polls[1:])]
        assert min(gaps) >= 0.9 and gaps[2] >= 5.9, f"polling honours interval and slow_down: {gaps}"
        assert oauth.violations == []
        path = token_file(setup)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert f"signed in as {ACCOUNT}" in done.stdout

        status = mapishim(dist, setup, "auth", "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert ACCOUNT in status.stdout and "SMTP.Send offline_access" in status.stdout
        assert "expires" in status.stdout and "signed in:     yes" in status.stdout

        check = mapishim(dist, setup, "config", "check")
        assert check.returncode == 0, check.stdout + check.stderr
        assert "auth xoauth2" in check.stdout and f"token file {path}" in check.stdout
        assert "signed in:     yes" in check.stdout and "expires" in check.stdout
        for out in (done.stdout + done.stderr, status.stdout, check.stdout):
            assert_no_secret_in(out, oauth, "the output")

        logout = mapishim(dist, setup, "auth", "logout")
        assert logout.returncode == 0 and not path.exists()
        status = mapishim(dist, setup, "auth", "status")
        assert status.returncode == 1 and "mapishim auth login" in status.stdout


@pytest.mark.parametrize("case", ["declined", "expired"])
def test_device_login_that_does_not_finish(dist, setup, case):
    options = dict(deny=True, pending_polls=0) if case == "declined" else dict(pending_polls=100, device_lifetime=3)
    with OAuthServer(**options) as oauth:
        oauth_config(setup, oauth)
        done = mapishim(dist, setup, "auth", "login")
        assert oauth.violations == []
    assert done.returncode != 0
    assert ("declined" if case == "declined" else "expired") in done.stderr
    assert not token_file(setup).exists()


def test_browser_login_with_pkce_and_state(dist, setup, tmp_path):
    visited = tmp_path / "browser.log"
    with OAuthServer() as oauth:
        oauth_config(setup, oauth, flow="browser")
        done = login(dist, setup, BROWSER=str(BROWSER), OAUTH_BROWSER_LOG=str(visited))
        assert oauth.violations == []
        [authorize] = [r for r in oauth.requests if r.path == "/authorize"]
        assert authorize.form["code_challenge_method"] == "S256" and authorize.form["login_hint"] == ACCOUNT
        [exchange] = oauth.grants("authorization_code")
        assert exchange.form["redirect_uri"] == authorize.form["redirect_uri"]
    urls = visited.read_text().split()
    assert urls[0].startswith(oauth.authorization_url) and urls[1].startswith("http://127.0.0.1:")
    assert token_file(setup).exists() and "signed in" in done.stdout


def test_browser_login_refuses_a_foreign_state(dist, setup, tmp_path):
    with OAuthServer() as oauth:
        oauth_config(setup, oauth, flow="browser")
        done = mapishim(dist, setup, "auth", "login", BROWSER=str(BROWSER), OAUTH_BROWSER_STATE="x" * 22)
        assert oauth.grants("authorization_code") == [], "the code of a foreign answer is not exchanged"
        assert oauth.violations == []
    assert done.returncode != 0 and "state" in done.stderr
    assert not token_file(setup).exists()


@pytest.mark.parametrize("auth", ["xoauth2", "oauthbearer"])
def test_send_refreshes_a_rejected_token_mid_session(dist, session_sends, setup, tls, auth):
    ca_file, context = tls
    # Tokens announce an hour but stop working after 2 s (as after a revocation).
    with OAuthServer(pending_polls=0, valid_for=2) as oauth, OAuthSmtp(context, introspect_url=oauth.introspect_url) as smtp:
        smtp.handler.close_after_data = True  # the second send needs a new AUTH
        oauth_config(setup, oauth, smtp.port, ca_file, auth=auth)
        login(dist, setup)
        first_refresh = oauth.refresh_tokens.copy()
        codes = sends(session_sends, setup, sessions=1, rounds=2, pause_ms=3000)
        assert codes == [0, 0]
        assert oauth.violations == [] and smtp.handler.violations == []
        attempts = [(a.mechanism, a.user, a.accepted) for a in smtp.handler.attempts]
        mech = auth.upper()
        assert attempts == [(mech, ACCOUNT, True), (mech, ACCOUNT, False), (mech, ACCOUNT, True)]
        assert smtp.handler.attempts[0].token == smtp.handler.attempts[1].token != smtp.handler.attempts[2].token
        assert len(oauth.grants("refresh_token")) == 1
        assert sorted(subjects(smtp)) == ["Subject: session 1 round 1", "Subject: session 1 round 2"], "no loss, no duplicate"
        status = mapishim(dist, setup, "auth", "status")
        assert status.returncode == 0
        assert not set(first_refresh) & set(oauth.refresh_tokens), "the rotated refresh token was stored"
        assert_no_secret_in(setup.log.read_text(), oauth, "the log")
    assert spooled(setup) == []


def test_revoked_refresh_token_is_a_login_failure_not_spooled(dist, session_sends, setup, tls):
    ca_file, context = tls
    with OAuthServer(pending_polls=0) as oauth, OAuthSmtp(context, introspect_url=oauth.introspect_url) as smtp:
        oauth_config(setup, oauth, smtp.port, ca_file)
        login(dist, setup)
        oauth.revoke_refresh_tokens()
        oauth.expire_access_tokens()
        assert sends(session_sends, setup) == [3]
        assert [r.form.get("grant_type") for r in oauth.requests if r.path == "/token"][-1] == "refresh_token"
        assert smtp.messages == [] and oauth.violations == [] and smtp.handler.violations == []
        log = setup.log.read_text()
        assert "invalid_grant" in log and "mapishim auth login" in log
        assert_no_secret_in(log, oauth, "the log")
    assert spooled(setup) == []


def test_no_sign_in_stored_is_a_login_failure(dist, session_sends, setup, tls):
    ca_file, context = tls
    with OAuthServer() as oauth, OAuthSmtp(context, introspect_url=oauth.introspect_url) as smtp:
        oauth_config(setup, oauth, smtp.port, ca_file)
        assert sends(session_sends, setup) == [3]
        assert smtp.handler.attempts == [] and oauth.requests == []
    assert "mapishim auth login" in setup.log.read_text() and spooled(setup) == []


def test_two_processes_refreshing_at_once_keep_the_newest_token(dist, session_sends, setup, tls):
    ca_file, context = tls
    # Lifetime under the 5-minute margin: every process refreshes before it sends. Used
    # refresh tokens are dead, so a process that loses the rotated one fails with 3.
    with OAuthServer(pending_polls=0, access_lifetime=60) as oauth, OAuthSmtp(context, introspect_url=oauth.introspect_url) as smtp:
        oauth_config(setup, oauth, smtp.port, ca_file)
        login(dist, setup)
        results = [None, None, None]

        def one(i):
            results[i] = sends(session_sends, setup)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [[0], [0], [0]]
        refreshes = oauth.grants("refresh_token")
        assert len(refreshes) == 3 and oauth.violations == []
        assert len(smtp.messages) == 3 and smtp.handler.violations == []
        # The file holds the one live refresh token: a later send still works.
        assert sends(session_sends, setup) == [0]
        assert len(oauth.refresh_tokens) == 1


@pytest.mark.parametrize("case", ["success", "failure", "empty", "hanging"])
def test_oauth2_token_command(session_sends, setup, tls, case):
    ca_file, context = tls
    with OAuthServer() as oauth, OAuthSmtp(context, introspect_url=oauth.introspect_url) as smtp:
        token = oauth.issue(Grant(oauth.client_id, "SMTP.Send", ACCOUNT), with_refresh=False)["access_token"]
        command = {
            "success": f'["printf", "  %s\\\\n", "{token}"]',
            "failure": '["sh", "-c", "echo no such account >&2; exit 2"]',
            "empty": '["printf", "\\\\n"]',
            "hanging": '["sleep", "20"]',
        }[case]
        oauth_config(setup, oauth, smtp.port, ca_file, smtp_extra=f"oauth2_token_command = {command}\n", oauth_section=False, timeout=3)
        started = time.monotonic()
        codes = sends(session_sends, setup)
        elapsed = time.monotonic() - started
        assert smtp.handler.violations == []
    if case == "success":
        assert codes == [0] and len(smtp.messages) == 1
        assert [(a.mechanism, a.token, a.accepted) for a in smtp.handler.attempts] == [("XOAUTH2", token, True)]
        assert token not in setup.log.read_text()
        return
    assert codes == [3] and smtp.messages == [] and smtp.handler.attempts == [] and spooled(setup) == []
    log = setup.log.read_text()
    assert {"failure": "no such account", "empty": "printed nothing", "hanging": "did not finish within 3 s"}[case] in log
    if case == "hanging":
        assert elapsed < 3 + 1, f"returned after {elapsed:.1f} s"


def test_basic_auth_disabled_names_the_fix(session_sends, setup, tls):
    ca_file, context = tls
    answer = "550 5.7.30 Basic authentication is not supported for Client Submission"
    with OAuthServer() as oauth, OAuthSmtp(context, password=(ACCOUNT, "pw"), plain_answer=answer) as smtp:
        oauth_config(setup, oauth, smtp.port, ca_file, auth="password", smtp_extra='password_env = "MAPISHIM_TEST_PW"\n', oauth_section=False)
        proc = run_unpiped([session_sends.exe, 1, 1, 0, "SMTP:to@example.org"], setup.env(session_sends, MAPISHIM_TEST_PW="pw"), 60)
        assert "rc=3" in proc.stdout, proc.stdout + proc.stderr
        assert smtp.messages == []
    log = setup.log.read_text()
    assert "5.7.30" in log and ('auth = "xoauth2"' in log or 'auth = \\"xoauth2\\"' in log)
    assert spooled(setup) == []


PRESETS = {
    "microsoft365": ("smtp.office365.com", "device"),
    "outlook.com": ("smtp-mail.outlook.com", "device"),
    "gmail": ("smtp.gmail.com", "browser"),
}


@pytest.mark.parametrize("provider", sorted(PRESETS))
def test_config_init_per_preset_passes_config_check(dist, setup, provider):
    config = setup.root / "new" / "config.toml"
    done = mapishim(dist, setup, "config", "init", "--provider", provider, "--address", ACCOUNT, "--client-id", "my-app-id", MAPISHIM_CONFIG=config)
    assert done.returncode == 0, done.stdout + done.stderr
    text = config.read_text()
    assert f'provider = "{provider}"' in text and 'client_id = "my-app-id"' in text
    check = mapishim(dist, setup, "config", "check", MAPISHIM_CONFIG=config)
    assert check.returncode == 0, check.stdout + check.stderr
    host, flow = PRESETS[provider]
    assert f"smtp:          {host}:587" in check.stdout and "auth xoauth2" in check.stdout
    assert f"flow {flow}" in check.stdout and "signed in:     no" in check.stdout
    assert "warning" not in check.stdout
    assert config.read_text() == text, "config check changes nothing"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_config_init_keeps_a_backup_and_needs_force(dist, setup):
    config = setup.root / "mine.toml"
    old = 'backend = "outbox"\n# the own file of the user\n'
    config.write_text(old)
    run = lambda *args: mapishim(dist, setup, *args, MAPISHIM_CONFIG=config)
    refused = run("config", "init", "--provider", "gmail", "--address", ACCOUNT)
    assert refused.returncode != 0 and "--force" in refused.stderr and config.read_text() == old
    done = run("config", "init", "--host", "mail.example.org", "--address", ACCOUNT, "--force")
    assert done.returncode == 0, done.stderr
    assert Path(str(config) + ".bak").read_text() == old
    check = run("config", "check")
    assert check.returncode == 0 and "mail.example.org:587" in check.stdout, check.stdout + check.stderr
    placeholder = run("config", "init", "--provider", "microsoft365", "--address", ACCOUNT, "--force")
    assert placeholder.returncode == 0 and "client ID" in placeholder.stdout
    check = run("config", "check")
    assert check.returncode == 0 and "placeholder" in check.stdout, check.stdout
    assert Path(str(config) + ".bak.1").exists()
