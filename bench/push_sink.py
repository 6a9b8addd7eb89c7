"""A cheap local Web Push service for benchmarks and tests (HTTP/1.1, keep-alive, pipelining, 127.0.0.1).

Every request is parsed (request line, headers, body by Content-Length; pipelined requests from one
buffer) and answered with its own response, in order. Like a real push service it refuses a request
that is not a POST with a numeric TTL, an aes128gcm body of at most 4,096 bytes and a VAPID
Authorization (400/401/413, counted in `bad_requests`).
It accepts `POST /s/<index>` (the endpoint path of synthetic subscriber <index>), answers
`201 Created`, and counts requests and *distinct deliveries* — one per (subscriber, RFC 8030 Topic),
which is what a device displays (a re-sent copy with the same topic and tag replaces the first).
Every `--check-every`-th request is checked for real: the body decrypts with Mozilla's `http_ece`
using the subscriber's private key (derived from its index, see `subscriber_keys`, so no key is
stored), the plaintext is a nudge without personal data, and the VAPID JWT verifies (each distinct
token once) with `aud` equal to this origin.

Paths under `/gone/` answer 410, `/busy/` answer 429 (Retry-After: 1) on the first try and 201 after,
`/down/` answer 503 always, `/bad/` 400 — the answers a real push service gives.

`GET /stats` returns the counters as JSON. Run: `python bench/push_sink.py --port 0 --subscribers N`;
it prints `READY <port>` when listening. Tests may instead use `PushSink(...).start_in_thread()`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import sys
import threading
import time
from typing import Any

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def subscriber_scalar(index: int) -> int:
    return (
        int.from_bytes(hashlib.sha256(b"civicpush-bench-subscriber:%d" % index).digest(), "big") % (P256_ORDER - 1) + 1
    )


def subscriber_auth(index: int) -> bytes:
    return hashlib.sha256(b"civicpush-bench-auth:%d" % index).digest()[:16]


def subscriber_keys(index: int) -> tuple[Any, bytes]:
    """(private key, auth secret) of synthetic subscriber `index`."""
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.derive_private_key(subscriber_scalar(index), ec.SECP256R1()), subscriber_auth(index)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


CREATED = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
GONE = b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n"
BUSY = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"
DOWN = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
UNAUTHORIZED = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
TOO_LARGE = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n"


class PushSink:
    def __init__(self, subscribers: int = 0, check_every: int = 0, forbidden: tuple[str, ...] = ()) -> None:
        self.subscribers = subscribers
        self.check_every = check_every
        self.forbidden = forbidden  # strings that must never appear in a decrypted payload
        self.requests = 0
        self.bad_requests = 0  # refused before counting: not a POST, no TTL, not aes128gcm, no VAPID
        self.accepted = 0
        self.seen_bits = bytearray((subscribers + 7) // 8) if subscribers else bytearray()
        self.seen_keys: set[bytes] = set()  # (path, topic) for paths that are not /s/<index>
        self.distinct = 0
        self.duplicates = 0
        self.by_status: dict[int, int] = {}
        self.checked = 0
        self.check_failures: list[str] = []
        self.first_at = 0.0
        self.last_accepted_at = 0.0
        self.busy_seen: set[bytes] = set()
        self.verified_tokens: set[bytes] = set()
        self.topics: dict[bytes, int] = {}
        self.payloads: list[dict[str, Any]] = []  # decrypted samples (tests inspect them)
        self.port = 0
        self.origin = ""
        self.delay = 0.0  # seconds before each answer
        self.last_headers: dict[bytes, bytes] = {}
        self._server: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -------------------------------------------------------------- request handling
    def handle(self, method: bytes, path: bytes, headers: dict[bytes, bytes], body: bytes) -> bytes:
        self.requests += 1
        if not self.first_at:
            self.first_at = time.time()
        # What every push service checks on every request (RFC 8030 §5, RFC 8291, RFC 8292): a POST
        # with a TTL, an aes128gcm body of at most 4,096 bytes, and a VAPID Authorization.
        if method != b"POST" or b"ttl" not in headers or not headers[b"ttl"].isdigit():
            self.bad_requests += 1
            return self._status(400, BAD)
        if headers.get(b"content-encoding") != b"aes128gcm" or not body:
            self.bad_requests += 1
            return self._status(400, BAD)
        if not headers.get(b"authorization", b"").startswith(b"vapid t="):
            self.bad_requests += 1
            return self._status(401, UNAUTHORIZED)
        if len(body) > 4096:
            self.bad_requests += 1
            return self._status(413, TOO_LARGE)
        if path.startswith(b"/gone/"):
            return self._status(410, GONE)
        if path.startswith(b"/down/"):
            return self._status(503, DOWN)
        if path.startswith(b"/bad/"):
            return self._status(400, BAD)
        if path.startswith(b"/busy/") and path not in self.busy_seen:
            self.busy_seen.add(path)
            return self._status(429, BUSY)
        self.last_headers = headers
        topic = headers.get(b"topic", b"")
        self.topics[topic] = self.topics.get(topic, 0) + 1
        index = -1
        if path.startswith(b"/s/") and self.subscribers:
            index = int(path[3:])
            byte, bit = divmod(index, 8)
            if self.seen_bits[byte] & (1 << bit):
                self.duplicates += 1
            else:
                self.seen_bits[byte] |= 1 << bit
                self.distinct += 1
        else:
            key = path + b"|" + topic
            if key in self.seen_keys:
                self.duplicates += 1
            else:
                self.seen_keys.add(key)
                self.distinct += 1
        if self.check_every and self.requests % self.check_every == 1 % self.check_every:
            self._check(path, index, headers, body)
        self.accepted += 1
        self.last_accepted_at = time.time()
        return self._status(201, CREATED)

    def _status(self, status: int, response: bytes) -> bytes:
        self.by_status[status] = self.by_status.get(status, 0) + 1
        return response

    def _check(self, path: bytes, index: int, headers: dict[bytes, bytes], body: bytes) -> None:
        import http_ece
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec

        self.checked += 1
        try:
            if headers.get(b"content-encoding") != b"aes128gcm":
                raise ValueError("Content-Encoding is not aes128gcm")
            if not headers.get(b"ttl"):
                raise ValueError("no TTL header")
            auth = headers.get(b"authorization", b"")
            if auth not in self.verified_tokens:
                scheme, _, rest = auth.partition(b" ")
                params = dict(p.strip().split(b"=", 1) for p in rest.split(b","))
                if scheme != b"vapid":
                    raise ValueError("not a vapid Authorization")
                public = ec.EllipticCurvePublicKey.from_encoded_point(
                    ec.SECP256R1(), b64url_decode(params[b"k"].decode())
                )
                claims = jwt.decode(params[b"t"].decode(), public, algorithms=["ES256"], audience=self.origin)
                if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
                    raise ValueError("VAPID sub is not mailto:/https:")
                self.verified_tokens.add(auth)
            if index >= 0:
                private, auth_secret = subscriber_keys(index)
                plaintext = http_ece.decrypt(body, private_key=private, auth_secret=auth_secret, version="aes128gcm")
                payload = json.loads(plaintext)
                if "push_id" not in payload or "title" not in payload:
                    raise ValueError("the payload is not a nudge")
                text = plaintext.decode()
                for word in self.forbidden:
                    if word and word in text:
                        raise ValueError(f"personal data in the payload: {word!r}")
                if len(self.payloads) < 50:
                    self.payloads.append(payload)
            if len(body) > 4096:
                raise ValueError("body over 4096 bytes")
        except Exception as exc:
            self.check_failures.append(f"{path.decode()}: {type(exc).__name__}: {exc}"[:300])

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "bad_requests": self.bad_requests,
            "accepted": self.accepted,
            "distinct": self.distinct,
            "duplicates": self.duplicates,
            "by_status": self.by_status,
            "checked": self.checked,
            "check_failures": self.check_failures[:20],
            "first_at": self.first_at,
            "last_accepted_at": self.last_accepted_at,
        }

    # -------------------------------------------------------------- server
    async def start(self, port: int = 0) -> int:
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(lambda: _SinkProtocol(self), "127.0.0.1", port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        return self.port

    def start_in_thread(self) -> PushSink:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start(0))
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, daemon=True, name="push-sink").start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop and self._server:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)


class _SinkProtocol(asyncio.Protocol):
    __slots__ = ("buffer", "sink", "transport")

    def __init__(self, sink: PushSink) -> None:
        self.sink = sink
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        # Pipelined requests (RFC 9112 §9.3.2) arrive several per read: parse them all from one
        # buffer by position (no re-slicing of the rest per request) and answer them, in order, with
        # one write.
        buffer = self.buffer + data if self.buffer else data
        out = []
        pos = 0
        size = len(buffer)
        while True:
            end = buffer.find(b"\r\n\r\n", pos)
            if end < 0:
                break
            lines = buffer[pos:end].split(b"\r\n")
            headers: dict[bytes, bytes] = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get(b"content-length", b"0"))
            if size < end + 4 + length:
                break
            body = buffer[end + 4 : end + 4 + length]
            pos = end + 4 + length
            method, path, _ = lines[0].split(b" ", 2)
            if method == b"GET" and path == b"/stats":
                payload = json.dumps(self.sink.stats()).encode()
                out.append(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(payload), payload)
                )
            else:
                out.append(self.sink.handle(method, path, headers, body))
        self.buffer = buffer[pos:] if pos < size else b""
        if out:
            if self.sink.delay:  # a slow push service (tests), without blocking other connections
                asyncio.get_running_loop().call_later(self.sink.delay, self._write, b"".join(out))
            else:
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))  # type: ignore[attr-defined]

    def _write(self, data: bytes) -> None:
        if not self.transport.is_closing():  # type: ignore[attr-defined]
            self.transport.write(data)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--subscribers", type=int, default=0)
    parser.add_argument("--check-every", type=int, default=1000)
    args = parser.parse_args()
    sink = PushSink(args.subscribers, args.check_every)

    async def run() -> None:
        port = await sink.start(args.port)
        print(f"READY {port}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    sys.exit(0)


if __name__ == "__main__":
    main()
