"""A fake FCM HTTP v1 endpoint and Google OAuth token endpoint on 127.0.0.1 (tests, development).

- `POST /token`: the service-account JWT bearer grant. Checks the assertion (RS256 with the service
  account's public key when one is given; aud = this token URI; the firebase.messaging scope; at most
  an hour) and returns `{"access_token", "expires_in", "token_type"}`; counts the requests.
- `POST /v1/projects/{project}/messages:send`: checks the bearer token (401 UNAUTHENTICATED when it
  was not issued here or was revoked), the project, and the message (a token; data values must be
  strings, as FCM requires — 400 INVALID_ARGUMENT otherwise), then answers by the token's prefix:

  | prefix          | status | google.rpc status  | FcmError.errorCode |
  |-----------------|--------|--------------------|--------------------|
  | unregistered-   | 404    | NOT_FOUND          | UNREGISTERED       |
  | mismatch-       | 403    | PERMISSION_DENIED  | SENDER_ID_MISMATCH |
  | invalid-        | 400    | INVALID_ARGUMENT   | INVALID_ARGUMENT   |
  | quota-          | 429    | RESOURCE_EXHAUSTED | QUOTA_EXCEEDED (+ Retry-After) |
  | unavailable-    | 503    | UNAVAILABLE        | UNAVAILABLE (+ Retry-After) |
  | internal-       | 500    | INTERNAL           | INTERNAL           |
  | anything else   | 200    | `{"name": "projects/{project}/messages/{id}"}` |

Run it by hand: `python -m civicpush.delivery.fakes.fcm --port 8471` (signatures not checked).
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
ERRORS: dict[str, tuple[int, str, str]] = {
    "unregistered-": (404, "NOT_FOUND", "UNREGISTERED"),
    "mismatch-": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"),
    "invalid-": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    "quota-": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
    "unavailable-": (503, "UNAVAILABLE", "UNAVAILABLE"),
    "internal-": (500, "INTERNAL", "INTERNAL"),
}


@dataclass
class FakeFcmState:
    project_id: str
    public_key_pem: str | None
    retry_after: int
    token_lifetime: int
    token_requests: int = 0
    issued: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Any = field(default_factory=lambda: itertools.count(1))


class FakeFcm:
    """The fake's server in a background thread: `with FakeFcm(...) as fcm: fcm.url …`."""

    def __init__(
        self,
        *,
        project_id: str = "civicpush-test",
        public_key_pem: str | None = None,
        retry_after: int = 7,
        token_lifetime: int = 3600,
        port: int = 0,
    ) -> None:
        self.state = FakeFcmState(project_id, public_key_pem, retry_after, token_lifetime)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    @property
    def token_requests(self) -> int:
        return self.state.token_requests

    @property
    def messages(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.messages)

    def revoke_tokens(self) -> None:
        """Every access token issued so far stops working (401 UNAUTHENTICATED)."""
        with self.state.lock:
            self.state.issued.clear()

    def start(self) -> FakeFcm:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-fcm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeFcm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler_for(fake: FakeFcm) -> type[BaseHTTPRequestHandler]:
    state = fake.state

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Google's front ends

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, rpc: str, code: str, message: str, headers: dict[str, str] | None = None) -> None:
            details = (
                [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}] if code else []
            )
            self._reply(
                status, {"error": {"code": status, "message": message, "status": rpc, "details": details}}, headers
            )

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path == "/token":
                self._token(raw)
            elif self.path == f"/v1/projects/{state.project_id}/messages:send":
                self._send(raw)
            elif self.path.startswith("/v1/projects/") and self.path.endswith("/messages:send"):
                self._error(403, "PERMISSION_DENIED", "", "The caller does not have permission")
            else:
                self._error(404, "NOT_FOUND", "", "Not found")

        def _token(self, raw: bytes) -> None:
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                self._reply(400, {"error": "unsupported_grant_type"})
                return
            try:
                if state.public_key_pem:
                    claims = jwt.decode(
                        form.get("assertion", ""),
                        state.public_key_pem,
                        algorithms=["RS256"],
                        audience=fake.token_uri,
                        options={"require": ["iss", "aud", "iat", "exp"]},
                    )
                else:
                    claims = jwt.decode(form.get("assertion", ""), options={"verify_signature": False})
            except jwt.PyJWTError as exc:
                self._reply(400, {"error": "invalid_grant", "error_description": str(exc)})
                return
            if SCOPE not in str(claims.get("scope", "")).split() or int(claims["exp"]) - int(claims["iat"]) > 3600:
                self._reply(400, {"error": "invalid_scope"})
                return
            with state.lock:
                state.token_requests += 1
                token = f"ya29.fake-{next(state.ids)}-{int(time.time())}"
                state.issued.add(token)
            self._reply(200, {"access_token": token, "expires_in": state.token_lifetime, "token_type": "Bearer"})

        def _send(self, raw: bytes) -> None:
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
            with state.lock:
                known = token in state.issued
            if not known:
                self._error(401, "UNAUTHENTICATED", "", "Request had invalid authentication credentials.")
                return
            try:
                message = json.loads(raw)["message"]
                device = str(message["token"])
                data = message.get("data") or {}
                if not isinstance(data, dict) or any(not isinstance(v, str) for v in data.values()):
                    raise ValueError("data values must be strings")
            except (ValueError, KeyError, TypeError) as exc:
                self._error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", f"Invalid JSON payload received. {exc}")
                return
            with state.lock:
                state.messages.append(message)
            for prefix, (status, rpc, code) in ERRORS.items():
                if device.startswith(prefix):
                    headers = {"Retry-After": str(state.retry_after)} if status in (429, 503) else None
                    self._error(status, rpc, code, f"fake {code}", headers)
                    return
            with state.lock:
                name = f"projects/{state.project_id}/messages/{next(state.ids)}"
            self._reply(200, {"name": name})

    return Handler


def main() -> None:  # pragma: no cover - a development aid
    parser = argparse.ArgumentParser(description="A fake FCM HTTP v1 server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8471)
    parser.add_argument("--project", default="civicpush-test")
    args = parser.parse_args()
    fake = FakeFcm(project_id=args.project, port=args.port)
    print(f"fake FCM on {fake.url} (token URI {fake.token_uri}); Ctrl-C stops it", flush=True)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
