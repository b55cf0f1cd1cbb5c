"""include/mapi.h: fresh, clean in every language mode, SDK names usable, and the libraries
export exactly the Simple MAPI symbols."""

import pytest
from conftest import C_DIR, ROOT, compile_c, have, run, run_case

MODES = {
    "c89": ("-x", "c", "-std=c89", "-pedantic"),
    "c11": ("-x", "c", "-std=c11", "-pedantic"),
    "c++17": ("-x", "c++", "-std=c++17", "-pedantic"),
}


def test_header_is_fresh():
    run(["cargo", "run", "--quiet", "-p", "mapishim-abi", "--bin", "mapishim-gen-header", "--", "--check"], cwd=ROOT)


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
@pytest.mark.parametrize("mode", MODES)
def test_sdk_names_compile_and_run(dist, build_dir, setup, compiler, mode):
    if not have(compiler):
        pytest.skip(f"{compiler} not installed")
    exe = compile_c(dist, build_dir, C_DIR / "sdk_names.c", f"sdk_{compiler}_{mode}", compiler=compiler, flags=MODES[mode])
    proc = run_case(exe, setup, "")
    assert proc.returncode == 0, proc.stderr
    [msg] = setup.messages()
    assert msg["Subject"] == "sdk names"


def test_static_library_links_and_works(dist, build_dir, setup):
    exe = compile_c(dist, build_dir, C_DIR / "mapi_suite.c", "mapi_suite_static", static=True)
    proc = run_case(exe, setup, "threads")
    assert proc.returncode == 0, proc.stderr
    assert len(setup.messages()) == 400


def test_shared_library_exports_only_simple_mapi(dist):
    lib = dist / "lib" / "libmapi32.so.1"
    symbols = run(["nm", "-D", "--defined-only", lib]).stdout.split()
    exported = sorted(s for s in symbols[2::3])
    expected = sorted(
        ["MAPIAddress", "MAPIDeleteMail", "MAPIDetails", "MAPIFindNext", "MAPIFreeBuffer", "MAPILogoff",
         "MAPILogon", "MAPIReadMail", "MAPIResolveName", "MAPISaveMail", "MAPISendDocuments",
         "MAPISendMail", "MAPISendMailW"]
    )
    assert exported == expected
    dynamic = run(["readelf", "-d", lib]).stdout
    assert "Library soname: [libmapi32.so.1]" in dynamic


@pytest.mark.parametrize("triplet", ["x86_64-w64-mingw32", "i686-w64-mingw32"])
@pytest.mark.parametrize("mode", ["c89", "c11"])
def test_header_compiles_for_windows(build_dir, triplet, mode):
    """Windows C callers may include our header instead of the SDK's."""
    if not have(f"{triplet}-gcc"):
        pytest.skip(f"{triplet}-gcc not installed")
    compiler = f"{triplet}-gcc"
    obj = build_dir / f"header_{triplet}_{mode}.o"
    run([compiler, *MODES[mode], "-Wall", "-Wextra", "-Werror", "-c", "-I", ROOT / "include", C_DIR / "sdk_names.c", "-o", obj])
