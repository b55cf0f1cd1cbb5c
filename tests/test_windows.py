"""The Windows builds: PE export and import tables, ordinals at run time, Windows defaults,
and registration as the system's mail client — all checked under Wine."""

import os
import re
import shutil

import pytest
from conftest import ARCH_DIR, C_DIR, MINGW, ROOT, require_wine, run, run_case, run_unpiped, wine_env, wine_program

# Native mapi32.dll ordinals, from ../shared/SIMPLE-MAPI.md (independent of crates/abi).
NATIVE = {
    "MAPIFreeBuffer": 16, "MAPIFreeBuffer@4": 17, "MAPISendDocuments": 208, "MAPILogon": 209,
    "MAPILogoff": 210, "MAPISendMail": 211, "MAPISaveMail": 212, "MAPIReadMail": 213,
    "MAPIFindNext": 214, "MAPIDeleteMail": 215, "MAPIAddress": 217, "MAPIDetails": 218,
    "MAPIResolveName": 219, "MAPISendMailW": 256,
}
FORBIDDEN_IMPORTS = re.compile(r"^(libgcc_s|libstdc\+\+|libwinpthread|vcruntime|msvcp|api-ms-win-crt-)", re.I)
MAX_DLL_BYTES = 4 * 1024 * 1024


def objdump(kind, path):
    return run([f"{MINGW[kind]}-objdump", "-p", path]).stdout


def exports(dump):
    """Name → ordinal. objdump numbers the name table relative to the ordinal base."""
    base = int(re.search(r"Ordinal Base\s+(\d+)", dump).group(1))
    table = dump.split("[Ordinal/Name Pointer] Table", 1)[1]
    return {name: base + int(index) for index, name in re.findall(r"\[\s*(\d+)\]\s+(\S+)", table.split("\n\n")[0])}


@pytest.mark.parametrize("kind", ["wine64", "wine32"])
def test_export_table_has_native_ordinals(windows_dist, kind):
    for dll in ("mapi32.dll", "mapishim.dll"):
        dump = objdump(kind, windows_dist / ARCH_DIR[kind] / dll)
        assert exports(dump) == NATIVE, dll


@pytest.mark.parametrize("kind", ["wine64", "wine32"])
def test_no_runtime_dll_dependencies(windows_dist, kind):
    for binary in ("mapi32.dll", "mapishim.exe", "wine/bcryptprimitives.dll"):
        imports = re.findall(r"DLL Name: (\S+)", objdump(kind, windows_dist / ARCH_DIR[kind] / binary))
        assert imports, binary
        bad = [i for i in imports if FORBIDDEN_IMPORTS.match(i)]
        assert not bad, f"{binary} needs {bad}"


@pytest.mark.parametrize("kind", ["wine64", "wine32"])
def test_dll_size(windows_dist, kind):
    size = (windows_dist / ARCH_DIR[kind] / "mapi32.dll").stat().st_size
    print(f"{ARCH_DIR[kind]} mapi32.dll: {size} bytes")
    assert size <= MAX_DLL_BYTES


@pytest.fixture(params=["wine64", "wine32"])
def wine_kind(request):
    require_wine(request.param)
    return request.param


def test_binaries_carry_version_information(windows_dist, wine_prefix, build_dir, wine_kind):
    """Windows Installer and admins read the VERSIONINFO resource (issue 15): the same
    version as Cargo.toml in the fixed part and in the string table."""
    version = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
    reader = wine_program(wine_kind, windows_dist, build_dir, C_DIR / "version_info.c", "version_info", with_dll=False, libs=["-lversion"])
    arch = windows_dist / ARCH_DIR[wine_kind]
    for binary, file_type, name in [("mapi32.dll", 2, "mapi32.dll"), ("mapishim.dll", 2, "mapi32.dll"), ("mapishim.exe", 1, "mapishim.exe")]:
        # mapi32=n: else Wine answers for a file of that name with its builtin's resource.
        proc = run_unpiped(["wine", reader, arch / binary], wine_env(wine_prefix), check=True)
        info = dict(line.split("=", 1) for line in proc.stdout.splitlines())
        assert info["signature"] == "feef04bd", binary
        assert info["file_version"] == ".".join((version.split("-")[0].split(".") + ["0"] * 4)[:4]), binary
        assert int(info["file_type"]) == file_type, binary
        assert (info["ProductName"], info["CompanyName"]) == ("mapishim", "mapishim"), binary
        assert info["FileVersion"] == info["ProductVersion"] == version, binary
        assert info["OriginalFilename"] == name, binary


def test_ordinals_reach_the_same_functions(windows_dist, wine_prefix, build_dir, setup, wine_kind):
    proc = run_case(wine_suite_runner(wine_kind, windows_dist, wine_prefix, build_dir), setup, "ordinals")
    assert proc.returncode == 0, proc.stderr
    [msg] = setup.messages()
    assert msg["Subject"] == "by ordinal"


def wine_suite_runner(kind, windows_dist, wine_prefix, build_dir):
    from conftest import Runner

    exe = wine_program(kind, windows_dist, build_dir, C_DIR / "mapi_suite.c", "mapi_suite")
    return Runner(kind, exe, prefix=["wine"], env=wine_env(wine_prefix))


def test_ansi_strings_use_the_process_code_page(windows_dist, wine_prefix, build_dir, setup, wine_kind):
    """No ansi_codepage configured: GetACP() decides (1252 in Wine's Western UTF-8 locale)."""
    runner = wine_suite_runner(wine_kind, windows_dist, wine_prefix, build_dir)
    proc = run_case(runner, setup, "ansi_cp1252")
    assert proc.returncode == 0, proc.stderr
    [msg] = setup.messages()
    assert msg["Subject"] == "café € ü"
    assert msg["To"].addresses[0].display_name == "René €"


def test_short_8_3_paths(windows_dist, wine_prefix, build_dir, setup, wine_kind):
    runner = wine_suite_runner(wine_kind, windows_dist, wine_prefix, build_dir)
    proc = run_case(runner, setup, "short_path")
    assert proc.returncode == 0, proc.stderr
    [msg] = setup.messages()
    [part] = list(msg.iter_attachments())
    assert part.get_payload(decode=True) == b"short path"


def wine(prefix, *args, check=True):
    env = dict(os.environ, **wine_env(prefix, overrides=""))
    env.pop("MAPISHIM_CONFIG", None)
    return run_unpiped(["wine", *args], env, check=check)


@pytest.fixture
def wine8_ready(windows_dist, wine_prefix):
    """The prefix as docs/deploy-wine.md sets it up for Wine 8: the bcryptprimitives
    forwarder in the system folders, where every process (mapishim.exe too) finds it."""
    drive_c = wine_prefix / "drive_c"
    shutil.copy(windows_dist / "x64" / "wine" / "bcryptprimitives.dll", drive_c / "windows" / "system32")
    shutil.copy(windows_dist / "x86" / "wine" / "bcryptprimitives.dll", drive_c / "windows" / "syswow64")
    return wine_prefix


def test_windows_default_locations(windows_dist, wine8_ready):
    wine_prefix = wine8_ready
    out = wine(wine_prefix, windows_dist / "x64" / "mapishim.exe", "config", "check").stdout
    assert re.search(r"config:\s+built-in defaults \(C:\\users\\[^\\]+\\AppData\\Roaming\\mapishim\\config.toml", out), out
    assert re.search(r"outbox dir:\s+C:\\users\\[^\\]+\\AppData\\Local\\mapishim\\outbox", out), out
    assert re.search(r"log:\s+C:\\users\\[^\\]+\\AppData\\Local\\mapishim\\mapishim.log", out), out


def export_registry(prefix, tmp_path, tag):
    files = []
    for index, key in enumerate(["HKEY_LOCAL_MACHINE\\Software", "HKEY_CURRENT_USER\\Software"]):
        target = tmp_path / f"{tag}-{index}.reg"
        wine(prefix, "regedit", "/E", "Z:" + str(target).replace("/", "\\"), key)
        files.append(target.read_bytes())
    return files


def test_registration_round_trip(windows_dist, wine8_ready, build_dir, setup, tmp_path):
    """register --machine → an unchanged program, using Wine's builtin mapi32.dll and no
    DLL of ours beside it, reaches mapishim.dll; unregister → the registry is as before."""
    require_wine("wine32")
    wine_prefix = wine8_ready
    drive_c = wine_prefix / "drive_c"
    install = {"x64": drive_c / "Program Files" / "mapishim", "x86": drive_c / "Program Files (x86)" / "mapishim"}
    for arch, folder in install.items():
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("mapishim.dll", "mapishim.exe"):
            shutil.copy(windows_dist / arch / name, folder / name)

    before = export_registry(wine_prefix, tmp_path, "before")
    tool = "C:\\Program Files\\mapishim\\mapishim.exe"
    out = wine(wine_prefix, tool, "register", "--machine").stdout
    assert "DLLPath = %ProgramFiles%\\mapishim\\mapishim.dll" in out
    try:
        status = wine(wine_prefix, tool, "status").stdout
        assert 'default mail client "mapishim"' in status and "this mapishim build" in status, status
        for kind in ("wine64", "wine32"):
            from conftest import Runner

            exe = wine_program(kind, windows_dist, build_dir, C_DIR / "mapi_suite.c", "no_dll_suite", with_dll=False)
            assert not (exe.parent / "mapi32.dll").exists()
            runner = Runner(kind, exe, prefix=["wine"], env=wine_env(wine_prefix, overrides=""))
            proc = run_case(runner, setup, "attachments")
            assert proc.returncode == 0, f"{kind}: {proc.stderr}"
        msgs = setup.messages()
        assert len(msgs) == 2, "both the 64- and the 32-bit program reached our outbox"
        assert all(m["Subject"] == "attachments" for m in msgs)
    finally:
        wine(wine_prefix, tool, "unregister", "--machine")
    assert export_registry(wine_prefix, tmp_path, "after") == before
    again = wine(wine_prefix, tool, "unregister", "--machine", check=False)
    assert again.returncode == 1 and "not registered" in again.stderr


def test_register_refuses_mapi32_as_provider(windows_dist, wine8_ready):
    wine_prefix = wine8_ready
    proc = wine(wine_prefix, windows_dist / "x64" / "mapishim.exe", "register", "--user", "--dll",
                "Z:" + str(windows_dist / "x64" / "mapi32.dll").replace("/", "\\"), check=False)
    assert proc.returncode == 1 and "mapishim.dll" in proc.stderr


def test_a_program_that_restricts_its_dll_search_is_reached_only_by_registration(windows_dist, wine8_ready, build_dir, setup, tmp_path):
    """Issue 11 item 14: a mapi32.dll beside the program serves it only while it searches its
    own folder; after SetDefaultDllDirectories (7-Zip 21 and later) only registration reaches
    mapishim, and `mapishim status` says so."""
    from conftest import Runner

    require_wine("wine64")
    wine_prefix = wine8_ready
    exe = wine_program("wine64", windows_dist, build_dir, C_DIR / "dll_search.c", "dll_search")
    beside = Runner("wine64", exe, prefix=["wine"], env=wine_env(wine_prefix))

    def search(runner, mode):
        proc = run_unpiped([*runner.prefix, runner.exe, mode], setup.env(runner), 120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)

    opened = search(beside, "open")
    assert opened["loaded"].lower() == ("z:" + str(exe.parent / "mapi32.dll").replace("/", "\\")).lower(), opened
    assert opened["rc"] == "0"
    restricted = search(beside, "restrict")
    assert restricted == {"loaded": "none"}, "with mapi32=n and the search restricted, nothing loads"
    assert [m["Subject"] for m in setup.messages()] == ["open"]

    drive_c = wine_prefix / "drive_c"
    for arch, folder in {"x64": drive_c / "Program Files" / "mapishim", "x86": drive_c / "Program Files (x86)" / "mapishim"}.items():
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("mapishim.dll", "mapishim.exe"):
            shutil.copy(windows_dist / arch / name, folder / name)
    tool = "C:\\Program Files\\mapishim\\mapishim.exe"
    status = wine(wine_prefix, tool, "status").stdout
    assert "restricts its DLL search to System32 (SetDefaultDllDirectories" in status, status
    wine(wine_prefix, tool, "register", "--machine")
    try:
        builtin = Runner("wine64", exe, prefix=["wine"], env=wine_env(wine_prefix, overrides=""))
        registered = search(builtin, "restrict")
        assert "system32" in registered["loaded"].lower() and registered["rc"] == "0", registered
        assert sorted(m["Subject"] for m in setup.messages()) == ["open", "restrict"], "Wine's builtin forwarded to mapishim"
        status = wine(wine_prefix, tool, "status").stdout
        assert "reached only through registration or a System32 copy" in status, status
    finally:
        wine(wine_prefix, tool, "unregister", "--machine")


def test_doctor_names_the_missing_registration_and_a_foreign_copy(windows_dist, wine8_ready, tmp_path):
    """`mapishim doctor` on an unregistered machine: both callers' providers fail with the
    fix; after `register --machine` they pass; a foreign mapi32.dll beside a program fails."""
    import json

    wine_prefix = wine8_ready
    drive_c = wine_prefix / "drive_c"
    for arch, folder in {"x64": "Program Files", "x86": "Program Files (x86)"}.items():
        (drive_c / folder / "mapishim").mkdir(parents=True, exist_ok=True)
        for name in ("mapishim.dll", "mapishim.exe"):
            shutil.copy(windows_dist / arch / name, drive_c / folder / "mapishim" / name)
    app = drive_c / "legacy"
    app.mkdir(exist_ok=True)
    shutil.copy(drive_c / "windows" / "system32" / "kernel32.dll", app / "mapi32.dll")
    tool = "C:\\Program Files\\mapishim\\mapishim.exe"

    def doctor():
        proc = wine(wine_prefix, tool, "doctor", "--json", "--app", "C:\\legacy\\app.exe", check=False)
        report = json.loads(proc.stdout)
        assert report["ok"] == (proc.returncode == 0)
        return proc.returncode, {c["check"]: c for c in report["checks"]}

    rc, checks = doctor()
    assert rc == 1
    for bits in ("64", "32"):
        failed = checks[f"provider, {bits}-bit"]
        # Wine's own "Native Mail Client" (winemapi.dll) is the prefix's default.
        assert failed["status"] == "fail" and "not mapishim" in failed["detail"], failed
        assert "mapishim register --machine" in failed["fix"]
    assert checks["program"]["status"] == "fail" and "C:\\legacy\\mapi32.dll is not mapishim" in checks["program"]["detail"]
    wine(wine_prefix, tool, "register", "--machine")
    try:
        (app / "mapi32.dll").unlink()
        rc, checks = doctor()
        assert checks["provider, 64-bit"]["status"] == "pass", checks["provider, 64-bit"]
        assert "C:\\Program Files\\mapishim\\mapishim.dll (mapishim)" in checks["provider, 64-bit"]["detail"]
        assert checks["provider, 32-bit"]["status"] == "pass", checks["provider, 32-bit"]
        assert "C:\\Program Files (x86)\\mapishim\\mapishim.dll (mapishim)" in checks["provider, 32-bit"]["detail"]
        assert checks["program"]["status"] == "pass"
        assert rc == 0, checks
    finally:
        wine(wine_prefix, tool, "unregister", "--machine")
