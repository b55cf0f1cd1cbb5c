"""The C suite under valgrind: no memory errors, nothing definitely lost."""

import pytest
from conftest import have, run_case

CASES = [
    "recipient_shapes", "null_and_empty", "attachments", "utf8", "wide", "bad_utf8", "originators",
    "flags", "sessions", "resolve", "free_buffer", "no_mailbox", "send_documents", "threads",
    "null_message", "count_with_null_array", "bad_attachments", "bad_recipients",
    "header_injection", "large_text", "many_recipients", "many_attachments",
]

VALGRIND = (
    "valgrind", "--error-exitcode=99", "--leak-check=full", "--show-leak-kinds=definite",
    "--errors-for-leak-kinds=definite", "--track-fds=no", "-q",
)


@pytest.mark.parametrize("case", CASES)
def test_valgrind_clean(linux_suite, setup, case):
    if not have("valgrind"):
        pytest.skip("valgrind not installed")
    proc = run_case(linux_suite, setup, case, wrapper=VALGRIND, timeout=600, MAPISHIM_TEST_FIFO=setup.root / "none")
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr[-4000:]}"
