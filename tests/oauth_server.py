"""An OAuth2 authorization server on loopback, standing in for Microsoft's and Google's
(which cannot be reached here). It follows RFC 6749 (authorization code and refresh-token
grants, §5.2 errors), RFC 7636 (PKCE S256), RFC 8628 (device authorization, with
`authorization_pending`, `slow_down`, `expired_token`, `access_denied`), RFC 8252 (loopback
redirect URIs) and RFC 7662 (introspection, for the SMTP and IMAP stand-ins).

Refresh tokens rotate on every use and a used one is dead (reusing it is `invalid_grant`),
so a client that loses the newest token cannot go on. Access tokens can be short-lived, or
valid for less than the `expires_in` they announce (as after a revocation). Every request
is recorded; a request the protocol does not allow is answered with an error and recorded
in `violations`, which the tests assert empty.

Run alone (`python3 oauth_server.py`) it serves until killed and prints its base URL."""

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class Request:
    method: str
    path: str
    form: dict
    at: float


@dataclass
class Device:
    device_code: str
    user_code: str
    scope: str
    expires_at: float
    interval: int
    last_poll: float = 0.0
    polls: int = 0
    decision: str = "pending"  # pending | approved | denied


@dataclass
class Grant:
    """What a token was issued for."""

    client_id: str
    scope: str
    account: str


class OAuthServer:
    def __init__(
        self,
        client_id="test-client",
        client_secret=None,
        account="accounts@example.org",
        access_lifetime=3600,
        valid_for=None,
        interval=1,
        pending_polls=2,
        slow_down_at=None,
        device_lifetime=600,
        deny=False,
    ):
        """access_lifetime: the announced `expires_in`; valid_for: how long a token really
        works (default: as announced); pending_polls: polls answered `authorization_pending`
        before the user approves (or declines, with deny=True); slow_down_at: the poll
        numbers answered `slow_down`."""
        self.client_id = client_id
        self.client_secret = client_secret
        self.account = account
        self.access_lifetime = access_lifetime
        self.valid_for = valid_for
        self.interval = interval
        self.pending_polls = pending_polls
        self.slow_down_at = set(slow_down_at or ())
        self.device_lifetime = device_lifetime
        self.deny = deny
        self.requests = []
        self.violations = []
        self.devices = {}
        self.codes = {}  # code -> (Grant, redirect_uri, challenge)
        self.refresh_tokens = {}  # live refresh token -> Grant
        self.used_refresh_tokens = set()
        self.access_tokens = {}  # token -> (Grant, valid until)
        self.issued_access = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    # URLs for the configuration
    @property
    def device_authorization_url(self):
        return self.base + "/devicecode"

    @property
    def authorization_url(self):
        return self.base + "/authorize"

    @property
    def token_url(self):
        return self.base + "/token"

    @property
    def introspect_url(self):
        return self.base + "/introspect"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    # Test controls
    def revoke_refresh_tokens(self):
        with self.lock:
            self.used_refresh_tokens.update(self.refresh_tokens)
            self.refresh_tokens.clear()

    def expire_access_tokens(self):
        with self.lock:
            for token, (grant, _) in self.access_tokens.items():
                self.access_tokens[token] = (grant, 0)

    def grants(self, grant_type):
        return [r for r in self.requests if r.path == "/token" and r.form.get("grant_type") == grant_type]

    def is_active(self, token):
        with self.lock:
            entry = self.access_tokens.get(token)
            return entry is not None and time.time() < entry[1]

    def scopes(self, token):
        """The scopes an access token was granted (empty for an unknown token)."""
        with self.lock:
            entry = self.access_tokens.get(token)
            return set(entry[0].scope.split()) if entry else set()

    # Issuing
    def issue(self, grant, with_refresh=True):
        access = "at-" + secrets.token_urlsafe(24)
        valid = self.valid_for if self.valid_for is not None else self.access_lifetime
        self.access_tokens[access] = (grant, time.time() + valid)
        self.issued_access.append(access)
        body = {"access_token": access, "token_type": "Bearer", "expires_in": self.access_lifetime, "scope": grant.scope}
        if with_refresh:
            refresh = "rt-" + secrets.token_urlsafe(24)
            self.refresh_tokens[refresh] = grant
            body["refresh_token"] = refresh
        return body

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body, headers=()):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def violation(self, text, status=400, error="invalid_request"):
                server.violations.append(f"{self.command} {self.path.split('?')[0]}: {text}")
                self.reply(status, {"error": error, "error_description": text})

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                with server.lock:
                    server.requests.append(Request("GET", url.path, query, time.time()))
                if url.path == "/authorize":
                    return self.authorize(query)
                self.violation("no such endpoint", status=404)

            def do_POST(self):
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                ctype = self.headers.get("Content-Type", "")
                pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True)
                form = dict(pairs)
                with server.lock:
                    server.requests.append(Request("POST", url.path, form, time.time()))
                    if not ctype.startswith("application/x-www-form-urlencoded"):
                        return self.violation(f"Content-Type {ctype!r} is not a form")
                    if len(form) != len(pairs):
                        return self.violation("a parameter is repeated")
                    if url.query:
                        return self.violation("parameters in the query of a POST")
                    if url.path == "/devicecode":
                        return self.devicecode(form)
                    if url.path == "/token":
                        return self.token(form)
                    if url.path == "/introspect":
                        return self.introspect(form)
                self.violation("no such endpoint", status=404)

            def check_client(self, form):
                if form.get("client_id") != server.client_id:
                    self.violation(f"unknown client_id {form.get('client_id')!r}", status=401, error="invalid_client")
                    return False
                if server.client_secret is not None and form.get("client_secret") != server.client_secret:
                    self.violation("client_secret missing or wrong", status=401, error="invalid_client")
                    return False
                return True

            # RFC 8628 §3.1
            def devicecode(self, form):
                if not self.check_client(form):
                    return
                if not form.get("scope"):
                    return self.violation("scope missing")
                code = Device(
                    device_code="dc-" + secrets.token_urlsafe(16),
                    user_code=secrets.token_hex(4).upper(),
                    scope=form["scope"],
                    expires_at=time.time() + server.device_lifetime,
                    interval=server.interval,
                )
                server.devices[code.device_code] = code
                self.reply(
                    200,
                    {
                        "device_code": code.device_code,
                        "user_code": code.user_code,
                        "verification_uri": server.base + "/device",
                        "expires_in": server.device_lifetime,
                        "interval": server.interval,
                    },
                )

            # RFC 6749 §4.1.1 with RFC 7636 and RFC 8252 §7.3
            def authorize(self, q):
                needed = ("response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scope")
                missing = [k for k in needed if not q.get(k)]
                if missing:
                    return self.violation(f"missing {missing}")
                if q["response_type"] != "code" or q["code_challenge_method"] != "S256":
                    return self.violation("response_type must be code and code_challenge_method S256")
                if q["client_id"] != server.client_id:
                    return self.violation("unknown client_id")
                redirect = urllib.parse.urlsplit(q["redirect_uri"])
                if redirect.scheme != "http" or redirect.hostname != "127.0.0.1" or not redirect.port:
                    return self.violation(f"redirect_uri {q['redirect_uri']!r} is not a loopback URI with a port")
                if len(q["state"]) < 16:
                    return self.violation("state is too short to be unguessable")
                if len(q["code_challenge"]) != 43:
                    return self.violation("code_challenge is not a base64url SHA-256")
                code = "ac-" + secrets.token_urlsafe(16)
                with server.lock:
                    server.codes[code] = (Grant(server.client_id, q["scope"], server.account), q["redirect_uri"], q["code_challenge"])
                target = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q["state"]})
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def token(self, form):
                grant_type = form.get("grant_type")
                if not self.check_client(form):
                    return
                if grant_type == DEVICE_GRANT:
                    return self.device_grant(form)
                if grant_type == "authorization_code":
                    return self.code_grant(form)
                if grant_type == "refresh_token":
                    return self.refresh_grant(form)
                self.violation(f"grant_type {grant_type!r}", error="unsupported_grant_type")

            # RFC 8628 §3.4, §3.5
            def device_grant(self, form):
                device = server.devices.get(form.get("device_code", ""))
                if device is None:
                    return self.violation("unknown device_code", error="invalid_grant")
                now = time.time()
                device.polls += 1
                early = device.last_poll and now - device.last_poll < device.interval - 0.1
                device.last_poll = now
                if early:
                    server.violations.append(f"device poll {device.polls} came early (interval {device.interval} s)")
                    device.interval += 5
                    return self.reply(400, {"error": "slow_down"})
                if now > device.expires_at:
                    return self.reply(400, {"error": "expired_token"})
                if device.polls in server.slow_down_at:
                    device.interval += 5
                    return self.reply(400, {"error": "slow_down"})
                if device.polls <= server.pending_polls:
                    return self.reply(400, {"error": "authorization_pending"})
                if server.deny:
                    return self.reply(400, {"error": "access_denied"})
                if device.decision == "used":
                    return self.violation("device_code used twice", error="invalid_grant")
                device.decision = "used"
                self.reply(200, server.issue(Grant(server.client_id, device.scope, server.account)))

            # RFC 6749 §4.1.3, RFC 7636 §4.6
            def code_grant(self, form):
                entry = server.codes.pop(form.get("code", ""), None)
                if entry is None:
                    return self.violation("unknown or reused code", error="invalid_grant")
                grant, redirect_uri, challenge = entry
                if form.get("redirect_uri") != redirect_uri:
                    return self.violation("redirect_uri differs from the authorization request", error="invalid_grant")
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if not 43 <= len(verifier) <= 128 or digest != challenge:
                    return self.violation("code_verifier does not match the challenge", error="invalid_grant")
                self.reply(200, server.issue(grant))

            # RFC 6749 §6, with rotation
            def refresh_grant(self, form):
                token = form.get("refresh_token", "")
                if token in server.used_refresh_tokens:
                    return self.reply(400, {"error": "invalid_grant", "error_description": "refresh token revoked or already used"})
                grant = server.refresh_tokens.pop(token, None)
                if grant is None:
                    return self.violation("unknown refresh_token", error="invalid_grant")
                server.used_refresh_tokens.add(token)
                scope = form.get("scope")
                if scope and not set(scope.split()) <= set(grant.scope.split()):
                    return self.violation("refresh asks for a broader scope", error="invalid_scope")
                self.reply(200, server.issue(grant))

            # RFC 7662
            def introspect(self, form):
                token = form.get("token", "")
                entry = server.access_tokens.get(token)
                if entry is None or time.time() >= entry[1]:
                    return self.reply(200, {"active": False})
                grant, until = entry
                self.reply(200, {"active": True, "scope": grant.scope, "client_id": grant.client_id, "username": grant.account, "exp": int(until), "token_type": "Bearer"})

        return Handler


if __name__ == "__main__":
    with OAuthServer(pending_polls=0) as s:
        print(s.base, flush=True)
        threading.Event().wait()
