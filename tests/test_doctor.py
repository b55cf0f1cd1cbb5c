"""`mapishim doctor` (issue 15): each check a send depends on, against real servers on
loopback (aiosmtpd with STARTTLS and AUTH) and the OAuth2 stand-in; every failure names its
fix, `--json` is parsed, and the exit status is 0 only when every check passed."""

import datetime
import json
import os
import ssl
import subprocess

import trustme
from oauth_server import OAuthServer
from smtp_server import Server, free_port

USER, PASSWORD = "accounts@example.org", "s3cret"


def doctor(dist, setup, *args, **env):
    proc = subprocess.run(
        [dist / "bin" / "mapishim", "doctor", "--json", *args], env=setup.env(**env), capture_output=True, text=True, timeout=60
    )
    report = json.loads(proc.stdout)
    assert report["ok"] == (proc.returncode == 0), proc.stdout
    return proc.returncode, {c["check"]: c for c in report["checks"]}


def smtp_config(setup, port, ca_file=None, extra="", password=True):
    setup.write_config(
        text=(
            f'backend = "smtp"\nfrom = "Accounts <{USER}>"\n[outbox]\ndir = {{outbox}}\n[log]\nfile = {{log}}\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "starttls"\ntimeout_secs = 5\n'
            f'username = "{USER}"\n'
            + ('password_env = "MAPISHIM_SMTP_PASSWORD"\n' if password else "")
            + ("ca_file = {path:" + str(ca_file) + "}\n" if ca_file else "")
            + extra
        )
    )


def tls(tmp_path, expired=False):
    ca = trustme.CA()
    if expired:
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)
        cert = ca.issue_cert("127.0.0.1", not_before=past - datetime.timedelta(days=30), not_after=past)
    else:
        cert = ca.issue_cert("127.0.0.1")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return ca_file, context


def failures(checks):
    return {name: c for name, c in checks.items() if c["status"] == "fail"}


def test_a_good_starttls_server_passes_every_check(dist, setup, tmp_path):
    ca_file, context = tls(tmp_path)
    with Server(starttls=context, auth=(USER, PASSWORD)) as server:
        smtp_config(setup, server.port, ca_file)
        rc, checks = doctor(dist, setup, MAPISHIM_SMTP_PASSWORD=PASSWORD)
    assert rc == 0 and failures(checks) == {}
    for name in ["configuration", "outbox folder", "smtp dns", "smtp tcp", "smtp tls and ehlo", "smtp certificate", "smtp auth", "spool"]:
        assert checks[name]["status"] == "pass", checks[name]
    assert "STARTTLS" in checks["smtp tls and ehlo"]["detail"] and "AUTH" in checks["smtp tls and ehlo"]["detail"]
    assert "valid for" in checks["smtp certificate"]["detail"]
    assert f"accepted as {USER}" in checks["smtp auth"]["detail"]
    assert server.messages == [], "the doctor sends nothing"


def test_a_wrong_password_fails_auth_and_names_the_fix(dist, setup, tmp_path):
    ca_file, context = tls(tmp_path)
    with Server(starttls=context, auth=(USER, PASSWORD)) as server:
        smtp_config(setup, server.port, ca_file)
        rc, checks = doctor(dist, setup, MAPISHIM_SMTP_PASSWORD="Wr0ng-Pa55")
    assert rc == 1 and list(failures(checks)) == ["smtp auth"]
    assert "535" in checks["smtp auth"]["detail"]
    assert "password" in checks["smtp auth"]["fix"]
    assert "Wr0ng-Pa55" not in json.dumps(checks), "the password never reaches the report"


def test_an_expired_certificate_fails_the_handshake(dist, setup, tmp_path):
    ca_file, context = tls(tmp_path, expired=True)
    with Server(starttls=context, auth=(USER, PASSWORD)) as server:
        smtp_config(setup, server.port, ca_file)
        rc, checks = doctor(dist, setup, MAPISHIM_SMTP_PASSWORD=PASSWORD)
    assert rc == 1 and list(failures(checks)) == ["smtp tls and ehlo"]
    failed = checks["smtp tls and ehlo"]
    assert "expired" in failed["detail"].lower()
    assert "certificate" in failed["fix"] and "ca_file" in failed["fix"]
    assert "smtp auth" not in checks, "nothing is tried after the first failing step"


def test_an_unreachable_host_fails_tcp(dist, setup):
    smtp_config(setup, free_port())
    rc, checks = doctor(dist, setup, MAPISHIM_SMTP_PASSWORD=PASSWORD)
    assert rc == 1 and list(failures(checks)) == ["smtp tcp"]
    assert "refused" in checks["smtp tcp"]["detail"].lower()
    assert "port" in checks["smtp tcp"]["fix"] and "firewall" in checks["smtp tcp"]["fix"]


def test_a_missing_token_says_to_sign_in(dist, setup, tmp_path):
    ca_file, context = tls(tmp_path)
    token_file = setup.root / "tokens" / "account.json"
    with OAuthServer() as oauth, Server(starttls=context) as server:
        smtp_config(
            setup,
            server.port,
            ca_file,
            extra=(
                'auth = "xoauth2"\n'
                f'[oauth2]\nclient_id = "{oauth.client_id}"\n'
                'scopes = ["https://outlook.office.com/SMTP.Send", "offline_access"]\n'
                f'device_authorization_url = "{oauth.device_authorization_url}"\n'
                f'token_url = "{oauth.token_url}"\n'
                "token_file = {path:" + str(token_file) + "}\n"
            ),
            password=False,
        )
        rc, checks = doctor(dist, setup)
    assert rc == 1 and "oauth2 token" in failures(checks)
    assert "mapishim auth login" in checks["oauth2 token"]["fix"]
    assert not token_file.exists()


def test_an_open_outbox_folder_fails_and_text_output_marks_it(dist, setup):
    setup.write_config()
    setup.outbox.mkdir(parents=True)
    os.chmod(setup.outbox, 0o755)
    rc, checks = doctor(dist, setup)
    assert rc == 1 and list(failures(checks)) == ["outbox folder"]
    assert checks["outbox folder"]["fix"] == f"chmod 700 {setup.outbox}"
    text = subprocess.run([dist / "bin" / "mapishim", "doctor"], env=setup.env(), capture_output=True, text=True, timeout=60)
    assert text.returncode == 1
    assert "FAIL  outbox folder" in text.stdout and f"fix: chmod 700 {setup.outbox}" in text.stdout
    os.chmod(setup.outbox, 0o700)
    assert doctor(dist, setup)[0] == 0
