"""A stand-in for Google's token endpoint and the Sheets v4 API on 127.0.0.1.

It verifies the service-account JWT with the key's public half, hands out a bearer token,
and refuses Sheets calls without that token, so the client is exercised for real."""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt


def make_service_account(path: Path, token_uri: str = "http://127.0.0.1/token") -> bytes:
    """Write an owner-only service-account key file; return the public key (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "foredeck-test",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": "importer@foredeck-test.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(info, handle)
    os.chmod(path, 0o600)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class FakeGoogle:
    def __init__(self) -> None:
        self.public_keys: list[bytes] = []
        self.tokens: set[str] = set()
        self.spreadsheets: dict[str, dict[str, list[list[Any]]]] = {}
        self.titles: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []
        self.unauthorized = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    def add_spreadsheet(self, sid: str, tabs: dict[str, list[list[Any]]], title: str = "T") -> None:
        self.spreadsheets[sid] = tabs
        self.titles[sid] = title

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _authorized(self) -> bool:
                auth = self.headers.get("Authorization", "")
                ok = auth.startswith("Bearer ") and auth[7:] in fake.tokens
                if not ok:
                    fake.unauthorized += 1
                return ok

            def do_POST(self) -> None:
                url = urlparse(self.path)
                if url.path == "/token":
                    form = parse_qs(self._body().decode())
                    assertion = form.get("assertion", [""])[0]
                    for key in fake.public_keys:
                        try:
                            claims = jwt.decode(assertion, certs=key, audience=fake.token_url)
                        except Exception:
                            continue
                        if form.get("grant_type") != [
                            "urn:ietf:params:oauth:grant-type:jwt-bearer"
                        ] or "spreadsheets" not in claims.get("scope", ""):
                            break
                        token = secrets.token_urlsafe(24)
                        fake.tokens.add(token)
                        self._send(200, {"access_token": token, "expires_in": 3600})
                        return
                    self._send(400, {"error": "invalid_grant"})
                    return
                self._values("POST", url)

            def do_GET(self) -> None:
                self._values("GET", urlparse(self.path))

            def do_PUT(self) -> None:
                self._values("PUT", urlparse(self.path))

            def _values(self, method: str, url: Any) -> None:
                fake.calls.append((method, unquote(url.path)))
                if not self._authorized():
                    self._send(401, {"error": {"code": 401}})
                    return
                m = re.match(r"^/v4/spreadsheets/([^/]+)(?:/values/([^/]+))?$", url.path)
                if not m or m.group(1) not in fake.spreadsheets:
                    self._send(404, {"error": {"code": 404}})
                    return
                sid = m.group(1)
                tabs = fake.spreadsheets[sid]
                if m.group(2) is None:
                    self._send(
                        200,
                        {
                            "spreadsheetId": sid,
                            "properties": {"title": fake.titles[sid]},
                            "sheets": [{"properties": {"title": t}} for t in tabs],
                        },
                    )
                    return
                a1 = unquote(m.group(2))
                action = ""
                if a1.endswith((":clear", ":append")):
                    a1, action = a1.rsplit(":", 1)
                tab, _, cells = a1.partition("!")
                tab = tab.strip("'").replace("''", "'")
                if tab not in tabs:
                    self._send(400, {"error": {"code": 400}})
                    return
                rows = tabs[tab]
                first, last = 1, None
                rm = re.match(r"^[A-Z]*(\d+)(?::[A-Z]*(\d+))?$", cells or "")
                if rm:
                    first = int(rm.group(1))
                    last = int(rm.group(2)) if rm.group(2) else None
                if method == "GET":
                    chosen = rows[first - 1 : last]
                    while chosen and not chosen[-1]:
                        chosen.pop()
                    self._send(200, {"range": a1, "values": chosen})
                elif action == "clear":
                    self._body()
                    tabs[tab] = []
                    self._send(200, {"clearedRange": a1})
                else:
                    values = json.loads(self._body())["values"]
                    if action == "append":
                        rows.extend(values)
                    else:
                        del rows[first - 1 :]
                        while len(rows) < first - 1:
                            rows.append([])
                        rows.extend(values)
                    self._send(200, {"updatedRows": len(values)})

        return Handler
