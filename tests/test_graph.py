"""The Microsoft Graph backend (issue 12): `backend = "graph"` sends the caller's message as
MIME through `POST /me/sendMail`, large ones as a draft with upload sessions, refreshes a
token Graph refuses (401), waits for `Retry-After` or spools (429), and keeps a failed copy
of what Graph refuses (403) — against a Graph stand-in and the OAuth2 stand-in on loopback.
Both record what they received and list protocol violations, which every test asserts
empty."""

import re

import pytest
from conftest import C_DIR, Runner, parse, require_wine, run_unpiped, send, wine_env, wine_program
from graph_standin import CHUNK_UNIT, GraphStandin
from oauth_server import OAuthServer
from test_oauth import ACCOUNT, assert_no_secret_in, login, mapishim, spooled, token_file

GRAPH_SCOPES = '["https://graph.microsoft.com/Mail.Send", "offline_access"]'


def graph_config(setup, oauth, graph, save_to_sent=True, timeout=5, backend="graph", on_failure="spool"):
    setup.write_config(
        text=(
            f'backend = "{backend}"\nfrom = "Accounts <{ACCOUNT}>"\non_failure = "{on_failure}"\n'
            '[outbox]\ndir = {outbox}\n[log]\nfile = {log}\nlevel = "debug"\n'
            f'[graph]\nendpoint = "{graph.endpoint}"\nsave_to_sent = {str(save_to_sent).lower()}\ntimeout_secs = {timeout}\n'
            f'[oauth2]\nclient_id = "{oauth.client_id}"\nflow = "device"\nscopes = {GRAPH_SCOPES}\n'
            f'device_authorization_url = "{oauth.device_authorization_url}"\n'
            f'authorization_url = "{oauth.authorization_url}"\n'
            f'token_url = "{oauth.token_url}"\n'
            "token_file = {path:" + str(token_file(setup)) + "}\n"
        )
    )


def linux(linux_sender):
    return Runner("linux", linux_sender)


def graph_send(runner, setup, *args):
    codes, proc = send(runner, setup, "--to", "SMTP:to@example.org", *args)
    return codes


def normalized(raw):
    """What differs between two renderings of the same call: Message-ID, Date, boundaries."""
    raw = re.sub(rb"(?m)^(Message-ID|Date): .*\r\n", rb"\1: X\r\n", raw)
    for boundary in set(re.findall(rb'boundary="([^"]+)"', raw)):
        raw = raw.replace(boundary, b"BOUNDARY")
    return raw


@pytest.fixture
def oauth():
    with OAuthServer(pending_polls=0) as server:
        yield server


@pytest.fixture
def graph(oauth):
    with GraphStandin(oauth) as server:
        yield server


def assert_clean(oauth, graph):
    assert oauth.violations == [] and graph.violations == []


NAMES = ["--to-named", 'Anna Müller, "Sales"::SMTP:anna@example.org', "--cc", "SMTP:cc@example.org", "--bcc", "SMTP:hidden@example.org"]


def test_mime_send_is_the_outbox_rendering_byte_for_byte(dist, linux_sender, setup, oauth, graph):
    args = [*NAMES, "--subject", "Grüße, Rechnung 7", "--body", "Hallo\r\nZeile 2", "--make-attach", "Bericht é.pdf::%PDF-1.4 x"]
    graph_config(setup, oauth, graph, backend="outbox")
    codes, _ = send(linux(linux_sender), setup, *args)
    assert codes == [0]
    [stored] = setup.files()
    outbox_rendering = stored.read_bytes()
    stored.unlink()

    graph_config(setup, oauth, graph)
    login(dist, setup)
    codes, _ = send(linux(linux_sender), setup, *args)
    assert codes == [0], setup.log.read_text()
    assert_clean(oauth, graph)
    [sent] = graph.sent
    assert sent.via == "sendMail" and sent.attachments == []
    assert normalized(sent.mime) == normalized(outbox_rendering)
    # Bcc reaches Graph (Exchange delivers to it and strips it); the token never reaches the log.
    assert b"Bcc: <hidden@example.org>" in sent.mime or b"Bcc: hidden@example.org" in sent.mime
    assert graph.tokens_seen and all(oauth.is_active(t) for t in graph.tokens_seen)
    assert spooled(setup) == []
    assert_no_secret_in(setup.log.read_text(), oauth, "the log")


def test_large_attachment_goes_through_an_upload_session(dist, linux_sender, setup, oauth, graph):
    big = bytes(range(256)) * (10 * 1024 * 1024 // 256)  # 10 MiB
    small = b"small attachment\r\n" * 1000
    (setup.root / "big.bin").write_bytes(big)
    (setup.root / "small.txt").write_bytes(small)
    graph_config(setup, oauth, graph, timeout=30)
    login(dist, setup)
    codes, _ = send(linux(linux_sender), setup, "--to", "SMTP:to@example.org", "--subject", "big", "--body", "see attached",
                    "--attach", f"{setup.root / 'big.bin'}::Scan 2026.bin", "--attach", f"{setup.root / 'small.txt'}::notes.txt")
    assert codes == [0], setup.log.read_text()
    assert_clean(oauth, graph)
    [sent] = graph.sent
    assert sent.via == "draft"
    assert [(name, data == big) for name, _, data in sent.attachments] == [("Scan 2026.bin", True)]
    [upload] = graph.uploads.values()
    assert all(c % CHUNK_UNIT == 0 for c in upload.chunks[:-1]) and len(upload.chunks) > 1
    # What stayed in the MIME: the body and the small attachment, intact.
    import email
    import email.policy

    left = email.message_from_bytes(sent.mime, policy=email.policy.default)
    parts = [(p.get_filename(), p.get_content()) for p in left.iter_attachments()]
    assert parts == [("notes.txt", small.decode())]
    assert left.get_body(("plain",)).get_content().strip() == "see attached"
    assert graph.drafts == {} and spooled(setup) == []


def test_save_to_sent_false_marks_the_draft_delete_after_submit(dist, linux_sender, setup, oauth, graph):
    graph_config(setup, oauth, graph, save_to_sent=False)
    login(dist, setup)
    assert graph_send(linux(linux_sender), setup, "--subject", "no copy") == [0]
    assert_clean(oauth, graph)
    [sent] = graph.sent
    assert sent.via == "draft" and sent.properties == [{"id": "Boolean 0x0E01", "value": "true"}]


def test_refused_token_is_refreshed_once(dist, linux_sender, setup, oauth, graph):
    graph_config(setup, oauth, graph)
    login(dist, setup)
    oauth.expire_access_tokens()  # Graph now answers 401 to the stored token
    assert graph_send(linux(linux_sender), setup, "--subject", "after 401") == [0]
    assert_clean(oauth, graph)
    assert len(oauth.grants("refresh_token")) == 1
    statuses = [r.path for r in graph.requests]
    assert statuses == ["/v1.0/me/sendMail", "/v1.0/me/sendMail"], statuses
    assert len(graph.sent) == 1


def test_revoked_sign_in_is_a_login_failure_not_spooled(dist, linux_sender, setup, oauth, graph):
    graph_config(setup, oauth, graph)
    login(dist, setup)
    oauth.revoke_refresh_tokens()
    oauth.expire_access_tokens()
    assert graph_send(linux(linux_sender), setup, "--subject", "revoked") == [3]
    assert graph.sent == [] and spooled(setup) == []
    log = setup.log.read_text()
    assert "invalid_grant" in log and "mapishim auth login" in log
    assert_no_secret_in(log, oauth, "the log")


def test_retry_after_within_the_timeout_is_waited_for(dist, linux_sender, setup, oauth, graph):
    graph_config(setup, oauth, graph, timeout=10)
    login(dist, setup)
    graph.fail(r"/sendMail$", 429, headers=[("Retry-After", "1")], body={"error": {"code": "ApplicationThrottled", "message": "slow down"}})
    assert graph_send(linux(linux_sender), setup, "--subject", "throttled") == [0]
    assert_clean(oauth, graph)
    assert len(graph.sent) == 1 and spooled(setup) == []
    assert "Retry-After" in setup.log.read_text()


def test_throttled_beyond_the_timeout_is_spooled_and_flushed_through_graph(dist, linux_sender, setup, oauth, graph):
    graph_config(setup, oauth, graph, timeout=3)
    login(dist, setup)
    graph.fail(r"/sendMail$", 429, headers=[("Retry-After", "60")], body={"error": {"code": "ApplicationThrottled", "message": "slow down"}})
    assert graph_send(linux(linux_sender), setup, "--subject", "later", "--bcc", "SMTP:hidden@example.org") == [0]
    [spool_file] = spooled(setup)
    stored = spool_file.read_bytes()
    assert graph.sent == []
    flushed = mapishim(dist, setup, "outbox", "flush")
    assert flushed.returncode == 0, flushed.stdout + flushed.stderr
    assert "1 delivered, 0 failed, 0 remaining" in flushed.stdout
    assert_clean(oauth, graph)
    [sent] = graph.sent
    assert sent.mime == stored, "the spooled message goes to Graph as stored"
    assert b"hidden@example.org" in sent.mime, "the spooled Bcc reaches Graph"
    assert spooled(setup) == []


def test_throttled_with_on_failure_error_is_23_and_nothing_is_kept(dist, linux_sender, setup, oauth, graph):
    graph_config(setup, oauth, graph, timeout=2, on_failure="error")
    login(dist, setup)
    graph.fail(r"/sendMail$", 503, headers=[("Retry-After", "30")], body={"error": {"code": "ServiceUnavailable", "message": "later"}})
    assert graph_send(linux(linux_sender), setup, "--subject", "now or never") == [23]
    assert_clean(oauth, graph)
    assert graph.sent == [] and setup.files() == []


@pytest.mark.parametrize("case", ["send-as", "recipients"])
def test_refusals_keep_a_failed_copy_with_graphs_reason(dist, linux_sender, setup, oauth, graph, case):
    code, expected = {"send-as": ("ErrorSendAsDenied", 2), "recipients": ("ErrorInvalidRecipients", 14)}[case]
    graph_config(setup, oauth, graph)
    login(dist, setup)
    graph.fail(r"/sendMail$", 403 if case == "send-as" else 400, body={"error": {"code": code, "message": "refused by the stand-in"}})
    assert graph_send(linux(linux_sender), setup, "--subject", "refused") == [expected]
    failed = setup.outbox / "failed"
    [copy] = sorted(failed.glob("*.eml"))
    assert parse(copy)["Subject"] == "refused"
    assert code in copy.with_suffix(".reason").read_text()
    assert graph.sent == [] and [p for p in spooled(setup) if p.parent == setup.outbox] == []


def test_config_check_reports_the_graph_backend(dist, setup, oauth, graph):
    graph_config(setup, oauth, graph, save_to_sent=False)
    check = mapishim(dist, setup, "config", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "backend:       graph" in check.stdout
    assert f"graph:         {graph.endpoint} (preset microsoft365), token from token file {token_file(setup)}, no copy in Sent Items" in check.stdout
    assert "signed in:     no" in check.stdout


@pytest.mark.wine
def test_wine_x64_dll_sends_through_graph(windows_dist, wine_prefix, build_dir, setup, oauth, graph):
    from test_oauth_wine import wine_mapishim

    require_wine("wine64")
    app = build_dir / "wine64-graph-cli"
    app.mkdir(exist_ok=True)
    for name, source in (("mapishim.exe", "mapishim.exe"), ("bcryptprimitives.dll", "wine/bcryptprimitives.dll")):
        (app / name).write_bytes((windows_dist / "x64" / source).read_bytes())
    cli = Runner("wine64", app / "mapishim.exe", prefix=["wine"], env=wine_env(wine_prefix, overrides=""))
    exe = wine_program("wine64", windows_dist, build_dir, C_DIR / "mapi_send.c", "mapi_send")
    runner = Runner("wine64", exe, prefix=["wine"], env=wine_env(wine_prefix))
    graph_config(setup, oauth, graph, timeout=30)
    done = wine_mapishim(cli, setup, "auth", "login")
    assert done.returncode == 0, done.stdout + done.stderr
    oauth.expire_access_tokens()  # the DLL must refresh on Graph's 401
    proc = run_unpiped([*runner.prefix, runner.exe, "--to", "SMTP:to@example.org", "--subject", "from Wine", "--make-attach", "a.txt::hello"], setup.env(runner), 180)
    assert proc.returncode == 0 and "rc=0" in proc.stdout, proc.stdout + proc.stderr + setup.log.read_text()
    assert_clean(oauth, graph)
    [sent] = graph.sent
    assert b"Subject: from Wine" in sent.mime and b"a.txt" in sent.mime
    assert len(oauth.grants("refresh_token")) == 1


@pytest.mark.parametrize("provider", ["microsoft365", "outlook.com"])
def test_config_init_for_graph_passes_config_check(dist, setup, provider):
    config = setup.root / "new" / "config.toml"
    done = mapishim(dist, setup, "config", "init", "--provider", provider, "--address", ACCOUNT, "--client-id", "my-app-id", "--backend", "graph", MAPISHIM_CONFIG=config)
    assert done.returncode == 0, done.stdout + done.stderr
    text = config.read_text()
    assert 'backend = "graph"' in text and f'provider = "{provider}"' in text and "Mail.Send" in text
    check = mapishim(dist, setup, "config", "check", MAPISHIM_CONFIG=config)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "graph:         https://graph.microsoft.com/v1.0 (preset " + provider + ")" in check.stdout
    assert "https://graph.microsoft.com/Mail.Send offline_access" in check.stdout
    assert ("/consumers/" if provider == "outlook.com" else "/common/") in check.stdout
    assert "warning" not in check.stdout and config.read_text() == text


def test_config_init_refuses_graph_for_gmail(dist, setup):
    config = setup.root / "new" / "config.toml"
    done = mapishim(dist, setup, "config", "init", "--provider", "gmail", "--address", ACCOUNT, "--backend", "graph", MAPISHIM_CONFIG=config)
    assert done.returncode != 0 and "Microsoft 365 and Outlook.com" in done.stderr and not config.exists()
