"""The C suite under valgrind: no memory errors, nothing definitely lost. The suite names its
own cases (`mapi_suite --list`); those that need a setup of their own are left out."""

import pytest
from conftest import Setup, have, run, run_case

VALGRIND = (
    "valgrind", "--error-exitcode=99", "--leak-check=full", "--show-leak-kinds=definite",
    "--errors-for-leak-kinds=definite", "--track-fds=no", "-q",
)


def suite_cases(suite):
    """The cases that run under the default setup, as the suite lists them."""
    listed = [line.split() for line in run([suite, "--list"]).stdout.splitlines() if line.strip()]
    return [fields[0] for fields in listed if "own-setup" not in fields[1:]]


def test_valgrind_clean(linux_suite, tmp_path, subtests):
    if not have("valgrind"):
        pytest.skip("valgrind not installed")
    cases = suite_cases(linux_suite)
    # A broken list must not pass as "nothing to check".
    assert {"threads", "attachments", "free_buffer", "bad_recipients"} <= set(cases), cases
    for case in cases:
        with subtests.test(case=case):
            setup = Setup(tmp_path / case)
            proc = run_case(linux_suite, setup, case, wrapper=VALGRIND, timeout=600, MAPISHIM_TEST_FIFO=setup.root / "none")
            assert proc.returncode == 0, f"{case}: exit {proc.returncode}:\n{proc.stderr[-4000:]}"
