"""Microsoft Graph's mail endpoints on loopback, standing in for graph.microsoft.com (which
cannot be reached here). It follows the published v1.0 behaviour:

- `POST /v1.0/me/sendMail` with `Content-Type: text/plain` and the base64 of an RFC 5322
  message: 202; malformed base64 is 400 "Invalid base64 string for MIME content."
- `POST /v1.0/me/messages` (MIME the same way): 201 with the draft's `id` and `webLink`
  (Outlook on the web's `https://outlook.office365.com/owa/?ItemID=…&exvsurl=1&viewmodel=ReadMessageItem`);
  `PATCH /v1.0/me/messages/{id}` (extended properties); `POST .../attachments` (a
  `fileAttachment` with `contentBytes`, under 3 MB); `POST .../attachments/createUploadSession`
  (3 MB to 150 MB) answering an `uploadUrl` that takes `PUT` chunks with `Content-Range`,
  each a multiple of 320 KiB except the last, in order, and no `Authorization` header (the
  URL is pre-authorized); `POST .../send`: 202; `DELETE .../{id}`: 204.
- A bearer token is checked against the OAuth2 stand-in (401 when it is unknown or expired),
  and so are its delegated permissions, as Graph documents them: `sendMail` and `.../send`
  need `Mail.Send`; creating, changing, attaching to and deleting messages need
  `Mail.ReadWrite` (403 `ErrorAccessDenied` otherwise).
- `GET /v1.0/me/mailFolders/drafts` (the well-known folder name): the Drafts folder.
- Scripted answers (`fail_next`): for example 429 with `Retry-After`, or 403 with an error
  code, for the next requests to a path.

Everything received is recorded (`requests`, `sent`: each delivered message's MIME with its
uploaded attachments, `created`: the id of every draft created, `drafts`: the drafts still
in the Drafts folder, `deleted`); a request the protocol does not allow is answered with an error and
recorded in `violations`, which the tests assert empty."""

import base64
import binascii
import json
import re
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK_UNIT = 320 * 1024
UPLOAD_MIN = 3 * 1024 * 1024
REQUEST_LIMIT = 4 * 1000 * 1000
GRAPH_RESOURCE = "https://graph.microsoft.com/"
DRAFTS_FOLDER_ID = "AAMkADrafts="


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    size: int


@dataclass
class Draft:
    mime: bytes
    web_link: str = ""
    properties: list = field(default_factory=list)
    attachments: list = field(default_factory=list)  # (name, content type, bytes)


@dataclass
class Sent:
    mime: bytes
    attachments: list
    properties: list
    via: str  # "sendMail" | "draft"


@dataclass
class Upload:
    draft: str
    name: str
    content_type: str
    size: int
    data: bytearray = field(default_factory=bytearray)
    chunks: list = field(default_factory=list)


class GraphStandin:
    def __init__(self, oauth=None):
        """`oauth`: the OAuth2 stand-in whose access tokens are valid here (None: any
        bearer token is accepted)."""
        self.oauth = oauth
        self.lock = threading.Lock()
        self.requests = []
        self.violations = []
        self.sent = []
        self.drafts = {}
        self.created = []
        self.uploads = {}
        self.deleted = []
        self.tokens_seen = []
        # Requests refused for a permission the token lacks.
        self.denied = []
        self.fail_next = []  # (path regex, status, headers, body), used once each, in order
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.httpd.server_address[1]

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}/v1.0"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail(self, path_pattern, status, headers=(), body=None):
        with self.lock:
            self.fail_next.append((re.compile(path_pattern), status, list(headers), body))

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body=None, headers=()):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def error(self, status, code, message, headers=()):
                self.reply(status, {"error": {"code": code, "message": message}}, headers)

            def violation(self, text, status=400):
                server.violations.append(f"{self.command} {self.path}: {text}")
                self.error(status, "BadRequest", text)

            def body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length)

            def authorized(self):
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer "):
                    self.error(401, "InvalidAuthenticationToken", "Access token is empty.")
                    return False
                token = auth[len("Bearer "):]
                server.tokens_seen.append(token)
                if server.oauth is not None and not server.oauth.is_active(token):
                    self.error(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
                    return False
                self.token = token
                return True

            def permitted(self, needed):
                """Whether the token holds Graph's delegated permission `needed`."""
                if server.oauth is None:
                    return True
                granted = {s.rsplit("/", 1)[-1] for s in server.oauth.scopes(self.token) if s.startswith(GRAPH_RESOURCE)}
                if needed in granted:
                    return True
                server.denied.append(f"{self.command} {self.path}: needs {needed}")
                self.error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
                return False

            def scripted(self, path):
                for i, (pattern, status, headers, body) in enumerate(server.fail_next):
                    if pattern.search(path):
                        del server.fail_next[i]
                        self.reply(status, body, headers)
                        return True
                return False

            def mime(self, data):
                ctype = self.headers.get("Content-Type", "")
                if not ctype.startswith("text/plain"):
                    self.violation(f"MIME content needs Content-Type text/plain, not {ctype!r}")
                    return None
                if len(data) > REQUEST_LIMIT:
                    self.error(413, "ErrorRequestEntityTooLarge", "The request is larger than 4 MB.")
                    server.violations.append(f"{self.command} {self.path}: request of {len(data)} bytes")
                    return None
                try:
                    return base64.b64decode(data, validate=True)
                except (binascii.Error, ValueError):
                    self.error(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
                    return None

            def handle_any(self):
                url = urllib.parse.urlsplit(self.path)
                path = url.path
                data = self.body()
                with server.lock:
                    server.requests.append(Request(self.command, path, dict(self.headers), len(data)))
                    if path.startswith("/upload/"):
                        return self.upload(path[len("/upload/"):], data)
                    if not self.authorized():
                        return None
                    if self.scripted(path):
                        return None
                    return self.route(path, data)

            def route(self, path, data):
                if path == "/v1.0/me/mailFolders/drafts" and self.command == "GET":
                    # A well-known folder name; reading a folder needs at least Mail.ReadBasic.
                    if not self.permitted("Mail.ReadWrite"):
                        return None
                    return self.reply(200, {"id": DRAFTS_FOLDER_ID, "displayName": "Drafts", "parentFolderId": "AAMkRoot"})
                m = re.fullmatch(r"/v1\.0/me/(sendMail|messages)(?:/([^/]+)(/send|/attachments(?:/createUploadSession)?)?)?", path)
                if not m:
                    return self.violation("no such endpoint", status=404)
                what, ident, tail = m.groups()
                if ident is not None:
                    ident = urllib.parse.unquote(ident)
                if not self.permitted("Mail.Send" if what == "sendMail" or tail == "/send" else "Mail.ReadWrite"):
                    return None
                if what == "sendMail" and self.command == "POST" and ident is None:
                    mime = self.mime(data)
                    if mime is None:
                        return None
                    server.sent.append(Sent(mime, [], [], "sendMail"))
                    return self.reply(202)
                if what != "messages":
                    return self.violation("no such endpoint", status=404)
                if ident is None and self.command == "POST":
                    mime = self.mime(data)
                    if mime is None:
                        return None
                    ident = "AAMk" + secrets.token_urlsafe(18) + "="
                    link = "https://outlook.office365.com/owa/?ItemID=" + urllib.parse.quote(ident, safe="") + "&exvsurl=1&viewmodel=ReadMessageItem"
                    server.drafts[ident] = Draft(mime, link)
                    server.created.append(ident)
                    return self.reply(201, {"id": ident, "isDraft": True, "webLink": link})
                draft = server.drafts.get(ident)
                if draft is None:
                    return self.error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
                if tail is None and self.command == "PATCH":
                    props = json.loads(data).get("singleValueExtendedProperties", [])
                    draft.properties.extend(props)
                    return self.reply(200, {"id": ident})
                if tail is None and self.command == "DELETE":
                    del server.drafts[ident]
                    server.deleted.append(ident)
                    return self.reply(204)
                if tail == "/send" and self.command == "POST":
                    if data:
                        return self.violation("send takes no body")
                    pending = [u for u in server.uploads.values() if u.draft == ident and len(u.data) < u.size]
                    if pending:
                        return self.violation("send before an upload session finished")
                    del server.drafts[ident]
                    server.sent.append(Sent(draft.mime, draft.attachments, draft.properties, "draft"))
                    return self.reply(202)
                if tail == "/attachments" and self.command == "POST":
                    item = json.loads(data)
                    if item.get("@odata.type") != "#microsoft.graph.fileAttachment":
                        return self.violation("not a fileAttachment")
                    content = base64.b64decode(item["contentBytes"])
                    if len(content) >= UPLOAD_MIN:
                        return self.violation("attachments of 3 MB or more need an upload session")
                    draft.attachments.append((item["name"], item.get("contentType"), content))
                    return self.reply(201, {"id": secrets.token_urlsafe(8)})
                if tail == "/attachments/createUploadSession" and self.command == "POST":
                    item = json.loads(data).get("AttachmentItem", {})
                    if item.get("attachmentType") != "file" or not item.get("name"):
                        return self.violation("AttachmentItem needs attachmentType file and a name")
                    size = int(item.get("size", 0))
                    if not UPLOAD_MIN <= size <= 150 * 1024 * 1024:
                        return self.violation(f"upload sessions are for 3 MB to 150 MB, not {size}")
                    sid = secrets.token_urlsafe(12)
                    server.uploads[sid] = Upload(ident, item["name"], item.get("contentType"), size)
                    return self.reply(201, {
                        "uploadUrl": f"http://127.0.0.1:{server.port}/upload/{sid}",
                        "expirationDateTime": "2030-01-01T00:00:00Z",
                        "nextExpectedRanges": ["0-"],
                    })
                return self.violation("no such endpoint", status=404)

            def upload(self, sid, data):
                session = server.uploads.get(sid)
                if self.command != "PUT" or session is None:
                    return self.violation("no such upload session", status=404)
                if "Authorization" in self.headers:
                    return self.violation("the upload URL is pre-authorized: no Authorization header")
                m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", self.headers.get("Content-Range", ""))
                if not m:
                    return self.violation("Content-Range missing or malformed")
                start, end, total = map(int, m.groups())
                if total != session.size or start != len(session.data) or end - start + 1 != len(data):
                    return self.violation(f"range {start}-{end}/{total} does not follow {len(session.data)}/{session.size}")
                last = end + 1 == total
                if not last and len(data) % CHUNK_UNIT:
                    return self.violation(f"chunk of {len(data)} bytes is not a multiple of 320 KiB")
                session.data.extend(data)
                session.chunks.append(len(data))
                if last:
                    draft = server.drafts.get(session.draft)
                    if draft is None:
                        return self.violation("upload for a draft that is gone", status=404)
                    draft.attachments.append((session.name, session.content_type, bytes(session.data)))
                    return self.reply(201)
                return self.reply(200, {"nextExpectedRanges": [f"{end + 1}-"]})

            do_POST = do_PATCH = do_PUT = do_DELETE = do_GET = handle_any

        return Handler
