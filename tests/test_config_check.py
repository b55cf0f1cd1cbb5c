"""`mapishim config check` on risky settings (issue 11 item 10): a plain password in a
file other users can read is a warning; a `ca_file` that is missing or holds no PEM
certificate is an error naming the file, the line and the key."""

import os

from conftest import run


def write(setup, extra):
    setup.write_config(text='[smtp]\nhost = "mail.example.org"\n' + extra + "[log]\nfile = {log}\n")


def check(dist, setup):
    return run([dist / "bin" / "mapishim", "config", "check"], env=setup.env(), check=False)


def test_plain_password_readable_by_others_is_a_warning(dist, setup):
    write(setup, 'username = "u"\npassword = "secret"\n')
    setup.env()
    os.chmod(setup.config, 0o644)
    proc = check(dist, setup)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"warning:       {setup.config}:4: key `smtp.password`: the file holding it is readable by other users (mode 644)" in proc.stdout
    assert "secret" not in proc.stdout + proc.stderr
    os.chmod(setup.config, 0o600)
    proc = check(dist, setup)
    assert proc.returncode == 0 and "readable by other users" not in proc.stdout, proc.stdout


def test_ca_file_missing_or_without_certificate_is_an_error(dist, setup):
    write(setup, "ca_file = {path:" + str(setup.root / "missing.pem") + "}\n")
    proc = check(dist, setup)
    assert proc.returncode != 0
    assert f"{setup.config}:3: key `smtp.ca_file`: cannot read {setup.root / 'missing.pem'}" in proc.stderr, proc.stderr
    (setup.root / "empty.pem").write_text("no certificate here\n")
    write(setup, "ca_file = {path:" + str(setup.root / "empty.pem") + "}\n")
    proc = check(dist, setup)
    assert proc.returncode != 0
    assert "empty.pem holds no PEM certificate" in proc.stderr, proc.stderr


def test_window_composer_is_windows_only_here(dist, setup):
    setup.write_config(extra_top='[composer]\nkind = "window"\n')
    proc = run([dist / "bin" / "mapishim", "config", "check"], env=setup.env(), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "composer:      window (unavailable)" in proc.stdout, proc.stdout
    warning = [line for line in proc.stdout.splitlines() if "Windows-only" in line]
    assert warning, proc.stdout
    for other in ("xdg-email", "thunderbird", "mailto", "auto", "drafts"):
        assert other in warning[0], warning
