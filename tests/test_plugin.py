"""Runtime backend plugins (`backend = "plugin"`): the example archive plugin built for Linux
and as a Windows DLL, a plugin written in C against include/mapishim_plugin.h, and the
errors for libraries that are missing or are not plugins. What a plugin wrote is read back
with Python's `email` package. Tests marked ["linux", "wine64"] also run the x64 DLL under
Wine with the Windows build of the plugin."""

import re
import shutil
import sys

import pytest
from conftest import C_DIR, ROOT, Runner, compile_c, parse, require_wine, run, run_case, run_unpiped, wine_program

ARCHIVE = "mapishim-archive-plugin"


@pytest.fixture(scope="session")
def archive_so():
    run(["cargo", "build", "--quiet", "-p", ARCHIVE], cwd=ROOT)
    return ROOT / "target" / "debug" / "libmapishim_archive.so"


@pytest.fixture(scope="session")
def archive_dll():
    require_wine("wine64")
    run(["cargo", "build", "--quiet", "--target", "x86_64-pc-windows-gnu", "-p", ARCHIVE], cwd=ROOT)
    return ROOT / "target" / "x86_64-pc-windows-gnu" / "debug" / "mapishim_archive.dll"


@pytest.fixture
def archive(suite, request):
    """The archive plugin built for the suite's platform."""
    return request.getfixturevalue("archive_dll" if suite.is_wine else "archive_so")


def c_plugin(build_dir, name, *defines):
    out = build_dir / f"lib{name}.so"
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", *defines]
    run(["gcc", *flags, "-I", ROOT / "include", C_DIR / "plugin_c.c", "-o", out])
    return out


@pytest.fixture(scope="session")
def resolve_programs(build_dir):
    return {}


@pytest.fixture
def resolver(suite, resolve_programs, build_dir, request):
    """tests/c/resolve_name.c for the suite's platform, run the way the suite runs."""
    if suite.name not in resolve_programs:
        if suite.is_wine:
            windows_dist = request.getfixturevalue("windows_dist")
            exe = wine_program(suite.name, windows_dist, build_dir, C_DIR / "resolve_name.c", "resolve_name")
        else:
            exe = compile_c(request.getfixturevalue("dist"), build_dir, C_DIR / "resolve_name.c", "resolve_name")
        resolve_programs[suite.name] = Runner(suite.name, exe, prefix=suite.prefix, env=suite.env)
    return resolve_programs[suite.name]


def plugin_config(setup, library, options=""):
    setup.write_config(
        text=(
            'backend = "plugin"\nfrom = "Accounts <accounts@example.org>"\n'
            "[outbox]\ndir = {outbox}\n[log]\nfile = {log}\n"
            "[addressbook]\nvcard = [{path:" + str(setup.root / "contacts.vcf") + "}]\n"
            "[plugin]\nlibrary = {path:" + str(library) + "}\n"
            "[plugin.options]\n" + options
        )
    )


def archive_options(setup, extra=""):
    return (
        "folder = {path:" + str(setup.root / "archive") + "}\n" + extra + "[plugin.options.names]\n"
        '"Help Desk" = "Support <help@example.org>"\n'
        '"Billing" = "billing@example.org"\n'
    )


def rc(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return int(proc.stdout.strip().rsplit("rc=", 1)[1])


def archived(setup):
    folder = setup.root / "archive"
    files = sorted(folder.iterdir()) if folder.exists() else []
    assert all(p.suffix == ".eml" for p in files), f"stray files: {files}"
    return [parse(p) for p in files]


def log(setup):
    """The configured log: a plugin that cannot be loaded is reported there too."""
    return setup.log.read_text() if setup.log.exists() else ""


@pytest.mark.parametrize("suite", ["linux", "wine64"], indirect=True)
def test_send_reaches_the_plugin_with_attachment_and_bcc_from_the_envelope(suite, setup, archive):
    plugin_config(setup, archive, archive_options(setup))
    assert rc(run_case(suite, setup, "send_one")) == 0
    [msg] = archived(setup)
    assert msg["Subject"] == "smtp test"
    assert msg["From"].addresses[0].addr_spec == "accounts@example.org"
    assert [a.addr_spec for a in msg["To"].addresses] == ["to@example.org"]
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["cc@example.org"]
    # The host never puts Bcc into the bytes it hands over; the plugin rebuilt it from
    # the envelope and keeps it in its archive copy.
    assert [a.addr_spec for a in msg["Bcc"].addresses] == ["hidden@example.org"]
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Hello over SMTP.\n"
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "report.csv"
    assert att.get_content_type() == "text/csv"
    assert att.get_payload(decode=True) == b"a;b\n1;2\n"
    assert setup.files() == [], "the host stored nothing itself"
    text = log(setup)
    assert 'backend="plugin"' in text and "send accepted" in text, text


@pytest.mark.parametrize("suite", ["linux", "wine64"], indirect=True)
def test_names_resolve_through_the_plugin_then_the_address_book(suite, setup, archive, resolver):
    plugin_config(setup, archive, archive_options(setup))
    proc = run_unpiped([*resolver.prefix, resolver.exe, "help desk", "BILLING", "Alice Martin", "Nobody Known", "Martin"], setup.env(resolver), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        "rc=0 name=Support address=SMTP:help@example.org",
        "rc=0 name=Billing address=SMTP:billing@example.org",
        "rc=0 name=Alice Martin address=SMTP:alice@example.org",
        "rc=14",
        "rc=21",
    ]
    # The suite's resolve case (vCard names, then a send by entry ID) passes unchanged,
    # and its message reaches the plugin.
    case = run_case(suite, setup, "resolve")
    assert case.returncode == 0, case.stdout + case.stderr
    [msg] = archived(setup)
    assert msg["Subject"] == "resolved" and msg["To"].addresses[0].addr_spec == "alice@example.org"


@pytest.mark.parametrize("suite", ["linux", "wine64"], indirect=True)
def test_missing_library_is_a_failure_naming_the_file(suite, setup):
    plugin_config(setup, setup.root / "libnothere.so", 'folder = "/tmp"\n')
    assert rc(run_case(suite, setup, "send_one")) == 2
    text = log(setup)
    assert "configuration unusable, nothing can be sent: plugin library " in text, text
    assert "libnothere.so does not exist" in text, text


def test_config_check_reports_plugin_problems(dist, setup, archive_so):
    mapishim = dist / "bin" / "mapishim"
    plugin_config(setup, archive_so, archive_options(setup))
    ok = run([mapishim, "config", "check"], env=setup.env(), check=False)
    assert ok.returncode == 0 and "backend:       plugin" in ok.stdout, ok.stdout + ok.stderr
    plugin_config(setup, archive_so, "")
    bad = run([mapishim, "config", "check"], env=setup.env(), check=False)
    assert bad.returncode != 0
    assert f"plugin library {archive_so}: plugin archive refused its options: option `folder` is missing" in bad.stderr


def test_library_without_the_entry_point_is_refused(linux_suite, setup, dist):
    library = dist / "lib" / "libmapi32.so.1"
    plugin_config(setup, library)
    assert rc(run_case(linux_suite, setup, "send_one")) == 2
    assert f"{library} is not a mapishim plugin: it exports no `mapishim_backend_v1` function" in log(setup)


def test_plugin_in_c_returns_its_own_error_code(linux_suite, setup, build_dir):
    plugin_config(setup, c_plugin(build_dir, "c_refuser"))
    assert rc(run_case(linux_suite, setup, "send_one")) == 10
    text = log(setup)
    assert "send refused: MAPI_E_TOO_MANY_RECIPIENTS (10): plugin c-refuser: at most one recipient, got 3 (first to@example.org)" in text, text
    assert rc(run_case(linux_suite, setup, "send_one", MAPISHIM_TEST_TO="only")) == 0


@pytest.mark.skipif(not shutil.which("i686-w64-mingw32-gcc"), reason="needs i686-w64-mingw32-gcc")
def test_header_keeps_cdecl_under_a_stdcall_default(build_dir):
    # -mrtd is gcc's MSVC /Gz: stdcall by default. With MAPISHIM_CALL every plugin function
    # stays cdecl (the caller pops; no `ret $n`), as the host calls them.
    obj = build_dir / "plugin_c_rtd.o"
    run(["i686-w64-mingw32-gcc", "-mrtd", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-I", ROOT / "include",
         "-c", C_DIR / "plugin_c.c", "-o", obj])
    code = run(["i686-w64-mingw32-objdump", "-d", obj]).stdout
    assert "ret" in code and not re.search(r"\bret\s+\$", code), code


RELOAD = '''
import ctypes, sys, time
from pathlib import Path
lib = ctypes.CDLL(sys.argv[1])
session = ctypes.c_size_t()
assert lib.MAPILogon(0, None, None, 0, 0, ctypes.byref(session)) == 0
assert lib.MAPILogoff(session, 0, 0, 0) == 0
config = Path(sys.argv[2])
config.write_text(config.read_text().replace('backend = "plugin"', 'backend = "outbox"  # changed'))
assert lib.MAPILogon(0, None, None, 0, 0, ctypes.byref(session)) == 0
time.sleep(0.3)
print("survived")
'''


def test_plugin_threads_survive_a_configuration_change(setup, dist, build_dir):
    # The old configuration's plugin state is destroyed; its code must stay mapped.
    plugin_config(setup, c_plugin(build_dir, "c_threads", "-DBACKGROUND_THREAD", "-pthread"))
    env = setup.env()
    proc = run([sys.executable, "-c", RELOAD, dist / "lib" / "libmapi32.so.1", setup.config], env=env, check=False)
    assert (proc.returncode, proc.stdout.strip()) == (0, "survived"), proc.stderr + log(setup)
    assert "plugin loaded" in log(setup) and 'backend="outbox"' in log(setup), "the configuration was replaced"


def test_wrong_abi_version_is_refused(linux_suite, setup, build_dir):
    library = c_plugin(build_dir, "c_v2", "-DWRONG_VERSION")
    plugin_config(setup, library)
    assert rc(run_case(linux_suite, setup, "send_one")) == 2
    assert f"plugin library {library}: plugin ABI version 2, this host supports 1" in log(setup)


def test_rust_plugin_error_code_and_refused_options(linux_suite, setup, archive_so):
    plugin_config(setup, archive_so, archive_options(setup, "max_bytes = 300\n"))
    assert rc(run_case(linux_suite, setup, "send_one")) == 28
    assert "MAPI_E_ATTACHMENT_TOO_LARGE (28): plugin archive: message of" in log(setup)
    assert archived(setup) == []
    plugin_config(setup, archive_so, "folder = 'relative/dir'\n")
    assert rc(run_case(linux_suite, setup, "send_one")) == 2
    assert 'plugin archive refused its options: folder "relative/dir" is not an absolute path' in log(setup)


def test_name_only_recipients_of_a_send_resolve_through_the_plugin(setup, archive_so, linux_sender):
    """A recipient given by name reaches the plugin's directory before the vCard book, as
    the header promises for `resolve`."""
    from conftest import Runner, send

    plugin_config(setup, archive_so, archive_options(setup))
    codes, _ = send(Runner("linux", linux_sender), setup, "--subject", "by name", "--to-name", "Help Desk",
                    "--cc", "SMTP:cc@example.org")
    assert codes == [0]
    [msg] = archived(setup)
    assert [a.addr_spec for a in msg["To"].addresses] == ["help@example.org"]
