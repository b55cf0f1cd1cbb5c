"""A real SMTP server on loopback for the tests: aiosmtpd, with optional STARTTLS,
implicit TLS, AUTH, per-recipient refusals, a connection drop during DATA, and optional
PIPELINING (RFC 2920; aiosmtpd reads commands from one stream, so it serves pipelined
commands as they come, but does not announce the extension)."""

import asyncio
import socket
import ssl
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    data: bytes


@dataclass
class Recorder:
    """The handler: records every accepted message and every connection."""

    refuse: set = field(default_factory=set)
    drop_data: int = 0  # drop the connection during this many DATA commands
    data_delay: float = 0.0  # seconds before answering DATA (so that concurrent clients overlap)
    pipelining: bool = False  # announce PIPELINING
    refuse_mail: str = ""  # the reply to every MAIL FROM, e.g. "550 5.7.1 sender refused"
    messages: list = field(default_factory=list)
    peers: set = field(default_factory=set)  # one per connection
    pipelined: int = 0  # MAIL commands that arrived with the RCPT already behind them
    noops: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def connections(self):
        return len(self.peers)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.peers.add(session.peer)
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        # What the client wrote behind MAIL before reading its reply (aiosmtpd's reader).
        if b"RCPT TO:" in bytes(server._reader._buffer).upper():
            with self.lock:
                self.pipelined += 1
        if self.refuse_mail:
            return self.refuse_mail
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_NOOP(self, server, session, envelope, arg):
        with self.lock:
            self.noops += 1
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        with self.lock:
            if self.drop_data > 0:
                self.drop_data -= 1
                server.transport.close()  # gone before the final 250
                return "421 closing"
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK queued"


class Loopback:
    """aiosmtpd with `handler` on 127.0.0.1 at a free port (or `port`); a context manager.
    `tls`: an ssl.SSLContext for implicit TLS; `server_kwargs` go to aiosmtpd's SMTP."""

    def __init__(self, handler, port=None, tls=None, **server_kwargs):
        self.handler = handler
        self.port = port or free_port()
        self.controller = Controller(
            handler, hostname="127.0.0.1", port=self.port, ssl_context=tls, server_kwargs=server_kwargs, ready_timeout=10
        )

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    @property
    def messages(self):
        return self.handler.messages


class Server(Loopback):
    def __init__(self, port=None, tls=None, starttls=None, auth=None):
        """tls / starttls: an ssl.SSLContext for implicit TLS or STARTTLS; auth: (user, password)."""
        self.recorder = Recorder()
        kwargs = {}
        if starttls is not None:
            kwargs.update(tls_context=starttls, require_starttls=True)
        if auth is not None:
            user, password = auth

            def check(server, session, envelope, mechanism, data):
                ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
                return AuthResult(success=ok, handled=False)

            kwargs.update(authenticator=check, auth_require_tls=True, auth_required=True)
        super().__init__(self.recorder, port=port, tls=tls, **kwargs)


def tls_contexts(tmp_path):
    """A test CA (trusted through `ca_file`) and a server context for 127.0.0.1."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return ca_file, context
