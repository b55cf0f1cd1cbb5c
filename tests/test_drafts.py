"""Webmail drafts through IMAP (docs/webmail.md), against a real Dovecot on loopback
(tests/dovecot_server.py). Every draft is read back with Python's imaplib and parsed with
the `email` package; the URL opener is a recording stand-in (tests/composer_standin.py)."""

import email
import email.policy
import hashlib
import os
import sys

import pytest
from conftest import Runner, run_unpiped, send, toml_string
from dovecot_server import DRAFTS, PASSWORD, SENT, USER, Dovecot
from test_composer import MAPI_DIALOG, MAPI_DIALOG_MODELESS, events, install_standin, standin_env

OPEN_URL = "https://mail.example.org/#drafts"


@pytest.fixture
def dovecot():
    with Dovecot() as server:
        yield server


def drafts_config(setup, dove, security="tls", imap_extra="", top="", sections="", opener=True):
    port = dove.tls_port if security == "tls" else dove.starttls_port
    program = install_standin(setup.root / "bin", "xdg-open") if opener else None
    credentials = "" if "auth =" in imap_extra else 'password_env = "MAPISHIM_IMAP_PASSWORD"\n'
    text = (
        'from = "Anna Sender <anna@example.org>"\n' + top + "[outbox]\ndir = {outbox}\n"
        '[log]\nfile = {log}\nlevel = "debug"\n'
        '[composer]\nkind = "drafts"\nopen = "' + OPEN_URL + '"\n'
        + (f"program = {toml_string(str(program))}\n" if program else "")
        + '[imap]\nhost = "127.0.0.1"\nport = ' + str(port) + '\nsecurity = "' + security + '"\n'
        'username = "' + USER + '"\ntimeout_secs = 5\nca_file = {path:' + str(dove.ca_file) + "}\n"
        + credentials + imap_extra + sections
    )
    setup.write_config(text=text)


def env(setup, password=PASSWORD, **extra):
    return dict(standin_env(setup, delay=0), MAPISHIM_IMAP_PASSWORD=password, **extra)


def linux(linux_sender):
    return Runner("linux", linux_sender)


def parsed(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        assert not part.defects, part.defects
    return msg


def kept(setup):
    folder = setup.outbox / "drafts"
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def opened(setup):
    record = setup.root / "record.jsonl"
    return [e["argv"] for e in events(record, wanted="started") if e["event"] == "started"]


@pytest.mark.parametrize("security", ["tls", "starttls"])
@pytest.mark.parametrize("flags", [MAPI_DIALOG, MAPI_DIALOG_MODELESS])
def test_dialog_with_an_attachment_and_no_recipient_lands_in_drafts(linux_sender, setup, dovecot, security, flags):
    drafts_config(setup, dovecot, security=security)
    content = "scanned page \u00e9\n" * 50
    codes, _ = send(linux(linux_sender), setup, "--flags", str(flags), "--subject", "Scan 2026", "--body", "Please find the scan.", "--make-attach", "scan page.pdf::" + content, **env(setup))
    assert codes == [0], setup.log.read_text()
    [(flags_seen, raw)] = dovecot.fetch_all(DRAFTS)
    assert "\\Draft" in flags_seen and "\\Seen" in flags_seen
    msg = parsed(raw)
    assert msg["Subject"] == "Scan 2026" and msg["To"] is None and msg["From"].addresses[0].addr_spec == "anna@example.org"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n").strip() == "Please find the scan."
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "scan page.pdf"
    body = attachment.get_payload(decode=True)
    assert body == content.encode(), body[:80]
    # Nothing in any other mailbox, nothing kept locally.
    assert dovecot.fetch_all(SENT) == [] and dovecot.fetch_all("INBOX") == [] and kept(setup) == []
    assert opened(setup) == [[OPEN_URL]]
    log = setup.log.read_text()
    assert "draft stored by IMAP APPEND" in log and PASSWORD not in log


def test_recipients_and_unicode_names_are_kept_with_bcc(linux_sender, setup, dovecot):
    drafts_config(setup, dovecot)
    subject = "Grüße aus Köln \u2013 \u65e5\u672c"
    codes, _ = send(
        linux(linux_sender), setup, "--flags", str(MAPI_DIALOG), "--subject", subject,
        "--body", "Liebe Anna,\r\nanbei.", "--to-named", "Anna Müller::SMTP:anna.mueller@example.org",
        "--cc", "SMTP:cc@example.org", "--bcc", "SMTP:hidden@example.org", **env(setup),
    )
    assert codes == [0], setup.log.read_text()
    [(_, raw)] = dovecot.fetch_all(DRAFTS)
    msg = parsed(raw)
    assert msg["Subject"] == subject
    [to] = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Anna Müller", "anna.mueller@example.org")
    assert msg["Cc"].addresses[0].addr_spec == "cc@example.org"
    # The user sees the Bcc in the draft, as the outbox keeps it.
    assert msg["Bcc"].addresses[0].addr_spec == "hidden@example.org"
    assert opened(setup) == [[OPEN_URL]]


def test_hostile_subject_injects_no_header(linux_sender, setup, dovecot):
    drafts_config(setup, dovecot)
    hostile = "Invoice\r\nBcc: evil@example.org\r\nX-Injected: yes\r\n\r\nbody"
    codes, _ = send(linux(linux_sender), setup, "--flags", str(MAPI_DIALOG), "--subject", hostile, "--body", "b", **env(setup))
    assert codes == [0], setup.log.read_text()
    [(_, raw)] = dovecot.fetch_all(DRAFTS)
    msg = parsed(raw)
    assert msg["X-Injected"] is None and msg["Bcc"] is None
    assert msg["Subject"].startswith("Invoice") and "\n" not in msg["Subject"] and "\r" not in msg["Subject"]


def test_25_mb_attachment_uploads_with_bounded_memory(linux_sender, setup, dovecot):
    drafts_config(setup, dovecot)
    big = setup.scratch / "big.bin"
    data = os.urandom(25 * 1024 * 1024)
    big.write_bytes(data)
    # The peak RSS of the caller process (the library does the upload), measured by a parent.
    wrapper = [
        sys.executable, "-c",
        "import resource,subprocess,sys; r=subprocess.call(sys.argv[1:]); "
        "print('maxrss_kb=%d' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r)",
    ]
    proc = run_unpiped(
        [*wrapper, linux_sender, "--flags", str(MAPI_DIALOG), "--subject", "big", "--body", "b", "--attach", f"{big}::archive.7z"],
        setup.env(Runner("linux", linux_sender), **env(setup)), timeout=300,
    )
    assert proc.returncode == 0 and "rc=0" in proc.stdout, proc.stdout + proc.stderr + setup.log.read_text()
    rss_mb = int(proc.stderr.rsplit("maxrss_kb=", 1)[1].split()[0]) / 1024
    print(f"\npeak RSS of the 25 MB dialog request: {rss_mb:.1f} MB")
    [(_, raw)] = dovecot.fetch_all(DRAFTS)
    [attachment] = list(parsed(raw).iter_attachments())
    assert attachment.get_filename() == "archive.7z"
    assert hashlib.sha256(attachment.get_payload(decode=True)).digest() == hashlib.sha256(data).digest()
    # The file (25 MB), its rendering once (34 MB of base64) and the process; a second copy
    # of the rendering would add another 34 MB and pass this bound.
    assert rss_mb < 100, f"peak RSS {rss_mb:.1f} MB"


def test_wrong_password_is_3_and_the_draft_is_kept(linux_sender, setup, dovecot):
    drafts_config(setup, dovecot)
    codes, _ = send(linux(linux_sender), setup, "--flags", str(MAPI_DIALOG), "--subject", "kept", "--body", "b", **env(setup, password="wr0ng-pass"))
    assert codes == [3]
    [path] = kept(setup)
    assert parsed(path.read_bytes())["Subject"] == "kept"
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    assert dovecot.fetch_all(DRAFTS) == []
    log = setup.log.read_text()
    assert "LOGIN as anna@example.org: the server refused it" in log and "wr0ng-pass" not in log
    assert not (setup.root / "record.jsonl").exists(), "the webmail opened for a draft that is not there"


def test_unreachable_is_23_kept_then_pushed_exactly_once(linux_sender, setup, dovecot, dist):
    drafts_config(setup, dovecot)
    dovecot.stop()
    codes, _ = send(linux(linux_sender), setup, "--flags", str(MAPI_DIALOG), "--subject", "offline draft", "--body", "b", "--make-attach", "a.txt::attached", **env(setup))
    assert codes == [23]
    assert len(kept(setup)) == 1
    assert "draft not stored on the IMAP server (connect 127.0.0.1:" in setup.log.read_text()
    dovecot.start()
    push = [dist / "bin" / "mapishim", "drafts", "push"]
    first = run_unpiped(push, setup.env(**env(setup)))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1 uploaded, 0 kept" in first.stdout
    second = run_unpiped(push, setup.env(**env(setup)))
    assert second.returncode == 0 and "0 uploaded, 0 kept" in second.stdout, second.stdout
    [(flags, raw)] = dovecot.fetch_all(DRAFTS)
    msg = parsed(raw)
    assert "\\Draft" in flags and msg["Subject"] == "offline draft"
    assert [a.get_filename() for a in msg.iter_attachments()] == ["a.txt"]
    assert kept(setup) == []
    assert not (setup.root / "record.jsonl").exists(), "drafts push must open nothing"


def test_silent_sends_still_go_to_the_backend(linux_sender, setup, dovecot):
    drafts_config(setup, dovecot)
    codes, _ = send(linux(linux_sender), setup, "--subject", "silent", "--to", "SMTP:to@example.org", **env(setup))
    assert codes == [0]
    [msg] = setup.messages()
    assert msg["Subject"] == "silent" and dovecot.fetch_all(DRAFTS) == []


def smtp_sections(port):
    return f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout_secs = 5\n'


def test_save_sent_copies_delivered_mail_to_sent(linux_sender, setup, dovecot):
    from smtp_server import Server

    with Server() as smtp:
        drafts_config(setup, dovecot, top='backend = "smtp"\n', imap_extra="save_sent = true\n", sections=smtp_sections(smtp.port))
        codes, _ = send(linux(linux_sender), setup, "--subject", "sent copy", "--body", "b", "--to", "SMTP:to@example.org", "--bcc", "SMTP:bcc@example.org", **env(setup))
        assert codes == [0], setup.log.read_text()
        [received] = smtp.messages
    at_server = parsed(received.data)
    assert at_server["Subject"] == "sent copy" and at_server["Bcc"] is None
    [(flags, raw)] = dovecot.fetch_all(SENT)
    copy = parsed(raw)
    assert "\\Seen" in flags and "\\Draft" not in flags
    assert copy["Subject"] == "sent copy" and copy["Bcc"].addresses[0].addr_spec == "bcc@example.org"
    assert copy["Message-ID"] == at_server["Message-ID"]
    assert dovecot.fetch_all(DRAFTS) == []


def test_save_sent_with_dovecot_stopped_still_sends(linux_sender, setup, dovecot):
    from smtp_server import Server

    dovecot.stop()
    with Server() as smtp:
        drafts_config(setup, dovecot, top='backend = "smtp"\n', imap_extra="save_sent = true\n", sections=smtp_sections(smtp.port))
        codes, _ = send(linux(linux_sender), setup, "--subject", "no copy", "--body", "b", "--to", "SMTP:to@example.org", **env(setup))
        assert codes == [0]
        assert len(smtp.messages) == 1
    assert "message sent, but no copy in the Sent folder" in setup.log.read_text()


def test_config_check_shows_the_folder_and_connects_without_secrets(setup, dovecot, dist):
    drafts_config(setup, dovecot, imap_extra="save_sent = true\n")
    mapishim = dist / "bin" / "mapishim"
    check = run_unpiped([mapishim, "config", "check"], setup.env(**env(setup)))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "drafts folder: the \\Drafts special-use mailbox" in check.stdout
    connect = run_unpiped([mapishim, "config", "check", "--connect"], setup.env(**env(setup)))
    assert connect.returncode == 0, connect.stdout + connect.stderr
    assert "imap login:    OK as anna@example.org" in connect.stdout
    assert f"drafts folder: {DRAFTS}" in connect.stdout and f"sent folder:   {SENT}" in connect.stdout
    assert PASSWORD not in connect.stdout + connect.stderr
    wrong = run_unpiped([mapishim, "config", "check", "--connect"], setup.env(**env(setup, password="wr0ng-pass")))
    assert wrong.returncode != 0 and "imap: cannot log in" in wrong.stderr
    assert "wr0ng-pass" not in wrong.stdout + wrong.stderr


def test_security_none_to_a_remote_host_is_refused(setup, dist):
    def check(host):
        setup.write_config(
            text='[outbox]\ndir = {outbox}\n[composer]\nkind = "drafts"\n'
            f'[imap]\nhost = "{host}"\nsecurity = "none"\nusername = "u@example.org"\npassword_env = "X"\n'
        )
        return run_unpiped([dist / "bin" / "mapishim", "config", "check"], setup.env())

    refused = check("imap.example.org")
    assert refused.returncode != 0
    assert "imap.security" in refused.stderr and "loopback" in refused.stderr
    assert check("127.0.0.1").returncode == 0


def test_via_graph_needs_a_graph_token_source(setup, dist):
    # No [imap] needed, but Graph's tokens are (tests/test_graph.py has the drafts themselves).
    setup.write_config(text='[composer]\nkind = "drafts"\nvia = "graph"\n')
    check = run_unpiped([dist / "bin" / "mapishim", "config", "check"], setup.env())
    assert check.returncode != 0 and "[graph] oauth2_token_command" in check.stderr, check.stderr
    assert "[imap]" not in check.stderr


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
def test_bearer_tokens_validated_by_dovecot_at_the_introspection_endpoint(linux_sender, setup, mechanism):
    from oauth_server import Grant, OAuthServer

    with OAuthServer(account=USER) as oauth, Dovecot(introspect_url=oauth.introspect_url) as dove:
        token = oauth.issue(Grant(oauth.client_id, "https://mail.google.com/", USER), with_refresh=False)["access_token"]
        command = f'["printf", "%s\\\\n", "{token}"]'
        drafts_config(setup, dove, imap_extra=f'auth = "{mechanism}"\noauth2_token_command = {command}\n')
        codes, _ = send(linux(linux_sender), setup, "--flags", str(MAPI_DIALOG), "--subject", "token draft", "--body", "b", **env(setup))
        assert codes == [0], setup.log.read_text() + dove.logs()
        [(_, raw)] = dove.fetch_all(DRAFTS)
        assert parsed(raw)["Subject"] == "token draft"
        introspected = [r for r in oauth.requests if r.path == "/introspect"]
        assert introspected and introspected[0].form.get("token") == token
        assert oauth.violations == []
        assert token not in setup.log.read_text()
        # A token the server does not know is refused: 3, and the draft is kept.
        bad = '["printf", "%s\\\\n", "not-a-token"]'
        drafts_config(setup, dove, imap_extra=f'auth = "{mechanism}"\noauth2_token_command = {bad}\n')
        codes, _ = send(linux(linux_sender), setup, "--flags", str(MAPI_DIALOG), "--subject", "refused", "--body", "b", **env(setup))
        assert codes == [3] and len(kept(setup)) == 1


@pytest.mark.wine
def test_the_windows_dll_under_wine_stores_the_draft_and_opens_the_host_opener(request, build_dir, setup, dovecot):
    from conftest import sender_runner

    runner = sender_runner(request, build_dir, "wine64")
    drafts_config(setup, dovecot)
    codes, _ = send(runner, setup, "--flags", str(MAPI_DIALOG), "--subject", "from Wine", "--body", "b", "--make-attach", "w\u00fc.txt::from windows", **env(setup))
    assert codes == [0], setup.log.read_text()
    [(flags, raw)] = dovecot.fetch_all(DRAFTS)
    msg = parsed(raw)
    assert "\\Draft" in flags and msg["Subject"] == "from Wine"
    [attachment] = list(msg.iter_attachments())
    assert (attachment.get_filename(), attachment.get_payload(decode=True)) == ("w\u00fc.txt", b"from windows")
    # The Linux opener stand-in, reached through Wine's start /unix.
    assert opened(setup) == [[OPEN_URL]]
