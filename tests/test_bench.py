"""scripts/bench still runs: a smoke run on the debug build, every part (outbox, the C limits,
smtp-sink, aiosmtpd, the OAuth2 and Graph stand-ins). Its figures mean nothing here (a
debug build, tiny counts, other tests' load); what is checked is that every row is printed
with a figure, so that the benchmark cannot rot between the runs that publish figures."""

import re
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.smtp

ROWS = [
    "outbox msgs/s, 100 KB att.",
    "vs Python email, same steps",
    "CPU ms per message",
    "MB attachment, wall time",
    "MB attachment, peak RSS",
    "SMTP msgs/s, one session, 20 KB, smtp-sink",
    "vs the limit (C client, same exchange)",
    "vs smtplib, new connection per message",
    "vs smtplib, one connection",
    "SMTP msgs/s, one session, 20 KB, aiosmtpd",
    "(Python server) vs new connections",
    "XOAUTH2 msgs/s",
    "Graph sendMail msgs/s",
]


def test_the_benchmark_smoke_run_prints_every_row():
    done = subprocess.run(
        [sys.executable, ROOT / "scripts" / "bench", "--quick", "--profile", "debug"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for row in ROWS:
        found = [line for line in lines if row in line]
        assert found, f"no row {row!r} in:\n{done.stdout}"
        # A figure right after the row's name: digits, maybe with a unit.
        assert re.search(r"\s[0-9][0-9,.]*( s| MiB)?\s+vs ", found[0]), found[0]
