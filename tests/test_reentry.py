"""A backend plugin that calls Simple MAPI again from its own code (tests/c/plugin_reenter.c).
Before the engine refused such calls, a nested call from `create` deadlocked on the
engine's lock, and one from `send` or `resolve` recursed until the stack overflowed. Now the
nested call gets MAPI_E_FAILURE (2) at once, with one log line, and the outer call goes on."""

import pytest
from conftest import C_DIR, ROOT, compile_c, run, run_case, run_unpiped
from test_plugin import log, plugin_config


@pytest.fixture(scope="session")
def reenter_plugin(build_dir):
    out = build_dir / "libc_reenter.so"
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC"]
    run(["gcc", *flags, "-I", ROOT / "include", C_DIR / "plugin_reenter.c", "-o", out, "-ldl"])
    return out


@pytest.fixture(scope="session")
def resolve_name(dist, build_dir):
    return compile_c(dist, build_dir, C_DIR / "resolve_name.c", "resolve_name")


def nested(setup):
    """The nested calls the plugin recorded: [(where, rc, milliseconds)]."""
    out = setup.root / "reenter.txt"
    lines = out.read_text().splitlines() if out.exists() else []
    fields = [line.split() for line in lines]
    return [(f[0], int(f[1][3:]), float(f[2][3:])) for f in fields]


def refusal_lines(setup, where):
    needle = f'backend "plugin" called Simple MAPI again from its {where}; refused'
    return [line for line in log(setup).splitlines() if needle in line]


@pytest.mark.parametrize(
    "where, program, expected_outer",
    [
        # create runs while the runtime is built, on the first call: a send here.
        ("create", "suite", 0),
        ("send", "suite", 0),
        # The plugin answers "not mine" after its nested call; the vCard book resolves.
        ("resolve", "resolver", 0),
    ],
)
def test_a_plugin_calling_mapi_again_gets_a_code_and_the_process_survives(
    where, program, expected_outer, setup, reenter_plugin, linux_suite, resolve_name
):
    plugin_config(setup, reenter_plugin)
    env = dict(MAPISHIM_REENTER=where, MAPISHIM_REENTER_OUT=setup.root / "reenter.txt", MAPISHIM_TEST_TO="only")
    # A deadlock or a stack overflow ends this with a timeout or a signal, never a pass.
    if program == "suite":
        proc = run_case(linux_suite, setup, "send_one", timeout=30, **env)
        assert proc.returncode == 0, proc.stdout + proc.stderr + log(setup)
        assert int(proc.stdout.strip().rsplit("rc=", 1)[1]) == expected_outer, proc.stdout + log(setup)
    else:
        proc = run_unpiped([resolve_name, "Alice Martin"], setup.env(**env), timeout=30)
        assert proc.returncode == 0, proc.stdout + proc.stderr + log(setup)
        assert proc.stdout.splitlines() == ["rc=0 name=Alice Martin address=SMTP:alice@example.org"], proc.stdout
    calls = nested(setup)
    assert [(w, rc) for w, rc, _ in calls] == [(where, 2)], f"{calls}\n{log(setup)}"
    assert calls[0][2] < 1000, f"the nested call returned within a second: {calls}"
    [line] = refusal_lines(setup, "initialization" if where == "create" else where)
    assert "MAPI_E_FAILURE" in line or "code=2" in line, line

