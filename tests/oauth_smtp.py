"""A submission server for the OAuth2 and session tests: aiosmtpd on loopback with
STARTTLS, SASL PLAIN/LOGIN, XOAUTH2 and OAUTHBEARER (RFC 7628). Bearer tokens are checked
against the OAuth2 stand-in's introspection endpoint (RFC 7662); an invalid or expired
token gets the error challenge the mechanism defines, and the client's answer to it is
checked: empty for XOAUTH2, a single ^A for OAUTHBEARER. Every connection, AUTH attempt
and message is recorded with the connection it came on; anything the protocols do not
allow is recorded in `violations`, which the tests assert empty."""

import base64
import json
import ssl
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from aiosmtpd.smtp import AuthResult, LoginPassword

from smtp_server import Loopback


@dataclass
class Message:
    peer: tuple
    mail_from: str
    rcpt_tos: list
    data: bytes
    auth: tuple  # (mechanism, user) of the connection


@dataclass
class Attempt:
    peer: tuple
    mechanism: str
    user: str
    token: str
    accepted: bool


@dataclass
class Handler:
    introspect_url: str = ""
    password: tuple = None  # (user, password) for PLAIN/LOGIN
    plain_answer: str = ""  # e.g. "550 5.7.30 Basic authentication is not supported…"
    close_after_data: bool = False  # the server ends every connection after a message
    messages: list = field(default_factory=list)
    attempts: list = field(default_factory=list)
    connections: list = field(default_factory=list)
    violations: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            if session.peer not in self.connections:
                self.connections.append(session.peer)
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        if not session.authenticated:
            self.violations.append(f"DATA without AUTH from {session.peer}")
            return "530 5.7.0 Authentication required"
        with self.lock:
            self.messages.append(
                Message(session.peer, envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, getattr(session, "auth_info", None))
            )
        if self.close_after_data:
            server.loop.call_later(0.05, server.transport.close)
        return "250 2.0.0 OK queued"

    def token_ok(self, token):
        body = urllib.parse.urlencode({"token": token}).encode()
        with urllib.request.urlopen(self.introspect_url, data=body, timeout=10) as r:
            return json.load(r).get("active") is True

    def check_tls(self, server, mechanism):
        if server._tls_protocol is None:
            self.violations.append(f"AUTH {mechanism} without TLS")
            return False
        return True

    async def initial(self, server, args, mechanism):
        if len(args) == 2:
            try:
                return base64.b64decode(args[1], validate=True)
            except ValueError:
                self.violations.append(f"{mechanism}: initial response is not base64")
                return None
        return await server.challenge_auth("", encode_to_b64=False)

    async def auth_XOAUTH2(self, server, args):
        if not self.check_tls(server, "XOAUTH2"):
            return AuthResult(success=False)
        raw = await self.initial(server, args, "XOAUTH2")
        if not isinstance(raw, bytes):
            return AuthResult(success=False)
        parts = raw.split(b"\x01")
        # user=U ^A auth=Bearer T ^A ^A
        if len(parts) != 4 or parts[2:] != [b"", b""] or not parts[0].startswith(b"user=") or not parts[1].startswith(b"auth=Bearer "):
            self.violations.append(f"XOAUTH2 message malformed: {len(parts)} fields")
            return AuthResult(success=False)
        user = parts[0][5:].decode()
        token = parts[1][len(b"auth=Bearer "):].decode()
        return await self.verdict(server, session_of(server), "XOAUTH2", user, token, b"")

    async def auth_OAUTHBEARER(self, server, args):
        if not self.check_tls(server, "OAUTHBEARER"):
            return AuthResult(success=False)
        raw = await self.initial(server, args, "OAUTHBEARER")
        if not isinstance(raw, bytes):
            return AuthResult(success=False)
        # gs2-header "n,a=U," then ^A-separated key=value pairs, ending ^A^A (RFC 7628 §3.1).
        head, sep, rest = raw.partition(b"\x01")
        fields = rest.split(b"\x01")
        if not sep or not head.startswith(b"n,a=") or not head.endswith(b",") or fields[-2:] != [b"", b""]:
            self.violations.append("OAUTHBEARER message malformed")
            return AuthResult(success=False)
        user = head[4:-1].decode().replace("=2C", ",").replace("=3D", "=")
        pairs = dict(f.split(b"=", 1) for f in fields[:-2])
        auth = pairs.get(b"auth", b"")
        if not auth.startswith(b"Bearer ") or b"host" not in pairs or b"port" not in pairs:
            self.violations.append(f"OAUTHBEARER fields missing: {sorted(pairs)}")
            return AuthResult(success=False)
        if pairs[b"port"] != str(server.transport.get_extra_info("sockname")[1]).encode():
            self.violations.append(f"OAUTHBEARER port {pairs[b'port']!r} is not the server's")
        return await self.verdict(server, session_of(server), "OAUTHBEARER", user, auth[7:].decode(), b"\x01")

    async def verdict(self, server, session, mechanism, user, token, dummy):
        ok = self.token_ok(token)
        with self.lock:
            self.attempts.append(Attempt(session.peer, mechanism, user, token, ok))
        if ok:
            session.auth_info = (mechanism, user)
            return AuthResult(success=True, auth_data=(mechanism, user))
        # The error challenge: the client must answer with the mechanism's dummy response.
        error = {"status": "401" if mechanism == "XOAUTH2" else "invalid_token", "schemes": "bearer", "scope": "mail"}
        answer = await server.challenge_auth(json.dumps(error))
        if answer != dummy:
            self.violations.append(f"{mechanism}: answer to the error challenge was {answer!r}, not {dummy!r}")
        await server.push("535 5.7.8 Username and Password not accepted")
        return AuthResult(success=False, handled=True)


def session_of(server):
    return server.session


class OAuthSmtp(Loopback):
    """`with OAuthSmtp(tls_context, introspect_url=…) as smtp:` — STARTTLS required."""

    def __init__(self, starttls, introspect_url="", password=None, plain_answer=""):
        handler = Handler(introspect_url=introspect_url, password=password, plain_answer=plain_answer)

        def authenticator(server, session, envelope, mechanism, data):
            if mechanism not in ("PLAIN", "LOGIN"):
                return AuthResult(success=False, handled=False)
            if handler.plain_answer:
                return AuthResult(success=False, handled=False, message=handler.plain_answer)
            ok = handler.password is not None and isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == handler.password
            if ok:
                session.auth_info = (mechanism, data.login.decode())
            return AuthResult(success=ok, handled=False)

        super().__init__(
            handler, tls_context=starttls, require_starttls=True, authenticator=authenticator, auth_require_tls=True, auth_required=True
        )


def tls_context(tmp_path):
    from smtp_server import tls_contexts

    return tls_contexts(tmp_path)
