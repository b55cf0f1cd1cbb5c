"""Postfix's smtp-sink on a loopback port: a C SMTP server that announces PIPELINING and
costs its clients nothing, for the pipelining tests and scripts/bench. Runs unprivileged
(-u nobody when started as root); counts the messages it accepted (-c), and with
`dump=True` writes each transaction to a file (-d), read into `dumps` when it stops.
Its output goes to a file, not a pipe: -c prints a line per message, and a pipe read only
at the end fills after a few thousand and stalls the server."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from smtp_server import free_port

SMTP_SINK_PATHS = ("/usr/sbin/smtp-sink", "/usr/lib/postfix/sbin/smtp-sink")


def smtp_sink_exe():
    exe = shutil.which("smtp-sink") or next((p for p in SMTP_SINK_PATHS if os.path.exists(p)), None)
    if exe is None:
        raise FileNotFoundError("smtp-sink is missing: install Debian's postfix package (its service stays off)")
    return exe


class SmtpSink:
    def __init__(self, dump=False, options=()):
        self.port = free_port()
        self.dump = None
        cmd = [smtp_sink_exe(), "-c", *options]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        if dump:
            # Outside the tests' private folders: the unprivileged server writes here.
            self.dump = tempfile.mkdtemp(prefix="smtp-sink-")
            os.chmod(self.dump, 0o777)
            cmd += ["-d", os.path.join(self.dump, "%H%M%S.")]
        self.output = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd + [f"127.0.0.1:{self.port}", "256"], stdout=self.output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    self.proc.wait()
                    raise RuntimeError(f"smtp-sink did not start: {self.read_output().decode(errors='replace')}")
                time.sleep(0.05)
        self.messages = None
        self.dumps = []

    def read_output(self):
        self.output.seek(0)
        out = self.output.read()
        self.output.close()
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        out = self.read_output()
        counts = re.findall(rb"mesg=(\d+)", out)
        self.messages = int(counts[-1]) if counts else 0
        if self.dump is not None:
            for entry in sorted(os.scandir(self.dump), key=lambda p: p.stat().st_mtime_ns):
                with open(entry.path, "rb") as f:
                    self.dumps.append(f.read())
            shutil.rmtree(self.dump)
