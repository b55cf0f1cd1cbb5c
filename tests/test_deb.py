"""The Debian package (issue 15): `dpkg -i` on this machine, then C programs built with
`pkg-config` and with CMake's `find_package(mapishim)` send a message through the installed
library; man pages and completions are in place; `dpkg -r` removes every file it installed.
lintian's verdict is written to target/ci/lintian.txt and may hold no error."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import C_DIR, ROOT, run

PACKAGE = "mapishim"


@pytest.fixture(scope="module")
def deb():
    if os.geteuid() != 0:
        pytest.skip("dpkg -i needs root (CI runs as root)")
    for tool in ("dpkg-deb", "pkg-config", "cmake", "lintian"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (scripts/setup.sh c)")
    if subprocess.run(["dpkg-query", "-W", PACKAGE], capture_output=True).returncode == 0:
        pytest.fail(f"a {PACKAGE} package is already installed on this machine; remove it first")
    return Path(run([ROOT / "scripts" / "build-deb.sh"], cwd=ROOT).stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def installed(deb):
    run(["dpkg", "-i", deb])
    files = [Path(p) for p in run(["dpkg", "-L", PACKAGE]).stdout.split()]
    try:
        yield [p for p in files if p.is_file() or p.is_symlink()]
    finally:
        subprocess.run(["dpkg", "-r", PACKAGE], capture_output=True)


def outbox_env(tmp_path):
    outbox = tmp_path / "outbox"
    config = tmp_path / "config.toml"
    config.write_text(f'from = "Builder <builder@example.org>"\n[outbox]\ndir = "{outbox}"\n')
    env = dict(os.environ, MAPISHIM_CONFIG=str(config), HOME=str(tmp_path))
    env.pop("LD_LIBRARY_PATH", None)
    return outbox, env


def sends(exe, tmp_path, subject):
    outbox, env = outbox_env(tmp_path)
    done = subprocess.run([exe, subject], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "rc=0", done.stdout + done.stderr
    [eml] = list(outbox.glob("*.eml"))
    import email
    import email.policy

    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == subject and msg["To"].addresses[0].addr_spec == "bob@example.org"
    # The program uses the installed library, not one from the build tree.
    libs = run(["ldd", exe]).stdout
    [loaded] = [line.split()[2] for line in libs.splitlines() if "libmapi32.so.1 =>" in line]
    multiarch = run(["gcc", "-print-multiarch"]).stdout.strip()
    assert os.path.realpath(loaded) == os.path.realpath(f"/usr/lib/{multiarch}/libmapi32.so.1"), libs


def test_layout(installed):
    names = {str(p) for p in installed}
    multiarch = run(["gcc", "-print-multiarch"]).stdout.strip()
    lib = f"/usr/lib/{multiarch}"
    for path in (
        f"{lib}/libmapi32.so.1", f"{lib}/libmapi32.so", f"{lib}/libmapi32.a",
        f"{lib}/pkgconfig/mapishim.pc", f"{lib}/cmake/mapishim/mapishimConfig.cmake",
        "/usr/include/mapishim/mapi.h", "/usr/include/mapishim/mapishim_plugin.h", "/usr/bin/mapishim",
        "/usr/share/man/man1/mapishim.1.gz", "/usr/share/man/man1/mapishim-send.1.gz",
        "/usr/share/bash-completion/completions/mapishim", "/usr/share/zsh/vendor-completions/_mapishim",
        "/usr/share/fish/vendor_completions.d/mapishim.fish", "/usr/share/doc/mapishim/copyright",
    ):
        assert path in names, path
    assert os.readlink(f"{lib}/libmapi32.so") == "libmapi32.so.1"
    assert "SONAME               libmapi32.so.1" in run(["objdump", "-p", f"{lib}/libmapi32.so.1"]).stdout
    assert run(["/usr/bin/mapishim", "--version"]).stdout.startswith("mapishim ")
    # The completion scripts know the subcommands.
    assert "outbox" in Path("/usr/share/bash-completion/completions/mapishim").read_text()
    shown = run(["man", "-P", "cat", "-l", "/usr/share/man/man1/mapishim-send.1.gz"], check=False) if shutil.which("man") else None
    if shown is not None and shown.returncode == 0:
        assert "MAPISendMail" in shown.stdout


def test_pkg_config_build_sends(installed, tmp_path):
    flags = run(["pkg-config", "--cflags", "--libs", PACKAGE]).stdout.split()
    assert "-I/usr/include/mapishim" in flags and "-lmapi32" in flags, flags
    assert run(["pkg-config", "--modversion", PACKAGE]).stdout.strip() == run(["/usr/bin/mapishim", "--version"]).stdout.split()[1]
    exe = tmp_path / "app"
    # The documented one-liner: cc app.c $(pkg-config --cflags --libs mapishim)
    run(["sh", "-c", f'cc -Wall -Werror "{C_DIR / "installed_app.c"}" -o "{exe}" $(pkg-config --cflags --libs {PACKAGE})'])
    sends(exe, tmp_path, "built with pkg-config")


def test_cmake_find_package_build_sends(installed, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(C_DIR / "installed_app.c", src / "app.c")
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(app C)\n"
        "find_package(mapishim 0.1 REQUIRED)\n"
        "add_executable(app app.c)\ntarget_link_libraries(app PRIVATE mapishim::mapi32)\n"
    )
    build = tmp_path / "build"
    run(["cmake", "-S", src, "-B", build])
    run(["cmake", "--build", build])
    sends(build / "app", tmp_path, "built with CMake")


def test_lintian_has_no_errors(deb):
    done = subprocess.run(["lintian", "--tag-display-limit", "0", deb], capture_output=True, text=True, timeout=600)
    report = ROOT / "target" / "ci" / "lintian.txt"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(done.stdout + done.stderr)
    errors = [line for line in done.stdout.splitlines() if line.startswith("E:")]
    assert errors == [], "\n".join(errors)


def test_remove_leaves_nothing(deb, tmp_path):
    # Its own install, after the others (module order): every file dpkg placed is gone after -r.
    run(["dpkg", "-i", deb])
    files = [Path(p) for p in run(["dpkg", "-L", PACKAGE]).stdout.split()]
    placed = [p for p in files if p.is_file() or p.is_symlink()]
    assert len(placed) > 20
    run(["dpkg", "-r", PACKAGE])
    assert [p for p in placed if p.exists() or p.is_symlink()] == []
    assert subprocess.run(["pkg-config", "--exists", PACKAGE]).returncode != 0
