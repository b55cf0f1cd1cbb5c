"""Shared fixtures: build the library once, compile the C programs, run them in a scratch
setup with their own configuration and outbox, and parse what they wrote with Python's
`email` package (an independent MIME parser)."""

import email
import email.policy
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
C_DIR = ROOT / "tests" / "c"
IN_CI = os.environ.get("CI") == "true"

VCARDS = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Alice Martin\r\nN:Martin;Alice;;;\r\n"
    "EMAIL;TYPE=INTERNET,pref:alice@example.org\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bob Martin\r\nEMAIL:bob@example.org\r\nEND:VCARD\r\n"
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI nothing may be skipped: a skip is reported as a failure."""
    outcome = yield
    report = outcome.get_result()
    unavailable = "UNAVAILABLE: 32-bit Wine" in str(report.longrepr)
    if IN_CI and report.skipped and not unavailable:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must run everything: {report.longrepr}"


def run(cmd, **kwargs):
    kwargs.setdefault("check", True)
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run([str(c) for c in cmd], **kwargs)


@pytest.fixture(scope="session")
def dist():
    out = run([ROOT / "scripts" / "build.sh", "debug"], cwd=ROOT).stdout.strip().splitlines()[-1]
    return Path(out)


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cbuild")


def compile_c(dist, build_dir, source, name, compiler="gcc", flags=("-std=c99",), static=False):
    exe = build_dir / name
    lib = dist / "lib"
    cmd = [compiler, *flags, "-Wall", "-Wextra", "-Werror", "-g", "-I", dist / "include", "-I", C_DIR, source, "-o", exe]
    if static:
        cmd += [lib / "libmapi32.a", "-lpthread", "-ldl", "-lm"]
    else:
        cmd += ["-L", lib, "-lmapi32", "-lpthread", f"-Wl,-rpath,{lib}"]
    run(cmd)
    return exe


@pytest.fixture(scope="session")
def linux_suite(dist, build_dir):
    return compile_c(dist, build_dir, C_DIR / "mapi_suite.c", "mapi_suite")


WINE32_UNAVAILABLE = os.environ.get("MAPISHIM_WINE32_UNAVAILABLE", "")
MINGW = {"wine64": "x86_64-w64-mingw32", "wine32": "i686-w64-mingw32"}
ARCH_DIR = {"wine64": "x64", "wine32": "x86"}


def require_wine(kind):
    """Skips (a failure under CI) when the Windows tool chain or Wine is missing; the one
    allowed exception is 32-bit Wine whose packages the mirror cannot provide."""
    if kind == "wine32" and WINE32_UNAVAILABLE:
        pytest.skip(f"UNAVAILABLE: 32-bit Wine ({WINE32_UNAVAILABLE})")
    for tool in (f"{MINGW[kind]}-gcc", "wine", "wineboot"):
        if not have(tool):
            pytest.skip(f"{tool} not installed")


@pytest.fixture(scope="session")
def windows_dist():
    require_wine("wine64")
    out = run([ROOT / "scripts" / "build-windows.sh"], cwd=ROOT).stdout.strip().splitlines()[-1]
    return Path(out)


@pytest.fixture(scope="session")
def wine_prefix():
    """One Wine prefix (64-bit, with WoW64 for 32-bit programs), kept warm for the session."""
    require_wine("wine64")
    prefix = ROOT / "target" / "wine" / "prefix"
    env = dict(os.environ, WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEARCH="win64")
    env.pop("DISPLAY", None)
    boot_prefix(prefix, env)
    # A persistent server keeps later runs fast; it daemonizes, so it must not hold our pipes.
    # It exits 2 when wineboot's server is still running, which serves as well.
    subprocess.run(["wineserver", "-p"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield prefix
    run(["wineserver", "-k"], env=env, check=False)


def boot_prefix(prefix, env):
    """Creates the Wine prefix `env` names unless it exists."""
    if not (prefix / "system.reg").exists():
        prefix.parent.mkdir(parents=True, exist_ok=True)
        # No pipes: wineboot leaves the server and helper processes running with our handles.
        with tempfile.TemporaryFile() as log:
            booted = subprocess.run(["wineboot", "-i"], env=env, stdout=log, stderr=log, timeout=600)
            log.seek(0)
            assert booted.returncode == 0, f"wineboot failed: {log.read().decode(errors='replace')[-2000:]}"


def wine_env(prefix, overrides="mapi32=n"):
    env = {"WINEPREFIX": str(prefix), "WINEDEBUG": "-all", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    if overrides:
        env["WINEDLLOVERRIDES"] = overrides
    return env


def wine_program(kind, windows_dist, build_dir, source, name, with_dll=True, libs=()):
    """Compiles a test program with mingw-w64 against mingw-w64's own <mapi.h>, in a folder
    with our mapi32.dll (and the Wine 8 bcryptprimitives forwarder) beside it."""
    require_wine(kind)
    app = build_dir / f"{kind}-{name}"
    app.mkdir(exist_ok=True)
    exe = app / f"{name}.exe"
    run([f"{MINGW[kind]}-gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-I", C_DIR, source, "-o", exe, *libs])
    arch = windows_dist / ARCH_DIR[kind]
    if with_dll:
        shutil.copy(arch / "mapi32.dll", app / "mapi32.dll")
        shutil.copy(arch / "wine" / "bcryptprimitives.dll", app / "bcryptprimitives.dll")
    return exe


@pytest.fixture(scope="session", params=["linux", "wine64", "wine32"])
def suite(request, build_dir):
    """The C suite on every platform it must pass on."""
    if request.param == "linux":
        return Runner("linux", request.getfixturevalue("linux_suite"))
    windows_dist = request.getfixturevalue("windows_dist")
    prefix = request.getfixturevalue("wine_prefix")
    exe = wine_program(request.param, windows_dist, build_dir, C_DIR / "mapi_suite.c", "mapi_suite")
    return Runner(request.param, exe, prefix=["wine"], env=wine_env(prefix))


@pytest.fixture(scope="session")
def linux_sender(dist, build_dir):
    return compile_c(dist, build_dir, C_DIR / "mapi_send.c", "mapi_send")


def sender_runner(request, build_dir, kind, name="mapi_send"):
    """`tests/c/mapi_send.c` (a command-line driven caller) as `kind` runs it."""
    if kind == "linux":
        exe = request.getfixturevalue("linux_sender")
        if name != "mapi_send":
            # A copy under another file name: routing looks at the program's name.
            renamed = build_dir / name
            shutil.copy(exe, renamed)
            exe = renamed
        return Runner("linux", exe)
    windows_dist = request.getfixturevalue("windows_dist")
    prefix = request.getfixturevalue("wine_prefix")
    exe = wine_program(kind, windows_dist, build_dir, C_DIR / "mapi_send.c", name)
    return Runner(kind, exe, prefix=["wine"], env=wine_env(prefix))


@pytest.fixture(scope="session", params=["linux", "wine64", "wine32"])
def sender(request, build_dir):
    return sender_runner(request, build_dir, request.param)


def send(runner, setup, *args, timeout=120, **env):
    """Runs mapi_send with `args`; returns (codes printed as rc=N, the process)."""
    proc = run_unpiped([*runner.prefix, runner.exe, *args], setup.env(runner, **env), timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stdout}\n{proc.stderr}"
    codes = [int(line[3:]) for line in proc.stdout.splitlines() if line.startswith("rc=")]
    return codes, proc


@dataclass
class Setup:
    """One isolated run: a config file, an outbox, a log and a scratch folder."""

    root: Path
    outbox: Path = field(init=False)
    scratch: Path = field(init=False)
    log: Path = field(init=False)
    config: Path = field(init=False)

    def __post_init__(self):
        self.outbox = self.root / "outbox"
        self.scratch = self.root / "scratch"
        self.log = self.root / "mapishim.log"
        self.config = self.root / "config.toml"
        self.scratch.mkdir(parents=True, exist_ok=True)
        (self.root / "contacts.vcf").write_text(VCARDS, newline="")
        self.write_config()

    def write_config(self, extra_top="", outbox=None, level="info", text=None):
        """Records the configuration; it is written for the runner's path syntax when a
        case runs (`text` may use {path} placeholders for that reason)."""
        self.config_args = dict(extra_top=extra_top, outbox=outbox, level=level, text=text)
        self.render_config(LINUX_PATHS)

    def render_config(self, path):
        a = self.config_args
        if a["text"] is not None:
            text = a["text"].replace("{outbox}", path(self.outbox)).replace("{log}", path(self.log))
            # {path:/some/file} → the file's path as a TOML string, in the runner's syntax.
            text = re.sub(r"\{path:([^}]*)\}", lambda m: path(m.group(1)), text)
        else:
            text = (
                f'from = "Config Sender <config@example.org>"\n{a["extra_top"]}\n'
                f'[outbox]\ndir = {path(a["outbox"] or self.outbox)}\n'
                f'[addressbook]\nvcard = [{path(self.root / "contacts.vcf")}]\n'
                f'[log]\nfile = {path(self.log)}\nlevel = "{a["level"]}"\n'
            )
        if self.config_args.get("delete"):
            self.config.unlink(missing_ok=True)
        else:
            self.config.write_text(text)

    def env(self, runner=None, **extra):
        runner = runner or Runner("linux", None)
        self.render_config(runner.toml_path)
        env = dict(os.environ)
        env.update(
            MAPISHIM_CONFIG=runner.path(self.config),
            MAPISHIM_TEST_SCRATCH=runner.path(self.scratch),
        )
        if runner.name == "linux":
            env["HOME"] = str(self.root / "home")
        env.pop("MAPISHIM_LOG", None)
        env.update(runner.env)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def files(self):
        """Every file in the outbox folder (complete or not)."""
        if not self.outbox.exists():
            return []
        return sorted(p for p in self.outbox.rglob("*") if p.is_file())

    def messages(self):
        files = self.files()
        assert all(p.suffix == ".eml" for p in files), f"stray files in outbox: {files}"
        return [parse(p) for p in files]


def parse(path):
    raw = path.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b""), f"{path.name}: bare LF"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n")), f"{path.name}: line over 998 bytes"
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        assert not part.defects, f"{path.name}: MIME defects {part.defects}"
    assert msg["Message-ID"] and msg["Date"] and msg["From"], path.name
    msg.raw = raw
    msg.path = path
    return msg


@pytest.fixture
def setup(tmp_path):
    return Setup(tmp_path)


def toml_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def LINUX_PATHS(p):
    return toml_string(str(p))


def wine_path(p):
    return "Z:" + str(p).replace("/", "\\")


@dataclass
class Runner:
    """How a compiled C test program runs: natively, or as a Windows program under Wine."""

    name: str
    exe: Path
    prefix: list = field(default_factory=list)
    env: dict = field(default_factory=dict)

    @property
    def is_wine(self):
        return self.name.startswith("wine")

    def path(self, p):
        return wine_path(p) if self.is_wine else str(p)

    def toml_path(self, p):
        return toml_string(self.path(p))


def run_unpiped(cmd, env, timeout=300, check=False):
    """Like `run`, but output goes to files, not pipes: Wine's helper processes (services,
    winedevice) inherit the handles and would keep a pipe open long after the program."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.run([str(c) for c in cmd], env=env, stdout=out, stderr=err, timeout=timeout)
        out.seek(0)
        err.seek(0)
        proc.stdout = out.read().decode(errors="replace")
        proc.stderr = err.read().decode(errors="replace")
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_case(exe, setup, case, wrapper=(), timeout=120, **env):
    runner = exe if isinstance(exe, Runner) else Runner("linux", exe)
    return run_unpiped([*wrapper, *runner.prefix, runner.exe, case], setup.env(runner, **env), timeout)


def have(tool):
    return shutil.which(tool) is not None


# ---- stages ---------------------------------------------------------------------------
# `scripts/test.sh c|wine|smtp` runs the tests of one stage (`pytest -m STAGE`). Every test
# belongs to exactly one, so the three together are the whole suite. A test may name its
# stage with a marker; otherwise it is decided here, in this order:
STAGES = {
    "wine": "runs the Windows build or a Windows program under Wine: a fixture in WINE_FIXTURES, "
    "or a wine64/wine32 parameter",
    "smtp": "starts a mail service on loopback (aiosmtpd, msmtp, Dovecot): its module uses a "
    "helper in SERVICE_HELPERS",
    "c": "everything else: C programs against the Linux library, headers, symbols, valgrind, the CLI",
}
WINE_FIXTURES = {"windows_dist", "wine_prefix", "wine8_ready", "wine_kind"}
SERVICE_HELPERS = {"smtp_server", "smtp_sink", "dovecot", "dovecot_server", "graph_standin"}


def stage_of(item):
    named = [m.name for m in item.iter_markers() if m.name in STAGES]
    if len(set(named)) > 1:
        raise pytest.UsageError(f"{item.nodeid}: more than one stage marker: {sorted(set(named))}")
    if named:
        return named[0]
    params = getattr(item, "callspec", None)
    params = params.params.values() if params else ()
    if WINE_FIXTURES & set(item.fixturenames) or any(p in ("wine64", "wine32") for p in params if isinstance(p, str)):
        return "wine"
    module = getattr(item, "module", None)
    if module and any(getattr(v, "__module__", None) in SERVICE_HELPERS for v in vars(module).values()):
        return "smtp"
    return "c"


def pytest_collection_modifyitems(config, items):
    for item in items:
        stage = stage_of(item)
        if item.get_closest_marker(stage) is None:
            item.add_marker(getattr(pytest.mark, stage))


def pytest_configure(config):
    for stage, text in STAGES.items():
        config.addinivalue_line("markers", f"{stage}: stage `scripts/test.sh {stage}`; {text}")
    # aiosmtpd 1.4 announces an API change we do not depend on.
    config.addinivalue_line("filterwarnings", "ignore:server_kwargs will be removed:DeprecationWarning")
