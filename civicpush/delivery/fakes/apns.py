"""A fake APNs provider API on 127.0.0.1 that speaks HTTP/2 (h2c, prior knowledge) with `h2`.

`POST /3/device/<token>` is checked as APNs checks it — the provider token (`authorization: bearer`,
ES256 with the key for its `kid` when keys are given, iss = the team; older than an hour, or issued
already seen when `expire_provider_tokens()` was called, is 403 ExpiredProviderToken), `apns-topic`, `apns-push-type`,
`apns-priority`, `apns-expiration`, `apns-collapse-id` (≤ 64 bytes) and the payload (≤ 4 KB, with
`aps`) — then answered by the device token:

| token                      | answer                                         |
|----------------------------|------------------------------------------------|
| hex (64–200 digits), ok-…  | 200, `apns-id`                                 |
| unregistered-…             | 410 `{"reason": "Unregistered", "timestamp"}`  |
| badtoken-… (or not hex)    | 400 BadDeviceToken                             |
| wrongtopic-…               | 400 DeviceTokenNotForTopic                     |
| throttled-…                | 429 TooManyRequests (Retry-After if configured; APNs sends none) |
| internal-…                 | 500 InternalServerError                        |
| unavailable-…              | 503 ServiceUnavailable                         |

Run it by hand: `python -m civicpush.delivery.fakes.apns --port 8472` (signatures not checked).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import jwt

TOKEN_MAX_AGE = 3600
_HEX = re.compile(r"^[0-9a-fA-F]{64,200}$")
ANSWERS: dict[str, tuple[int, str]] = {
    "unregistered-": (410, "Unregistered"),
    "badtoken-": (400, "BadDeviceToken"),
    "wrongtopic-": (400, "DeviceTokenNotForTopic"),
    "throttled-": (429, "TooManyRequests"),
    "internal-": (500, "InternalServerError"),
    "unavailable-": (503, "ServiceUnavailable"),
}
PUSH_TYPES = {"alert", "background", "location", "voip", "complication", "fileprovider", "mdm", "liveactivity"}


@dataclass
class FakeApnsState:
    team_id: str
    topic: str
    public_keys: dict[str, str] | None
    retry_after: int | None
    expired: set[str] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)
    provider_tokens: list[str] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeApns:
    """The fake's HTTP/2 server on its own event loop in a background thread."""

    def __init__(
        self,
        *,
        team_id: str = "TESTTEAM01",
        topic: str = "tw.gov.civicpush.test",
        public_keys: dict[str, str] | None = None,
        retry_after: int | None = None,
        port: int = 0,
    ) -> None:
        self.state = FakeApnsState(team_id, topic, public_keys, retry_after)
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.requests)

    @property
    def provider_tokens(self) -> set[str]:
        """The distinct provider tokens (JWTs) seen."""
        with self.state.lock:
            return set(self.state.provider_tokens)

    @property
    def connections(self) -> int:
        return self.state.connections

    def expire_provider_tokens(self) -> None:
        """Every provider token seen so far is answered 403 ExpiredProviderToken from here on."""
        with self.state.lock:
            self.state.expired.update(self.state.provider_tokens)

    def start(self) -> FakeApns:
        self._thread = threading.Thread(target=self._run, name="fake-apns", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            self._server = await self._loop.create_server(lambda: _H2Protocol(self.state), "127.0.0.1", self._port)
            self._ready.set()

        self._loop.run_until_complete(serve())
        self._loop.run_forever()
        self._loop.close()

    def stop(self) -> None:
        def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(shutdown)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeApns:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _H2Protocol(asyncio.Protocol):
    def __init__(self, state: FakeApnsState) -> None:
        self.state = state
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self.streams: dict[int, dict[str, Any]] = {}
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        with self.state.lock:
            self.state.connections += 1
        self.conn.initiate_connection()
        self._flush()

    def _flush(self) -> None:
        if self.transport is not None:
            self.transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self.streams[event.stream_id] = {"headers": dict(event.headers), "body": bytearray()}
            elif isinstance(event, h2.events.DataReceived):
                self.streams[event.stream_id]["body"] += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                stream = self.streams.pop(event.stream_id, None)
                if stream is not None:
                    self._answer(event.stream_id, stream["headers"], bytes(stream["body"]))
            elif isinstance(event, h2.events.ConnectionTerminated) and self.transport is not None:
                self._flush()
                self.transport.close()
                return
        self._flush()

    def _answer(self, stream_id: int, headers: dict[str, str], body: bytes) -> None:
        status, reason, extra = self._decide(headers, body)
        apns_id = headers.get("apns-id") or str(uuid.uuid4()).upper()
        response_headers = [(":status", str(status)), ("apns-id", apns_id)]
        for name, value in extra.items():
            response_headers.append((name, value))
        if reason:
            payload: dict[str, Any] = {"reason": reason}
            if status == 410:
                payload["timestamp"] = int(time.time() * 1000)
            data = json.dumps(payload).encode()
            response_headers.append(("content-type", "application/json"))
            response_headers.append(("content-length", str(len(data))))
            self.conn.send_headers(stream_id, response_headers)
            self.conn.send_data(stream_id, data, end_stream=True)
        else:
            self.conn.send_headers(stream_id, response_headers, end_stream=True)

    def _decide(self, headers: dict[str, str], body: bytes) -> tuple[int, str, dict[str, str]]:
        state = self.state
        method, path = headers.get(":method", ""), headers.get(":path", "")
        if method != "POST":
            return 405, "MethodNotAllowed", {}
        match = re.fullmatch(r"/3/device/([^/?]+)", path)
        if not match:
            return 404, "BadPath", {}
        device = match.group(1)
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return 403, "MissingProviderToken", {}
        token = auth[7:]
        try:
            header = jwt.get_unverified_header(token)
            if state.public_keys is not None:
                key = state.public_keys.get(str(header.get("kid")))
                if key is None:
                    return 403, "InvalidProviderToken", {}
                claims = jwt.decode(token, key, algorithms=["ES256"], options={"require": ["iss", "iat"]})
            else:
                claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return 403, "InvalidProviderToken", {}
        if header.get("alg") != "ES256" or claims.get("iss") != state.team_id:
            return 403, "InvalidProviderToken", {}
        issued = float(claims.get("iat", 0))
        with state.lock:
            state.provider_tokens.append(token)
            state.requests.append({"device": device, "headers": headers, "payload": body})
            expired = token in state.expired
        if time.time() - issued > TOKEN_MAX_AGE or expired:
            return 403, "ExpiredProviderToken", {}
        if headers.get("apns-topic") != state.topic:
            return 400, "TopicDisallowed", {}
        if headers.get("apns-push-type", "alert") not in PUSH_TYPES:
            return 400, "InvalidPushType", {}
        if headers.get("apns-priority", "10") not in ("10", "5", "1"):
            return 400, "BadPriority", {}
        if not headers.get("apns-expiration", "0").isdigit():
            return 400, "BadExpirationDate", {}
        if len(headers.get("apns-collapse-id", "").encode()) > 64:
            return 400, "BadCollapseId", {}
        if not body:
            return 400, "PayloadEmpty", {}
        if len(body) > 4096:
            return 413, "PayloadTooLarge", {}
        try:
            if "aps" not in json.loads(body):
                return 400, "PayloadEmpty", {}
        except ValueError:
            return 400, "PayloadEmpty", {}
        for prefix, (status, reason) in ANSWERS.items():
            if device.startswith(prefix):
                extra = {"retry-after": str(state.retry_after)} if status == 429 and state.retry_after else {}
                return status, reason, extra
        if device.startswith("ok-") or _HEX.match(device):
            return 200, "", {}
        return 400, "BadDeviceToken", {}


def main() -> None:  # pragma: no cover - a development aid
    parser = argparse.ArgumentParser(description="A fake APNs (HTTP/2, no TLS) on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8472)
    parser.add_argument("--team", default="TESTTEAM01")
    parser.add_argument("--topic", default="tw.gov.civicpush.test")
    args = parser.parse_args()
    fake = FakeApns(team_id=args.team, topic=args.topic, port=args.port).start()
    print(f"fake APNs on {fake.url} (HTTP/2 prior knowledge); Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
