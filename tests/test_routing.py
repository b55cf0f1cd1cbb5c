"""[[route]]: the same caller under two file names takes two different routes."""

import pytest
from conftest import sender_runner, send, toml_string
from smtp_server import Server
from test_composer import events, install_standin, standin_env
from test_sendmail import MSMTP


@pytest.mark.parametrize("kind", ["linux", "wine64"])
def test_composer_route_by_program_name(kind, request, build_dir, setup):
    sage = sender_runner(request, build_dir, kind, "Sage50")
    other = sender_runner(request, build_dir, kind, "notepad")
    program = install_standin(setup.root / "bin", "xdg-email")
    pattern = "notepad*" if kind == "linux" else "NOTEPAD*.exe"
    setup.write_config(
        text=(
            "[outbox]\ndir = {outbox}\n[log]\nfile = {log}\n"
            f'[composer]\nkind = "xdg-email"\nprogram = {toml_string(str(program))}\n'
            f'[[route]]\napp = "{pattern}"\ncomposer = "none"\n'
        )
    )
    env = standin_env(setup, delay=0)
    assert send(other, setup, "--flags", "8", "--subject", "from notepad", **env)[0] == [0]
    assert send(sage, setup, "--flags", "8", "--subject", "from sage", **env)[0] == [0]
    [msg] = setup.messages()
    assert msg["Subject"] == "from notepad", "the routed program's dialog went to the backend"
    started = [e for e in events(setup.root / "record.jsonl") if e["event"] == "started"]
    # On Linux the subject is an argument; under Wine it is inside the mailto: URL.
    assert [e["argv"][-1] for e in started] in (["from sage"], ["mailto:?subject=from%20sage"]), started
    log = setup.log.read_text()
    assert f'route="{pattern}"' in log and 'route="-"' in log


def test_backend_route_by_program_name(request, build_dir, setup):
    sage = sender_runner(request, build_dir, "linux", "sage50")
    other = sender_runner(request, build_dir, "linux", "writer")
    rc = setup.root / "msmtprc"
    with Server() as server:
        rc.write_text(f"account default\nhost 127.0.0.1\nport {server.port}\nauth off\ntls off\n")
        rc.chmod(0o600)
        setup.write_config(
            text=(
                'from = "Me <me@example.org>"\n[outbox]\ndir = {outbox}\n[log]\nfile = {log}\n'
                f'[sendmail]\nprogram = {toml_string(MSMTP)}\nargs = ["-C", {toml_string(str(rc))}]\n'
                '[[route]]\napp = "SAGE*"\nbackend = "sendmail"\n'
            )
        )
        args = ["--to", "SMTP:to@example.org"]
        assert send(sage, setup, "--subject", "sage invoice", *args)[0] == [0]
        assert send(other, setup, "--subject", "writer letter", *args)[0] == [0]
    assert [m.data.count(b"sage invoice") for m in server.messages] == [1]
    assert [m["Subject"] for m in setup.messages()] == ["writer letter"]
