"""The `mapishim` command-line tool."""

from conftest import run


def mapishim(dist, setup, *args):
    return run([dist / "bin" / "mapishim", *args], env=setup.env(), check=False)


def test_config_check_reports_settings(dist, setup):
    proc = mapishim(dist, setup, "config", "check")
    assert proc.returncode == 0, proc.stderr
    assert "backend:       outbox" in proc.stdout
    assert str(setup.outbox) in proc.stdout
    assert "2 contacts" in proc.stdout


def test_config_check_names_file_line_and_key(dist, setup):
    setup.write_config(text='backend = "outbox"\n\n[outbox]\ndir = "/x"\nfolder = "/y"\n')
    proc = mapishim(dist, setup, "config", "check")
    assert proc.returncode == 1
    assert f"{setup.config}:5: key `folder`" in proc.stderr
    setup.write_config(text='from = "not an address"\n')
    proc = mapishim(dist, setup, "config", "check")
    assert f"{setup.config}:1: key `from`" in proc.stderr


def test_send_resolve_and_list(dist, setup):
    attachment = setup.scratch / "report.csv"
    attachment.write_text("a,b\n1,2\n")
    proc = mapishim(dist, setup, "send", "--to", "alice", "--bcc", "x@example.org", "--subject", "cli", "--attach", attachment)
    assert proc.returncode == 0, proc.stderr
    [msg] = setup.messages()
    assert str(msg.path) == proc.stdout.strip()
    assert msg["To"].addresses[0].addr_spec == "alice@example.org"
    assert [a.get_filename() for a in msg.iter_attachments()] == ["report.csv"]
    listing = mapishim(dist, setup, "outbox", "list")
    assert str(msg.path) in listing.stdout and "cli" in listing.stdout
    resolved = mapishim(dist, setup, "resolve", "bob")
    assert resolved.stdout.strip() == "Bob Martin\tSMTP:bob@example.org"
    ambiguous = mapishim(dist, setup, "resolve", "martin")
    assert ambiguous.returncode == 1 and "MAPI_E_AMBIGUOUS_RECIPIENT" in ambiguous.stderr
