"""A real Dovecot IMAP server on loopback for the drafts tests, started as an unprivileged
process with its own configuration in a temporary folder: Maildir storage, one passwd-file
user, TLS with a trustme certificate (trusted by the client through `ca_file`), STARTTLS on
one port and implicit TLS on another, and the \\Drafts and \\Sent special-use mailboxes under
names other than "Drafts" and "Sent", so that RFC 6154 discovery is what finds them.

Dovecot refuses mail access as root, so as root (CI) the whole server runs as `nobody`;
otherwise as the current user. Optionally an `oauth2` passdb validates XOAUTH2 and
OAUTHBEARER tokens at an RFC 7662 introspection endpoint (tests/oauth_server.py)."""

import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
USER = "anna@example.org"
PASSWORD = "s3cret-imap"
DRAFTS = "Brouillons"
SENT = "Gesendet"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self, introspect_url=None):
        import trustme

        self.introspect_url = introspect_url
        # Not under pytest's tmp_path: as root that is 0700 and `nobody` could not enter it.
        self.root = Path(tempfile.mkdtemp(prefix="mapishim-dovecot-"))
        self.starttls_port = free_port()
        self.tls_port = free_port()
        if os.geteuid() == 0:
            account = pwd.getpwnam("nobody")
        else:
            account = pwd.getpwuid(os.geteuid())
        self.uid, self.gid, self.user = account.pw_uid, account.pw_gid, account.pw_name
        self.group = _group_name(self.gid)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = self.root / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert.private_key_and_cert_chain_pem.write_to_path(str(self.root / "server.pem"))
        self.ssl_context = ssl.create_default_context(cafile=str(self.ca_file))
        (self.root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        (self.root / "dovecot.conf").write_text(self._config())
        if introspect_url:
            (self.root / "oauth2.conf.ext").write_text(
                f"introspection_mode = post\nintrospection_url = {introspect_url}\n"
                "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
            )
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir()
        if os.geteuid() == 0:
            for path in [self.root, *self.root.rglob("*")]:
                os.chown(path, self.uid, self.gid)
        self.process = None

    def _config(self):
        r = self.root
        oauth = ""
        mechanisms = "plain login"
        if self.introspect_url:
            mechanisms += " xoauth2 oauthbearer"
            oauth = f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {r}/oauth2.conf.ext\n}}\n"
        return f"""# Written by tests/dovecot_server.py
base_dir = {r}/run
state_dir = {r}/state
instance_name = mapishim-test-{self.tls_port}
protocols = imap
listen = 127.0.0.1
log_path = {r}/dovecot.log
default_internal_user = {self.user}
default_internal_group = {self.group}
default_login_user = {self.user}
first_valid_uid = {self.uid}
last_valid_uid = {self.uid}
first_valid_gid = 0
ssl = yes
ssl_cert = <{r}/server.pem
ssl_key = <{r}/server.pem
disable_plaintext_auth = yes
auth_mechanisms = {mechanisms}
auth_verbose = yes
mail_location = maildir:{r}/mail/%u
{oauth}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/users
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={r}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox {DRAFTS} {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox {SENT} {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts-Old {{
    auto = subscribe
  }}
}}
service imap-login {{
  chroot =
  user = {self.user}
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.starttls_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  user = {self.user}
}}
service auth-worker {{
  user = {self.user}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""

    def _demote(self):
        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(self.gid)
            os.setuid(self.uid)

    def start(self):
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
            preexec_fn=self._demote,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "stderr.log", "ab"),
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"dovecot exited {self.process.returncode}: {self.logs()}")
            try:
                with socket.create_connection(("127.0.0.1", self.tls_port), timeout=1):
                    with socket.create_connection(("127.0.0.1", self.starttls_port), timeout=1):
                        return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"dovecot did not listen: {self.logs()}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        # Its children (imap, auth) go with the master; wait until the ports are free.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.tls_port), timeout=0.5).close()
                time.sleep(0.1)
            except OSError:
                return

    def logs(self):
        text = ""
        for name in ("stderr.log", "dovecot.log"):
            path = self.root / name
            if path.exists():
                text += path.read_text(errors="replace")
        return text

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # Reading back, independently of mapishim
    def client(self):
        imap = imaplib.IMAP4_SSL("127.0.0.1", self.tls_port, ssl_context=self.ssl_context, timeout=30)
        imap.login(USER, PASSWORD)
        return imap

    def fetch_all(self, mailbox):
        """[(flags, raw bytes)] of every message in `mailbox`, in UID order."""
        imap = self.client()
        try:
            typ, _ = imap.select(mailbox, readonly=True)
            assert typ == "OK", mailbox
            typ, data = imap.uid("SEARCH", None, "ALL")
            uids = data[0].split()
            found = []
            for uid in uids:
                typ, parts = imap.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
                assert typ == "OK"
                meta, raw = parts[0]
                flags = imaplib.ParseFlags(meta)
                found.append((tuple(f.decode() for f in flags), raw))
            return found
        finally:
            imap.logout()


def _group_name(gid):
    import grp

    return grp.getgrgid(gid).gr_name
