"""The Windows Installer packages (scripts/build-windows.sh --msi), installed, used and
removed with Wine's msiexec: per-machine with the machine configuration written from the
public properties, per-user, the x86 package in a 32-bit prefix, and a major upgrade.

One pristine prefix is booted per architecture; the tests share a working copy of it,
because each one ends by uninstalling and proving the registry is as before. A test that
fails leaves the copy dirty, and the next one starts from a fresh copy."""

import email
import email.policy
import getpass
import os
import re
import shutil
import subprocess
import time
import tomllib

import pytest
from conftest import C_DIR, ROOT, WINE32_UNAVAILABLE, boot_prefix, require_wine, run, run_unpiped, wine_path, wine_program
from smtp_server import Server

pytestmark = pytest.mark.wine

VERSION = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1).split("-")[0]
FROM = "MSI Desk <desk@example.org>"
UNINSTALL = "HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall"


# Debian's `wine` starts Wine's own programs (msiexec, regedit, reg) 32-bit whenever 32-bit
# Wine is installed; in a 64-bit prefix they must be the 64-bit ones, as on Windows: the
# 32-bit regedit sees only the 32-bit registry view.
WINE64 = shutil.which("wine64") or next((p for p in ("/usr/lib/wine/wine64",) if os.path.exists(p)), "wine")


def wine_run(prefix, *args, check=True, timeout=300):
    """A Windows program as an unchanged caller runs it: Wine's builtin DLLs, no
    MAPISHIM_CONFIG (so the machine and user files are what it reads). Wine's own tools
    run with the prefix's native bitness."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAPISHIM_") and k not in ("WINEDLLOVERRIDES", "DISPLAY")}
    env.update(WINEPREFIX=str(prefix), WINEDEBUG="-all", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    builtin = str(args[0]) in ("msiexec", "regedit", "reg")
    loader = WINE64 if builtin and (prefix / "drive_c" / "windows" / "syswow64").exists() else "wine"
    return run_unpiped([loader, *args], env, timeout=timeout, check=check)


class Prefix:
    """A pristine booted prefix (`base`) and the working copy the tests use."""

    def __init__(self, name, winearch, windows_dist):
        self.base = ROOT / "target" / "wine" / f"msi-{name}-base"
        self.work = ROOT / "target" / "wine" / f"msi-{name}"
        self.winearch = winearch
        env = dict(os.environ, WINEPREFIX=str(self.base), WINEDEBUG="-all", WINEARCH=winearch)
        env.pop("DISPLAY", None)
        boot_prefix(self.base, env)
        # docs/deploy-wine.md's Wine 8 step: the bcryptprimitives forwarder in the system
        # folders, so that mapishim.exe runs as the installer's custom action.
        windows = self.base / "drive_c" / "windows"
        folders = {"x64": windows / "system32", "x86": windows / "syswow64"} if winearch == "win64" else {"x86": windows / "system32"}
        for arch, folder in folders.items():
            if not (folder / "bcryptprimitives.dll").exists():
                shutil.copy(windows_dist / arch / "wine" / "bcryptprimitives.dll", folder)
        run(["wineserver", "-w"], env=env, check=False)
        self.dirty = True

    def server(self, prefix, action):
        env = dict(os.environ, WINEPREFIX=str(prefix))
        if action == "-p":
            # Daemonizes: it must not hold our pipes.
            subprocess.run(["wineserver", "-p"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            run(["wineserver", action], env=env, check=False)

    def fresh_copy(self):
        self.server(self.work, "-k")
        self.server(self.base, "-k")
        shutil.rmtree(self.work, ignore_errors=True)
        run(["cp", "-a", self.base, self.work])
        self.server(self.work, "-p")
        self.dirty = False

    @property
    def drive_c(self):
        return self.work / "drive_c"

    @property
    def profile(self):
        return self.drive_c / "users" / getpass.getuser()


@pytest.fixture(scope="session")
def msi_packages(windows_dist, tmp_path_factory):
    """The packages of this version, built as a release is, and the same files packaged
    as a lower version (0.0.1) for the upgrade."""
    out = run([ROOT / "scripts" / "build-windows.sh", "--msi"], cwd=ROOT).stdout.strip().splitlines()
    current = {arch: windows_dist / f"mapishim-{VERSION}-{arch}.msi" for arch in ("x64", "x86")}
    for arch, path in current.items():
        assert str(path) in out and path.stat().st_size > 100_000, out
    older = tmp_path_factory.mktemp("msi-old")
    for arch in ("x64", "x86"):
        shutil.copytree(windows_dist / arch, older / arch)
    run([ROOT / "scripts" / "build-msi.sh", older, "0.0.1"], cwd=ROOT)
    return current, {arch: older / f"mapishim-0.0.1-{arch}.msi" for arch in ("x64", "x86")}


def shared_prefix(request, name, winearch):
    windows_dist = request.getfixturevalue("windows_dist")
    prefixes = request.session.stash.setdefault(PREFIXES, {})
    if name not in prefixes:
        prefixes[name] = Prefix(name, winearch, windows_dist)
        request.session.stash.setdefault(CLEANUPS, []).append(lambda p=prefixes[name]: p.server(p.work, "-k"))
    prefix = prefixes[name]
    if prefix.dirty or not prefix.work.exists():
        prefix.fresh_copy()
    failed = request.session.testsfailed
    prefix.dirty = True
    yield prefix
    # Clean only when the test passed: it uninstalled and compared the registry.
    prefix.dirty = request.session.testsfailed != failed


PREFIXES = pytest.StashKey[dict]()
CLEANUPS = pytest.StashKey[list]()


@pytest.fixture(scope="session", autouse=True)
def _stop_msi_servers(request):
    yield
    for stop in request.session.stash.get(CLEANUPS, []):
        stop()


@pytest.fixture
def prefix64(request):
    require_wine("wine64")
    yield from shared_prefix(request, "win64", "win64")


@pytest.fixture
def prefix32(request):
    require_wine("wine32")
    yield from shared_prefix(request, "win32", "win32")


def msiexec(prefix, tmp_path, verb, package, *props, check=True):
    """`msiexec /i|/x PACKAGE /qn PROPS`, with a verbose log shown when it fails."""
    log = tmp_path / f"msiexec-{verb.strip('/')}-{time.monotonic_ns()}.log"
    started = time.monotonic()
    proc = wine_run(prefix.work, "msiexec", verb, wine_path(package), "/qn", "/l*v", wine_path(log), *props, check=False)
    text = decode(log.read_bytes()) if log.exists() else ""
    print(f"msiexec {verb} {package.name} {' '.join(props)}: exit {proc.returncode}, {time.monotonic() - started:.1f} s")
    if check:
        assert proc.returncode == 0, f"msiexec {verb} exited {proc.returncode}\n{proc.stderr[-2000:]}\n{text[-6000:]}"
    # What the custom actions (mapishim.exe) printed reaches msiexec's own output.
    proc.log = text + proc.stdout + proc.stderr
    return proc


def decode(raw):
    """Windows writes these files in UTF-16; Wine's msi log is 8-bit."""
    return raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode(errors="replace")


def export(prefix, tmp_path, key, tag):
    target = tmp_path / f"{tag}-{time.monotonic_ns()}.reg"
    wine_run(prefix.work, "regedit", "/E", wine_path(target), key, check=True)
    return normalized(decode(target.read_bytes()))


# Windows Installer's own product database: the empty container keys Wine's msi makes on
# its first (per-machine or per-user) install and leaves, as every Windows has them. Only these names, and only
# empty: a key named after our product or component left behind still fails.
INSTALLER_CONTAINER = re.compile(
    r"\[(HKEY_LOCAL_MACHINE\\Software(\\Wow6432Node)?\\(Classes\\Installer|Microsoft\\Windows\\CurrentVersion\\Installer)"
    r"|HKEY_CURRENT_USER\\Software\\Microsoft\\Installer)"
    r"(\\(Features|Products|UpgradeCodes|Components|Patches|UserData(\\S-1-5-[0-9-]+(\\(Components|Products|Patches))?)?))?\]"
)


def normalized(export_text):
    blocks = re.split(r"\r?\n(?=\[)", export_text.strip())
    return [b.strip() for b in blocks if not INSTALLER_CONTAINER.fullmatch(b.strip())]


def registry(prefix, tmp_path, tag):
    return [export(prefix, tmp_path, key, tag) for key in ("HKEY_LOCAL_MACHINE\\Software", "HKEY_CURRENT_USER\\Software")]


def assert_same_registry(after, before, tags=("HKLM", "HKCU")):
    """Key by key, so that a failure shows only the keys that differ."""
    for tag, now, then in zip(tags, after, before, strict=True):
        added = [b for b in now if b not in then]
        removed = [b for b in then if b not in now]
        assert not added and not removed, f"{tag}: left behind {added}; lost {removed}"


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def installed_products(prefix, tmp_path):
    """The Add/Remove Programs entries of mapishim packages: (product code, version)."""
    products = []
    for block in export(prefix, tmp_path, UNINSTALL, "uninstall"):
        if '"DisplayName"="mapishim' in block:
            code = re.search(r"\\Uninstall\\([^\]]+)\]", block).group(1)
            version = re.search(r'"DisplayVersion"="([^"]*)"', block)
            products.append((code, version.group(1) if version else None))
    return products


def no_dll_program(kind, windows_dist, tmp_path, name="installed_app"):
    """tests/c/installed_app.c, unchanged, linked against mingw-w64's import library of
    mapi32.dll, with no DLL of ours beside it: Wine's builtin mapi32 serves it."""
    # mingw-w64's <mapi.h> expects <windows.h> first; the program itself stays as it is.
    exe = wine_program(kind, windows_dist, tmp_path, C_DIR / f"{name}.c", name, with_dll=False, libs=["-include", "windows.h", "-lmapi32"])
    assert not (exe.parent / "mapi32.dll").exists()
    return exe


def received(server, count, timeout=60):
    deadline = time.monotonic() + timeout
    while len(server.messages) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return [email.message_from_bytes(m.data, policy=email.policy.default) for m in server.messages]


def test_per_machine_install_registers_and_configures_then_uninstalls_cleanly(msi_packages, prefix64, windows_dist, tmp_path):
    """The acceptance run of issue 15 for the x64 package: silent install with REGISTER=1
    and the SMTP properties; a 64- and a 32-bit program with no DLL of ours beside them
    reach the side-by-side builds through the registration and deliver to aiosmtpd with the
    machine configuration the package wrote; silent uninstall puts the registry back."""
    current, _ = msi_packages
    drive_c = prefix64.drive_c
    program_files = {"x64": drive_c / "Program Files" / "mapishim", "x86": drive_c / "Program Files (x86)" / "mapishim"}
    machine_file = drive_c / "ProgramData" / "mapishim" / "config.toml"
    before = registry(prefix64, tmp_path, "before")
    with Server() as server:
        msiexec(prefix64, tmp_path, "/i", current["x64"], "REGISTER=1", "SMTP_HOST=127.0.0.1", f"SMTP_PORT={server.port}",
                "SMTP_SECURITY=none", f"FROM={FROM}")
        for arch, folder in program_files.items():
            assert files_under(folder) == ["mapi32.dll", "mapishim.dll", "mapishim.exe"], arch
            assert (folder / "mapishim.dll").read_bytes() == (windows_dist / arch / "mapishim.dll").read_bytes(), arch
        config = tomllib.loads(machine_file.read_text())
        assert config["backend"] == "smtp" and config["from"] == FROM
        assert config["smtp"] == {"host": "127.0.0.1", "port": server.port, "security": "none"}
        hklm = "\n".join(export(prefix64, tmp_path, "HKEY_LOCAL_MACHINE\\Software\\Clients\\Mail", "mail"))
        assert '@="mapishim"' in hklm and "DLLPath" in hklm, hklm
        status = wine_run(prefix64.work, program_files["x64"] / "mapishim.exe", "status").stdout
        assert 'default mail client "mapishim"' in status and "this mapishim build" in status, status
        assert len(installed_products(prefix64, tmp_path)) == 1

        # The 32-bit program only where 32-bit Wine could be installed (the one excused gap).
        callers = {"wine64": "from a 64-bit program", "wine32": "from a 32-bit program"}
        if WINE32_UNAVAILABLE:
            del callers["wine32"]
        for kind, subject in callers.items():
            require_wine(kind)
            exe = no_dll_program(kind, windows_dist, tmp_path)
            proc = wine_run(prefix64.work, exe, subject, check=False, timeout=120)
            assert proc.returncode == 0 and "rc=0" in proc.stdout, f"{kind}: {proc.stdout}{proc.stderr}"
        messages = received(server, len(callers))
    assert sorted(m["Subject"] for m in messages) == sorted(callers.values())
    assert all(str(m["From"]) == FROM and m["To"].addresses[0].addr_spec == "bob@example.org" for m in messages)
    log = (prefix64.profile / "AppData" / "Local" / "mapishim" / "mapishim.log").read_text(errors="replace")
    assert "installed_app" in log, "the sends went through mapishim (its log names the program)"

    msiexec(prefix64, tmp_path, "/x", current["x64"])
    for folder in program_files.values():
        assert not folder.exists()
    assert not machine_file.parent.exists()
    assert installed_products(prefix64, tmp_path) == []
    assert_same_registry(registry(prefix64, tmp_path, "after"), before)
    # What stays, by design (docs/deploy-windows.md): the user's log (and outbox).
    assert files_under(prefix64.profile / "AppData" / "Local" / "mapishim") == ["mapishim.log"]


def test_config_file_property_copies_the_file_and_a_bad_one_fails_the_install(msi_packages, prefix64, tmp_path):
    current, _ = msi_packages
    site = tmp_path / "site.toml"
    site.write_text('# the site file\nfrom = "Site <site@example.org>"\n[outbox]\ndir = "C:\\\\mail\\\\out"\n')
    machine_file = prefix64.drive_c / "ProgramData" / "mapishim" / "config.toml"
    before = registry(prefix64, tmp_path, "before")

    bad = tmp_path / "bad.toml"
    bad.write_text('backend = "nope"\n')
    failed = msiexec(prefix64, tmp_path, "/i", current["x64"], "REGISTER=0", f"CONFIG_FILE={wine_path(bad)}", check=False)
    assert failed.returncode != 0, "a configuration that does not load fails the install"
    assert "bad.toml" in failed.log and "nope" in failed.log, failed.log[-4000:]
    assert not (prefix64.drive_c / "Program Files" / "mapishim").exists(), "rolled back"
    assert installed_products(prefix64, tmp_path) == []

    port = msiexec(prefix64, tmp_path, "/i", current["x64"], "REGISTER=0", "SMTP_HOST=smtp.example.org", "SMTP_PORT=smtp", check=False)
    assert port.returncode != 0 and 'SMTP_PORT "smtp" is not a port number' in port.log, port.log[-3000:]
    both = msiexec(prefix64, tmp_path, "/i", current["x64"], "REGISTER=0", f"CONFIG_FILE={wine_path(site)}", f"FROM={FROM}", check=False)
    assert both.returncode != 0 and "not both" in both.log
    assert installed_products(prefix64, tmp_path) == [] and not machine_file.exists()

    msiexec(prefix64, tmp_path, "/i", current["x64"], "REGISTER=0", f"CONFIG_FILE={wine_path(site)}")
    assert machine_file.read_bytes() == site.read_bytes()
    mail = "\n".join(export(prefix64, tmp_path, "HKEY_LOCAL_MACHINE\\Software\\Clients\\Mail", "mail"))
    assert "mapishim" not in mail, "REGISTER=0 leaves the mail client alone"
    msiexec(prefix64, tmp_path, "/x", current["x64"])
    assert not machine_file.exists()
    assert_same_registry(registry(prefix64, tmp_path, "after"), before)


def test_per_user_install_writes_only_the_profile_and_hkcu(msi_packages, prefix64, windows_dist, tmp_path):
    """Wine 8's msi ignores MSIINSTALLPERUSER (ALLUSERS=2 stays per-machine), so the
    per-user install is ALLUSERS="" here; and Wine's builtin mapi32 reads only HKLM, so the
    registration is proven by its HKCU keys and a DLLPath that names an existing file."""
    current, _ = msi_packages
    drive_c = prefix64.drive_c
    outside = lambda: [p for p in files_under(drive_c) if not p.startswith(f"users{os.sep}")]  # noqa: E731
    files_before = outside()
    hklm_before, hkcu_before = registry(prefix64, tmp_path, "before")

    # ALLUSERS= goes last: Wine's msiexec skips spaces after "=", so an empty value followed
    # by another property would take that property as its value (and a quoted "" arrives
    # with backslashes when passed through Wine's command line).
    refused = msiexec(prefix64, tmp_path, "/i", current["x64"], "SMTP_HOST=smtp.example.org", "ALLUSERS=", check=False)
    assert refused.returncode != 0 and "LaunchConditions. Return value 0" in refused.log, "the machine file needs a per-machine install"
    assert installed_products(prefix64, tmp_path) == []

    msiexec(prefix64, tmp_path, "/i", current["x64"], "ALLUSERS=")
    programs = prefix64.profile / "AppData" / "Local" / "Programs"
    builds = {"AMD64": "x64", "x86": "x86"}
    expected = [f"mapishim-{a}{s}" for a in builds for s in ("", f"{os.sep}mapi32.dll", f"{os.sep}mapishim.dll", f"{os.sep}mapishim.exe")]
    assert files_under(programs) == sorted(expected)
    hklm, hkcu = registry(prefix64, tmp_path, "installed")
    assert clients_mail(hklm) == clients_mail(hklm_before), "nothing of ours in HKLM\\Software\\Clients"
    # Windows Installer's own records of the product (Installer\UserData, and the Add/Remove
    # Programs entry Wine 8 writes in HKLM even for a per-user product) are its business;
    # outside them nothing in HKLM changed.
    [(code, _)] = installed_products(prefix64, tmp_path)
    assert_same_registry([without_installer_records(hklm, code)], [without_installer_records(hklm_before, code)], ("HKLM",))
    # Outside the profile only Windows Installer's package cache (C:\windows\Installer).
    new_files = [p for p in outside() if p not in files_before]
    assert all(p.lower().startswith(f"windows{os.sep}installer") for p in new_files), new_files
    query = wine_run(prefix64.work, "reg", "query", "HKCU\\Software\\Clients\\Mail\\mapishim", "/v", "DLLPath").stdout
    dll_path = re.search(r"DLLPath\s+REG_EXPAND_SZ\s+(\S.*\S)", query).group(1)
    assert dll_path.endswith("\\Programs\\mapishim-%PROCESSOR_ARCHITECTURE%\\mapishim.dll"), dll_path
    default = wine_run(prefix64.work, "reg", "query", "HKCU\\Software\\Clients\\Mail", "/ve").stdout
    assert re.search(r"REG_SZ\s+mapishim\s*$", default, re.M), default
    for arch, build in builds.items():
        expanded = dll_path.replace("%PROCESSOR_ARCHITECTURE%", arch)
        unix = prefix64.work / "drive_c" / expanded[3:].replace("\\", os.sep)
        assert unix.read_bytes() == (windows_dist / build / "mapishim.dll").read_bytes(), expanded
    status = wine_run(prefix64.work, programs / "mapishim-AMD64" / "mapishim.exe", "status").stdout
    assert re.search(r'HKCU: default mail client "mapishim"; DLLPath .*mapishim\.dll \(exists, this mapishim build\)', status), status

    # As Add or Remove Programs and Intune uninstall: no ALLUSERS; the package finds its
    # per-user record.
    msiexec(prefix64, tmp_path, "/x", current["x64"])
    # Only the (empty) per-user Programs known folder may stay: Windows keeps it, and Wine
    # made it for this install.
    assert files_under(programs) == []
    # Windows Installer's package cache folder stays, empty, as on every Windows.
    assert [p for p in outside() if p != f"windows{os.sep}Installer"] == [p for p in files_before if p != f"windows{os.sep}Installer"]
    assert_same_registry(registry(prefix64, tmp_path, "after"), [hklm_before, hkcu_before])


def clients_mail(blocks):
    return [b for b in blocks if "\\Clients\\Mail" in b.split("]")[0]]


def without_installer_records(blocks, product_code):
    def installer_record(key):
        return "\\Windows\\CurrentVersion\\Installer" in key or key.endswith(f"\\Uninstall\\{product_code}]")

    return [b for b in blocks if not installer_record(b.split("\n")[0].strip())]


def test_upgrade_from_a_lower_version_leaves_one_product(msi_packages, prefix64, tmp_path):
    """Wine 8's RemoveExistingProducts removes the old product without UPGRADINGPRODUCTCODE
    (it runs `msiexec /i {code} REMOVE=ALL`), so under Wine the old product's removal
    unregisters and removes the machine file, and the properties are given again; on
    Windows both are kept (docs/deploy-windows.md)."""
    current, older = msi_packages
    before = registry(prefix64, tmp_path, "before")
    msiexec(prefix64, tmp_path, "/i", older["x64"], "REGISTER=1", "FROM=old@example.org")
    [(old_code, old_version)] = installed_products(prefix64, tmp_path)
    assert old_version == "0.0.1"
    msiexec(prefix64, tmp_path, "/i", current["x64"], f"FROM={FROM}")
    [(code, version)] = installed_products(prefix64, tmp_path)
    assert version == VERSION and code != old_code
    machine_file = prefix64.drive_c / "ProgramData" / "mapishim" / "config.toml"
    assert tomllib.loads(machine_file.read_text())["from"] == FROM
    status = wine_run(prefix64.work, prefix64.drive_c / "Program Files" / "mapishim" / "mapishim.exe", "status").stdout
    assert 'default mail client "mapishim"' in status and "this mapishim build" in status, status
    downgrade = msiexec(prefix64, tmp_path, "/i", older["x64"], check=False)
    # The MajorUpgrade's launch condition (Wine logs no message text, only the failure).
    assert downgrade.returncode != 0 and "LaunchConditions. Return value 0" in downgrade.log, downgrade.log[-3000:]
    assert installed_products(prefix64, tmp_path) == [(code, version)]
    msiexec(prefix64, tmp_path, "/x", current["x64"])
    assert installed_products(prefix64, tmp_path) == []
    assert_same_registry(registry(prefix64, tmp_path, "after"), before)


def test_x86_package_in_a_32_bit_prefix(msi_packages, prefix32, windows_dist, tmp_path):
    current, _ = msi_packages
    before = registry(prefix32, tmp_path, "before")
    with Server() as server:
        msiexec(prefix32, tmp_path, "/i", current["x86"], "SMTP_HOST=127.0.0.1", f"SMTP_PORT={server.port}", "SMTP_SECURITY=none", f"FROM={FROM}")
        folder = prefix32.drive_c / "Program Files" / "mapishim"
        assert files_under(folder) == ["mapi32.dll", "mapishim.dll", "mapishim.exe"]
        exe = no_dll_program("wine32", windows_dist, tmp_path)
        proc = wine_run(prefix32.work, exe, "from the x86 package", check=False, timeout=120)
        assert proc.returncode == 0 and "rc=0" in proc.stdout, proc.stdout + proc.stderr
        [message] = received(server, 1)
    assert message["Subject"] == "from the x86 package" and str(message["From"]) == FROM
    msiexec(prefix32, tmp_path, "/x", current["x86"])
    assert not folder.exists()
    assert_same_registry(registry(prefix32, tmp_path, "after"), before)


def test_x86_package_refuses_64_bit_windows(msi_packages, prefix64, tmp_path):
    """On 64-bit Windows the x64 package holds both builds; the x86 one would register a
    DLLPath that 64-bit callers expand to a folder it never fills."""
    current, _ = msi_packages
    refused = msiexec(prefix64, tmp_path, "/i", current["x86"], check=False)
    assert refused.returncode != 0 and "LaunchConditions. Return value 0" in refused.log
    assert installed_products(prefix64, tmp_path) == []
    assert not (prefix64.drive_c / "Program Files (x86)" / "mapishim").exists()
