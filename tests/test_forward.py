"""The forward backend against tests/c/test_provider.c, a Simple MAPI provider that records
every call it receives (one JSON object per line, strings as hex). tests/c/forward_caller.c
calls our library; the provider's record shows what was passed on. Tests marked with
["linux", "wine64"] also run the x64 DLL under Wine with the mingw-built provider DLL."""

import json
import shutil

import pytest
from conftest import C_DIR, MINGW, ROOT, Runner, compile_c, run, run_case, wine_env, wine_program

PROVIDER = C_DIR / "test_provider.c"
CALLER = C_DIR / "forward_caller.c"

MAPI_LOGON_UI = 0x1
MAPI_NEW_SESSION = 0x2
MAPI_DIALOG = 0x8
MAPI_DIALOG_MODELESS = 0xC
MAPI_RECEIPT_REQUESTED = 0x2
MAPI_FORCE_UNICODE = 0x40000
CP_UTF8 = 65001
NO_POSITION = 0xFFFFFFFF
UI_PARAM = 0x1234


@pytest.fixture(scope="session")
def linux_caller(dist, build_dir):
    return Runner("linux", compile_c(dist, build_dir, CALLER, "forward_caller"))


@pytest.fixture(scope="session", params=["linux", "wine64"])
def caller(request, build_dir):
    """The caller on Linux, or as an x64 Windows program beside our mapi32.dll under Wine."""
    if request.param == "linux":
        return request.getfixturevalue("linux_caller")
    windows_dist = request.getfixturevalue("windows_dist")
    prefix = request.getfixturevalue("wine_prefix")
    exe = wine_program(request.param, windows_dist, build_dir, CALLER, "forward_caller")
    return Runner(request.param, exe, prefix=["wine"], env=wine_env(prefix))


def provider(runner, build_dir, unicode):
    """The test provider for the runner's platform, with or without MAPISendMailW."""
    variant = "w" if unicode else "ansi"
    if runner.name == "linux":
        out, cc, extra = build_dir / f"libtestprovider-{variant}.so", "gcc", ["-fPIC"]
    else:
        out = build_dir / f"{runner.name}-provider-{variant}" / "testprovider.dll"
        cc, extra = f"{MINGW[runner.name]}-gcc", ["-Wl,--kill-at", "-static-libgcc"]
    out.parent.mkdir(exist_ok=True)
    if not out.exists():
        defines = ["-DPROVIDER_UNICODE"] if unicode else []
        run([cc, "-std=c11", "-shared", "-O1", "-Wall", "-Wextra", "-Werror", "-I", ROOT / "include", *defines, PROVIDER, "-o", out, *extra])
    return out


def configure(setup, library):
    # A fixed ANSI code page, so that narrow test strings mean the same on every runner.
    setup.write_config(
        text=(
            'backend = "forward"\nansi_codepage = "windows-1252"\n'
            '[outbox]\ndir = {outbox}\n[log]\nfile = {log}\nlevel = "debug"\n'
            "[forward]\nlibrary = {path:" + str(library) + "}\n"
        )
    )


def call(runner, setup, case, **env):
    """Runs one case; returns its `name=value` output lines and the provider's record."""
    record = setup.root / "provider.jsonl"
    record.unlink(missing_ok=True)
    proc = run_case(runner, setup, case, MAPISHIM_PROVIDER_LOG=runner.path(record), **env)
    assert proc.returncode == 0, f"{case}: {proc.stdout}\n{proc.stderr}\n{log_text(setup)}"
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    calls = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return values, calls


def log_text(setup):
    return setup.log.read_text() if setup.log.exists() else ""


def raw(hex_text):
    return None if hex_text is None else bytes.fromhex(hex_text)


def wide(hex_text):
    return None if hex_text is None else bytes.fromhex(hex_text).decode("utf-16-be")


def scratch_file(runner, setup, name):
    # forward_caller builds paths as "<scratch>/<name>" in the runner's syntax.
    return f"{runner.path(setup.scratch)}/{name}"


def sends(calls):
    return [c for c in calls if c["fn"].startswith("MAPISendMail")]


@pytest.mark.parametrize("caller", ["linux", "wine64"], indirect=True)
def test_ansi_provider_gets_the_callers_bytes_flags_and_readable_files(caller, setup, build_dir):
    configure(setup, provider(caller, build_dir, unicode=False))
    flags = MAPI_DIALOG | MAPI_LOGON_UI | 0x10000000
    values, calls = call(caller, setup, "send", FORWARD_FLAGS=str(flags))
    assert values["rc"] == "0", log_text(setup)
    [sent] = calls
    assert sent["fn"] == "MAPISendMail"
    assert (sent["session"], sent["ui"], sent["flags"], sent["reserved"]) == (0, UI_PARAM, flags, 0)
    assert sent["msg_reserved"] == 0 and sent["msg_flags"] == MAPI_RECEIPT_REQUESTED
    assert raw(sent["subject"]) == b"Caf\xe9 \x80", "ANSI bytes pass untouched"
    assert raw(sent["body"]) == b"Body line 1\nline 2\n" and sent["type"] is None
    assert raw(sent["originator"]["name"]) == b"Sender"
    assert raw(sent["originator"]["address"]) == b"SMTP:sender@example.org"
    recips = [(r["class"], raw(r["name"]), raw(r["address"]), raw(r["entry_id"])) for r in sent["recips"]]
    assert recips == [
        (1, b"Receiver", b"SMTP:to@example.org", None),
        (2, b"Alice Martin", None, None),
        (3, None, b"bcc@example.org", b"\xde\xad\xbe\xef"),
    ], "recipients go unresolved, as given"
    files = [(raw(f["path"]).decode(), raw(f["name"]), f["size"], f["position"]) for f in sent["files"]]
    assert files == [
        (scratch_file(caller, setup, "report.csv"), b"Quarterly report.csv", 8, NO_POSITION),
        (scratch_file(caller, setup, "notes.txt"), None, 5, NO_POSITION),
    ], "the provider read both files during the call"
    assert setup.files() == [], "nothing is captured by us"


@pytest.mark.parametrize("caller", ["linux", "wine64"], indirect=True)
def test_unicode_provider_gets_utf16_from_narrow_and_wide_callers(caller, setup, build_dir):
    configure(setup, provider(caller, build_dir, unicode=True))
    values, calls = call(caller, setup, "send", FORWARD_FLAGS=str(MAPI_DIALOG))
    assert values["rc"] == "0", log_text(setup)
    [sent] = calls
    assert sent["fn"] == "MAPISendMailW" and sent["flags"] == MAPI_DIALOG and sent["ui"] == UI_PARAM
    assert sent["msg_reserved"] == 0
    assert wide(sent["subject"]) == "Café €", "cp1252 decoded"
    assert [wide(r["name"]) for r in sent["recips"]] == ["Receiver", "Alice Martin", None]
    assert [(wide(f["name"]), f["size"]) for f in sent["files"]] == [("Quarterly report.csv", 8), (None, 5)]
    assert wide(sent["files"][0]["path"]) == scratch_file(caller, setup, "report.csv")

    values, calls = call(caller, setup, "send_wide")
    assert values["rc"] == "0", log_text(setup)
    [sent] = calls
    assert sent["fn"] == "MAPISendMailW"
    assert wide(sent["subject"]) == "Wide café" and wide(sent["body"]) == "Wide body\n"
    assert [(wide(r["name"]), wide(r["address"])) for r in sent["recips"]] == [("Récepteur", "SMTP:to@example.org")]
    [f] = sent["files"]
    assert (wide(f["path"]), wide(f["name"]), f["size"]) == (scratch_file(caller, setup, "wide.txt"), "Résumé.txt", 6)


def test_wide_caller_with_ansi_provider_gets_ansi_or_else_utf8(linux_caller, setup, build_dir):
    configure(setup, provider(linux_caller, build_dir, unicode=False))
    values, calls = call(linux_caller, setup, "send_wide")
    assert values["rc"] == "0", log_text(setup)
    [sent] = calls
    assert sent["fn"] == "MAPISendMail" and sent["msg_reserved"] == 0
    assert raw(sent["subject"]) == "Wide café".encode("cp1252")
    assert raw(sent["recips"][0]["name"]) == "Récepteur".encode("cp1252")
    assert raw(sent["files"][0]["name"]) == "Résumé.txt".encode("cp1252") and sent["files"][0]["size"] == 6

    # 漢字 has no cp1252 form: the whole message goes as UTF-8, marked CP_UTF8, nothing lost.
    values, calls = call(linux_caller, setup, "send_wide", FORWARD_CJK="1")
    assert values["rc"] == "0", log_text(setup)
    [sent] = calls
    assert sent["fn"] == "MAPISendMail" and sent["msg_reserved"] == CP_UTF8
    assert raw(sent["subject"]).decode("utf-8") == "Wide café 漢字"
    assert raw(sent["recips"][0]["name"]).decode("utf-8") == "Récepteur"
    assert raw(sent["files"][0]["name"]).decode("utf-8") == "Résumé.txt"
    assert "sent to MAPISendMail as UTF-8 (CP_UTF8)" in log_text(setup)


def test_utf8_message_keeps_cp_utf8(linux_caller, setup, build_dir):
    configure(setup, provider(linux_caller, build_dir, unicode=False))
    values, calls = call(linux_caller, setup, "send", FORWARD_UTF8="1")
    assert values["rc"] == "0"
    [sent] = calls
    assert sent["msg_reserved"] == CP_UTF8 and raw(sent["subject"]) == "Grüße €".encode("utf-8")

    configure(setup, provider(linux_caller, build_dir, unicode=True))
    values, calls = call(linux_caller, setup, "send", FORWARD_UTF8="1")
    assert values["rc"] == "0"
    [sent] = calls
    assert sent["fn"] == "MAPISendMailW" and wide(sent["subject"]) == "Grüße €"


def test_force_unicode_is_refused_without_send_mail_w(linux_caller, setup, build_dir):
    configure(setup, provider(linux_caller, build_dir, unicode=False))
    for case in ("send", "send_wide"):
        values, calls = call(linux_caller, setup, case, FORWARD_FLAGS=str(MAPI_FORCE_UNICODE | MAPI_DIALOG))
        assert values["rc"] == "27", case
        assert sends(calls) == [], "nothing reached the provider"
    assert "has no MAPISendMailW and the caller set MAPI_FORCE_UNICODE" in log_text(setup)

    configure(setup, provider(linux_caller, build_dir, unicode=True))
    values, calls = call(linux_caller, setup, "send", FORWARD_FLAGS=str(MAPI_FORCE_UNICODE))
    assert values["rc"] == "0"
    [sent] = calls
    assert sent["fn"] == "MAPISendMailW" and sent["flags"] == MAPI_FORCE_UNICODE


@pytest.mark.parametrize("flags", [0, MAPI_DIALOG, MAPI_DIALOG_MODELESS | MAPI_LOGON_UI, MAPI_NEW_SESSION, 0xF0000001])
def test_dialog_flags_and_ui_param_pass_unchanged(linux_caller, setup, build_dir, flags):
    configure(setup, provider(linux_caller, build_dir, unicode=True))
    values, calls = call(linux_caller, setup, "send", FORWARD_FLAGS=str(flags))
    assert values["rc"] == "0"
    [sent] = calls
    assert (sent["flags"], sent["ui"]) == (flags, UI_PARAM)


def test_provider_return_codes_reach_the_caller(linux_caller, setup, build_dir):
    configure(setup, provider(linux_caller, build_dir, unicode=False))
    values, calls = call(linux_caller, setup, "send", MAPISHIM_PROVIDER_SEND_RC="1")
    assert values["rc"] == "1", "MAPI_USER_ABORT from the provider's dialog"
    assert len(sends(calls)) == 1 and setup.files() == []


@pytest.mark.parametrize("caller", ["linux", "wine64"], indirect=True)
def test_sessions_map_to_the_providers_own_handles(caller, setup, build_dir):
    configure(setup, provider(caller, build_dir, unicode=False))
    values, calls = call(caller, setup, "sessions")
    ours = int(values["session"])
    logon, on_session, shared, logoff = calls
    assert logon["fn"] == "MAPILogon"
    assert (logon["ui"], logon["flags"]) == (0x55, MAPI_NEW_SESSION | MAPI_LOGON_UI)
    assert (raw(logon["profile"]), raw(logon["password"])) == (b"profile", b"secret")
    theirs = logon["issued"]
    assert theirs != ours
    assert (on_session["fn"], on_session["session"], on_session["known"]) == ("MAPISendMail", theirs, True)
    assert (shared["session"], shared["known"]) == (0, True), "session 0 stays 0"
    assert (logoff["fn"], logoff["session"], logoff["known"]) == ("MAPILogoff", theirs, True)
    # The send on the logged-off handle was refused by us (19), never passed on.


def test_resolve_passes_through_and_frees_the_providers_buffer(linux_caller, setup, build_dir):
    configure(setup, provider(linux_caller, build_dir, unicode=False))
    values, calls = call(linux_caller, setup, "resolve")
    steps = [(c["fn"], raw(c.get("name")) if c["fn"] == "MAPIResolveName" else c.get("known")) for c in calls]
    assert steps == [
        ("MAPIResolveName", b"Carol Jones"),
        ("MAPIFreeBuffer", True),
        ("MAPIResolveName", b"unknown"),
        ("MAPIResolveName", b"exchange"),
        ("MAPIFreeBuffer", True),
        ("MAPIResolveName", b"implausible"),
        ("MAPILogon", None),
        ("MAPIResolveName", b"Dave"),
        ("MAPIFreeBuffer", True),
        ("MAPILogoff", True),
    ], "every buffer the provider returned was freed with its own MAPIFreeBuffer, once; an implausible pointer never"
    issued = calls[6]["issued"]
    assert [c["session"] for c in calls if c["fn"] == "MAPIResolveName"] == [0, 0, 0, 0, issued]
    assert "resolved to a EX: address, not SMTP" in log_text(setup)
    assert values["implausible"] == "2", "MAPI_E_FAILURE"
    assert "returned a recipient pointer 0x20; not read or freed" in log_text(setup)


@pytest.mark.parametrize("unicode", [False, True])
def test_our_entry_ids_from_resolve_are_not_passed_to_the_provider(linux_caller, setup, build_dir, unicode):
    configure(setup, provider(linux_caller, build_dir, unicode=unicode))
    values, calls = call(linux_caller, setup, "resolve_send")
    assert values["rc"] == "0", log_text(setup)
    [sent] = sends(calls)
    text = wide if unicode else (lambda h: None if h is None else raw(h).decode("cp1252"))
    recips = [(r["class"], text(r["name"]), text(r["address"]), r["entry_id"]) for r in sent["recips"]]
    assert recips == [
        (1, "Resolved Carol Jones", "SMTP:carol.jones@provider.example", None),
        (2, "Resolved Carol Jones", "SMTP:carol.jones@provider.example", None),
    ], "our entry ID is dropped; a recipient given only by it goes by its address and name"


def test_exports_found_in_our_library_through_the_providers_dependencies_are_missing(linux_caller, setup, dist, build_dir):
    # A provider linked against libmapi32.so.1 that lacks MAPISendMailW and MAPIFreeBuffer:
    # looking them up in it finds ours, which would call back into us or free its memory.
    lib = dist / "lib"
    out = build_dir / "libtestprovider-linked.so"
    if not out.exists():
        run(["gcc", "-std=c11", "-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-Werror", "-I", ROOT / "include",
             "-DPROVIDER_NO_FREE_BUFFER", PROVIDER, "-o", out, "-L", lib, "-Wl,--no-as-needed", "-l:libmapi32.so.1", f"-Wl,-rpath,{lib}", "-ldl"])
    configure(setup, out)
    values, calls = call(linux_caller, setup, "send")
    assert values["rc"] == "0", log_text(setup)
    assert [c["fn"] for c in calls] == ["MAPISendMail"], "not our MAPISendMailW"
    log = log_text(setup)
    assert "MAPISendMailW found in the provider is mapishim's own" in log
    assert "MAPIFreeBuffer found in the provider is mapishim's own" in log


def test_a_provider_calling_back_into_us_fails_instead_of_recursing(linux_caller, setup, dist, build_dir):
    configure(setup, provider(linux_caller, build_dir, unicode=False))
    ours = dist / "lib" / "libmapi32.so.1"
    values, calls = call(linux_caller, setup, "send", MAPISHIM_PROVIDER_CALL_BACK=str(ours))
    [sent] = sends(calls)
    assert sent["call_back_rc"] == 2, "the nested call got MAPI_E_FAILURE"
    assert values["rc"] == "2", "and the provider passed it on"
    assert "the provider's MAPISendMail called back into mapishim (MAPISendMail)" in log_text(setup)


def refusal_log(setup):
    # The backend could not be built, but the configuration's [log] was read first.
    return setup.log.read_text() if setup.log.exists() else ""


def test_loading_ourselves_is_refused(linux_caller, setup, dist, tmp_path):
    ours = dist / "lib" / "libmapi32.so.1"
    renamed = tmp_path / "libotherprovider.so"
    shutil.copy(ours, renamed)
    for library in (ours, renamed):
        configure(setup, library)
        setup.log.unlink(missing_ok=True)
        values, calls = call(linux_caller, setup, "refused")
        assert (values["logon"], values["send"]) == ("3", "2"), "logon failure, then failure"
        assert f"refusing to forward to {library}: it is mapishim itself (the file is a mapishim build)" in refusal_log(setup)


@pytest.mark.parametrize("caller", ["wine64"], indirect=True)
def test_loading_ourselves_is_refused_on_windows(caller, setup, tmp_path):
    dll = caller.exe.parent / "mapi32.dll"
    renamed = tmp_path / "olmapi32.dll"
    shutil.copy(dll, renamed)
    for library in (dll, renamed):
        configure(setup, library)
        values, _ = call(caller, setup, "refused")
        assert (values["logon"], values["send"]) == ("3", "2"), library
