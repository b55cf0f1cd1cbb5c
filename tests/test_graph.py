"""The Microsoft Graph backend (issue 12): `backend = "graph"` sends the caller's message as
MIME through `POST /me/sendMail`, large ones as a draft with upload sessions, refreshes a
token Graph refuses (401), waits for `Retry-After` or spools (429), and keeps a failed copy
of what Graph refuses (403) — against a Graph stand-in and the OAuth2 stand-in on loopback.
Both record what they received and list protocol violations, which every test asserts
empty."""

import os
import re

import pytest
from conftest import C_DIR, Runner, parse, require_wine, run_unpiped, send, wine_env, wine_program
from graph_standin import CHUNK_UNIT, GraphStandin
from oauth_server import OAuthServer
from test_drafts import kept, opened, parsed
from test_oauth import ACCOUNT, assert_no_secret_in, login, mapishim, spooled, token_file

# What the microsoft365 preset asks for (the stand-in checks each request's permission).
GRAPH_SCOPES = '["https://graph.microsoft.com/Mail.Send", "https://graph.microsoft.com/Mail.ReadWrite", "offline_access"]'
SEND_ONLY = '["https://graph.microsoft.com/Mail.Send", "offline_access"]'


def graph_config(setup, oauth, graph, save_to_sent=True, timeout=5, backend="graph", on_failure="spool", sections="", scopes=GRAPH_SCOPES, endpoint=None):
    setup.write_config(
        text=(
            f'backend = "{backend}"\nfrom = "Accounts <{ACCOUNT}>"\non_failure = "{on_failure}"\n'
            '[outbox]\ndir = {outbox}\n[log]\nfile = {log}\nlevel = "debug"\n' + sections +
            f'[graph]\nendpoint = "{endpoint or graph.endpoint}"\nsave_to_sent = {str(save_to_sent).lower()}\ntimeout_secs = {timeout}\n'
            f'[oauth2]\nclient_id = "{oauth.client_id}"\nflow = "device"\nscopes = {scopes}\n'
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
    assert oauth.violations == [] and graph.violations == [] and graph.denied == []


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


def test_a_token_that_may_only_send_keeps_a_large_message_as_a_failed_copy(dist, linux_sender, setup, oauth, graph):
    # Graph answers 403 to a draft without Mail.ReadWrite: what the preset's scopes prevent.
    (setup.root / "big.bin").write_bytes(os.urandom(5 * 1024 * 1024))
    graph_config(setup, oauth, graph, timeout=30, scopes=SEND_ONLY)
    login(dist, setup)
    assert graph_send(linux(linux_sender), setup, "--subject", "small") == [0]
    assert graph_send(linux(linux_sender), setup, "--subject", "big", "--attach", str(setup.root / "big.bin")) == [2]
    assert [s.via for s in graph.sent] == ["sendMail"]
    assert graph.denied == ["POST /v1.0/me/messages: needs Mail.ReadWrite"]
    [copy] = sorted((setup.outbox / "failed").glob("*.eml"))
    assert parse(copy)["Subject"] == "big"
    assert "ErrorAccessDenied" in copy.with_suffix(".reason").read_text()
    assert graph.violations == []


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
    # Mail.ReadWrite for the drafts that large messages go through.
    assert "https://graph.microsoft.com/Mail.Send https://graph.microsoft.com/Mail.ReadWrite offline_access" in check.stdout
    assert ("/consumers/" if provider == "outlook.com" else "/common/") in check.stdout
    assert "warning" not in check.stdout and config.read_text() == text


def test_config_init_refuses_graph_for_gmail(dist, setup):
    config = setup.root / "new" / "config.toml"
    done = mapishim(dist, setup, "config", "init", "--provider", "gmail", "--address", ACCOUNT, "--backend", "graph", MAPISHIM_CONFIG=config)
    assert done.returncode != 0 and "Microsoft 365 and Outlook.com" in done.stderr and not config.exists()


# ---- [composer] kind = "drafts" with via = "graph" (issue 13) ---------------------------

DRAFT_SCOPES = '["https://graph.microsoft.com/Mail.Send", "https://graph.microsoft.com/Mail.ReadWrite", "offline_access"]'


def drafts_via_graph(setup, oauth, graph, open_line='open = "{weblink}"\n', **kwargs):
    """Dialog requests become Graph drafts; the URL opener is the recording stand-in."""
    from conftest import toml_string
    from test_composer import install_standin

    opener = install_standin(setup.root / "bin", "xdg-open")
    composer = f'[composer]\nkind = "drafts"\nvia = "graph"\n{open_line}program = {toml_string(str(opener))}\n'
    graph_config(setup, oauth, graph, backend="outbox", sections=composer, scopes=DRAFT_SCOPES, **kwargs)


def dialog(runner, setup, *args):
    from test_composer import MAPI_DIALOG, standin_env

    codes, _ = send(runner, setup, "--flags", str(MAPI_DIALOG), *args, **standin_env(setup, delay=0))
    return codes


def posts_to_messages(graph):
    return [r for r in graph.requests if r.method == "POST" and r.path == "/v1.0/me/messages"]


def test_dialog_via_graph_is_an_unsent_draft_from_the_mime_and_opens_its_weblink(dist, linux_sender, setup, oauth, graph):
    drafts_via_graph(setup, oauth, graph)
    login(dist, setup)
    content = "scanned page \u00e9\n" * 50
    codes = dialog(linux(linux_sender), setup, "--subject", "Scan 2026", "--body", "Please find the scan.", "--make-attach", "scan page.pdf::" + content)
    assert codes == [0], setup.log.read_text()
    assert_clean(oauth, graph)
    # Created once from the MIME, still in Drafts: neither sent nor deleted.
    [ident] = graph.created
    assert list(graph.drafts) == [ident] and graph.sent == [] and graph.deleted == []
    assert [r.path for r in graph.requests] == ["/v1.0/me/messages"]
    [post] = posts_to_messages(graph)
    assert {k.lower(): v for k, v in post.headers.items()}["content-type"].startswith("text/plain")
    draft = graph.drafts[ident]
    msg = parsed(draft.mime)
    assert msg["Subject"] == "Scan 2026" and msg["To"] is None
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n").strip() == "Please find the scan."
    [attachment] = list(msg.iter_attachments())
    assert (attachment.get_filename(), attachment.get_payload(decode=True)) == ("scan page.pdf", content.encode())
    assert draft.attachments == []
    # The opener got that very draft's webLink in place of {weblink}.
    assert draft.web_link.startswith("https://outlook.office365.com/owa/?ItemID=")
    assert opened(setup) == [[draft.web_link]]
    assert kept(setup) == [] and setup.files() == []
    log = setup.log.read_text()
    assert "draft created by Microsoft Graph" in log
    assert_no_secret_in(log, oauth, "the log")


def test_large_attachment_of_a_graph_draft_goes_through_an_upload_session(dist, linux_sender, setup, oauth, graph):
    big = bytes(range(256)) * (5 * 1024 * 1024 // 256)  # 5 MiB: over one request's 4 MB
    (setup.root / "big.bin").write_bytes(big)
    # No `open`: via = "graph" opens {weblink} by default.
    drafts_via_graph(setup, oauth, graph, open_line="", timeout=30)
    login(dist, setup)
    codes = dialog(linux(linux_sender), setup, "--subject", "big", "--body", "see attached", "--attach", f"{setup.root / 'big.bin'}::Scan 2026.bin", "--make-attach", "notes.txt::small")
    assert codes == [0], setup.log.read_text()
    assert_clean(oauth, graph)
    [ident] = graph.created
    draft = graph.drafts[ident]
    assert [(name, data == big) for name, _, data in draft.attachments] == [("Scan 2026.bin", True)]
    [upload] = graph.uploads.values()
    assert upload.draft == ident and len(upload.chunks) > 1
    assert all(c % CHUNK_UNIT == 0 for c in upload.chunks[:-1])
    left = parsed(draft.mime)
    assert [(p.get_filename(), p.get_content()) for p in left.iter_attachments()] == [("notes.txt", "small")]
    assert left["Subject"] == "big"
    assert graph.sent == [] and graph.deleted == []
    assert not any(r.path.endswith("/send") for r in graph.requests)
    assert opened(setup) == [[draft.web_link]]


@pytest.mark.parametrize("case", ["unreachable", "throttled", "upload-throttled"])
def test_graph_unavailable_is_23_kept_then_pushed_exactly_once(dist, linux_sender, setup, oauth, graph, case):
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{closed.getsockname()[1]}/v1.0"  # bound, never listening
    drafts_via_graph(setup, oauth, graph, timeout=2, endpoint=dead if case == "unreachable" else None)
    login(dist, setup)
    args = ["--subject", "offline draft", "--body", "b", "--make-attach", "a.txt::attached"]
    if case == "throttled":
        graph.fail(r"/me/messages$", 503, headers=[("Retry-After", "30")], body={"error": {"code": "ServiceUnavailable", "message": "later"}})
    if case == "upload-throttled":
        (setup.root / "big.bin").write_bytes(b"\x07" * (5 * 1024 * 1024))
        args += ["--attach", f"{setup.root / 'big.bin'}::big.bin"]
        graph.fail(r"/createUploadSession$", 429, headers=[("Retry-After", "30")], body={"error": {"code": "ApplicationThrottled", "message": "slow down"}})
    codes = dialog(linux(linux_sender), setup, *args)
    closed.close()
    assert codes == [23], setup.log.read_text()
    [path] = kept(setup)
    assert parsed(path.read_bytes())["Subject"] == "offline draft"
    assert "draft not stored on Microsoft Graph (" in setup.log.read_text()
    # A draft left half-made (its attachment not uploaded) is deleted: push makes the one.
    assert graph.drafts == {} and graph.sent == []
    assert graph.deleted == graph.created
    assert not (setup.root / "record.jsonl").exists(), "opened a draft that is not there"
    drafts_via_graph(setup, oauth, graph, timeout=30)
    first = mapishim(dist, setup, "drafts", "push")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1 uploaded, 0 kept" in first.stdout
    second = mapishim(dist, setup, "drafts", "push")
    assert second.returncode == 0 and "0 uploaded, 0 kept" in second.stdout, second.stdout
    assert_clean(oauth, graph)
    [draft] = graph.drafts.values()
    names = [a.get_filename() for a in parsed(draft.mime).iter_attachments()] + [n for n, _, _ in draft.attachments]
    assert sorted(names) == (["a.txt", "big.bin"] if case == "upload-throttled" else ["a.txt"])
    assert graph.sent == [] and kept(setup) == []
    assert not (setup.root / "record.jsonl").exists(), "drafts push must open nothing"


def test_refused_sign_in_is_3_and_the_draft_is_kept(dist, linux_sender, setup, oauth, graph):
    drafts_via_graph(setup, oauth, graph)
    login(dist, setup)
    oauth.revoke_refresh_tokens()
    oauth.expire_access_tokens()
    codes = dialog(linux(linux_sender), setup, "--subject", "kept", "--body", "b")
    assert codes == [3], setup.log.read_text()
    [path] = kept(setup)
    assert parsed(path.read_bytes())["Subject"] == "kept"
    assert path.stat().st_mode & 0o777 == 0o600
    assert graph.created == [] and graph.sent == []
    assert not (setup.root / "record.jsonl").exists()
    assert_no_secret_in(setup.log.read_text(), oauth, "the log")


def test_config_check_says_drafts_go_through_graph(dist, setup, oauth, graph):
    drafts_via_graph(setup, oauth, graph)
    check = mapishim(dist, setup, "config", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"composer:      drafts via Microsoft Graph {graph.endpoint} (POST /me/messages), token from token file {token_file(setup)}, then opens {{weblink}}" in check.stdout


def test_config_check_connect_finds_the_graph_drafts_folder(dist, setup, oauth, graph):
    drafts_via_graph(setup, oauth, graph)
    check = mapishim(dist, setup, "config", "check", "--connect")
    assert check.returncode != 0 and "graph: cannot reach the Drafts folder" in check.stderr, "not signed in yet"
    login(dist, setup)
    check = mapishim(dist, setup, "config", "check", "--connect")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "drafts folder: Drafts (Microsoft Graph, signed in)" in check.stdout
    assert [r.path for r in graph.requests if r.method == "GET"] == ["/v1.0/me/mailFolders/drafts"]
    assert_clean(oauth, graph)
    assert_no_secret_in(check.stdout + check.stderr, oauth, "config check")


@pytest.mark.parametrize("link", ["javascript:alert(1)", "https://outlook.office365.com/owa/?ItemID=x\n--evil", None])
def test_a_weblink_that_is_not_a_plain_web_url_is_not_opened(dist, linux_sender, setup, oauth, graph, link):
    drafts_via_graph(setup, oauth, graph)
    login(dist, setup)
    answer = {"id": "AAMkscripted=", "isDraft": True} | ({"webLink": link} if link else {})
    graph.fail(r"/me/messages$", 201, body=answer)  # scripted: Graph's 201, with this link
    codes = dialog(linux(linux_sender), setup, "--subject", "stored", "--body", "b")
    assert codes == [0], setup.log.read_text()
    assert kept(setup) == [] and not (setup.root / "record.jsonl").exists()
    assert "gave no usable web link for {weblink}; nothing opened" in setup.log.read_text()
