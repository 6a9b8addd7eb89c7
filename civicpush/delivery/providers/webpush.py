"""The Web Push adapter: RFC 8291 payloads, RFC 8292 VAPID, RFC 8030 headers, over persistent
HTTP/1.1 connections (a small pool per push-service origin, keep-alive, TLS for https endpoints),
with pipelining: each connection writes up to `pipeline_depth` requests in one send and reads their
answers in order (RFC 9112 §9.3.2), so a syscall and a wake-up of the push service are shared by
many requests.

Why our own tiny HTTP/1.1 client rather than httpx: a push request is one small POST whose answer is
a status line, so per-request client overhead is what limits a broadcast once the crypto is fast.
Measured on the benchmark machine (docs/benchmarks.md, "Fan-out"): httpx spends several times more
CPU per request than this client, and every push service we target (FCM's web endpoint, Mozilla
autopush, Apple, Windows) speaks HTTP/1.1. Concurrency comes from several connections per origin and
pipelining instead of HTTP/2 streams (ADR 0008, "fan-out round 3").

Pipelining and partial failure: every request has its own answer, matched by order. When the service
answers some and closes (`Connection: close`), the rest were not processed and are sent again on
another connection; when a connection breaks mid-way, the unanswered requests are RETRY (in doubt,
like any request whose answer was lost: the same Topic makes a second copy replace the first).

Verdicts: 201/200/202 delivered; 404/410 gone (the subscription expired: remove the device);
429 and 5xx retry (honouring Retry-After); network errors retry; other 4xx (400 bad request,
401/403 VAPID refused, 413 too large) failed for good.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..vapid import VapidSigner
from ..webpush import MAX_PLAINTEXT, InvalidSubscription, PayloadTooLarge, cached_subscriber_keys, encrypt
from .base import Nudge, SendResult, Target, Verdict

DEFAULT_CONNECTIONS_PER_ORIGIN = 16
DEFAULT_PIPELINE_DEPTH = 16  # requests written together on one connection (1: no pipelining)
REQUEST_TIMEOUT = 30.0


def nudge_payload(nudge: Nudge) -> bytes:
    """What the service worker receives: title, body, push id and display URLs — no personal data.
    Long bodies are shortened so that the payload always fits one 4 KiB record."""
    data: dict[str, object] = {"push_id": nudge.push_id, "title": nudge.title, "body": nudge.body}
    for key in ("url", "icon", "image"):
        value = getattr(nudge, key)
        if value:
            data[key] = value
    if nudge.topic:
        data["tag"] = nudge.topic
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    while len(raw) > MAX_PLAINTEXT and data["body"]:
        data["body"] = str(data["body"])[: max(len(str(data["body"])) - 64, 0)] + "…"
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    if len(raw) > MAX_PLAINTEXT:
        raise PayloadTooLarge("the notification does not fit a Web Push payload")
    return raw


def topic_for(nudge: Nudge) -> str:
    """RFC 8030 Topic (≤ 32 URL-safe characters): the nudge's topic for replaceable notices, else one per
    push, so that a re-sent in-doubt message replaces an undelivered copy at the push service."""
    topic = nudge.topic or f"push-{nudge.push_id}"
    return "".join(c for c in topic if c.isalnum() or c in "-_")[:32]


_PLAIN_ENDPOINT = re.compile(r"(https?)://([A-Za-z0-9.\-]+(?::[0-9]{1,5})?)(/[!$&'()*+,;=:@%~A-Za-z0-9._\-/]*)\Z")


def split_endpoint(address: str) -> tuple[str, str, str] | None:
    """(scheme, netloc, request target) of an http(s) endpoint URL, or None. Endpoints are plain
    `https://host/path` URLs: one regular expression recognises those (a broadcast splits one per
    device), anything else (query, userinfo, IPv6, …) goes through `urlsplit`."""
    m = _PLAIN_ENDPOINT.match(address)
    if m is not None:
        return m.group(1), m.group(2), m.group(3)
    parts = urlsplit(address)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return None
    return parts.scheme, parts.netloc, (parts.path or "/") + ("?" + parts.query if parts.query else "")


class _Connection:
    __slots__ = ("buffer", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buffer = b""  # bytes read past the last parsed response

    def close(self) -> None:
        self.writer.close()


@dataclass(slots=True)
class _Origin:
    scheme: str
    host: str
    port: int
    netloc: str
    idle: list[_Connection]


Response = tuple[int, dict[bytes, bytes]]


class ClosedAfterAnswer(ConnectionError):
    """The server answered some pipelined requests, announced `Connection: close` and closed: by
    RFC 9112 §9.6 the requests after that answer were not processed."""


class Http11Pool:
    """Keep-alive HTTP/1.1 connections per origin, with pipelining: `exchange` writes several
    requests in one send and reads their responses in order (RFC 9112 §9.3.2). Not thread-safe: one
    per event loop."""

    def __init__(self, connections_per_origin: int = DEFAULT_CONNECTIONS_PER_ORIGIN) -> None:
        self.connections_per_origin = connections_per_origin
        self._origins: dict[str, _Origin] = {}
        self._ssl: ssl.SSLContext | None = None
        self.opened = 0  # connections opened (tests check reuse)
        self.writes = 0  # sends (tests check that requests share them)

    def origin(self, scheme: str, netloc: str) -> _Origin:
        key = f"{scheme}://{netloc}"
        o = self._origins.get(key)
        if o is None:
            host, _, port = netloc.rpartition(":") if netloc.count(":") == 1 else (netloc, "", "")
            if not host:
                host, port = netloc, ""
            o = _Origin(scheme, host, int(port) if port else (443 if scheme == "https" else 80), netloc, [])
            self._origins[key] = o
        return o

    async def _open(self, o: _Origin) -> _Connection:
        context = None
        if o.scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        reader, writer = await asyncio.open_connection(o.host, o.port, ssl=context, limit=65_536)
        self.opened += 1
        return _Connection(reader, writer)

    async def request(self, o: _Origin, head: bytes, body: bytes) -> Response:
        """One request (head already serialised); the status and headers of its answer."""
        answers, error = await self.exchange(o, [head + body])
        if error is not None:
            raise error
        return answers[0]

    async def exchange(self, o: _Origin, requests: list[bytes]) -> tuple[list[Response], BaseException | None]:
        """Send `requests` on one connection in a single write and read their answers in order.

        Returns the answers received (the first k requests, in order) and, when fewer than all came
        back, why. The requests without an answer are *unanswered*: when the server closed the
        connection after answering (it announced `Connection: close`, or a kept-alive connection was
        closed before it answered anything) they were not processed, and the caller may send them
        again at once; otherwise (timeout, reset mid-way) they are in doubt, like any request whose
        answer was lost. A kept-alive connection that turns out to be closed before any answer is
        retried once on a fresh connection, as for a single request."""
        for attempt in (0, 1):
            reused = bool(o.idle)
            conn = o.idle.pop() if reused else await self._open(o)
            answers: list[Response] = []
            try:
                conn.writer.write(requests[0] if len(requests) == 1 else b"".join(requests))
                self.writes += 1
                async with asyncio.timeout(REQUEST_TIMEOUT):  # no extra task per request, unlike wait_for
                    keep = await self._responses(conn, len(requests), answers)
            except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
                conn.close()
                if attempt == 0 and reused and not answers:
                    continue
                return answers, exc
            except BaseException:
                conn.close()
                raise
            if keep:
                o.idle.append(conn)
            else:
                conn.close()
                if len(answers) < len(requests):
                    return answers, ClosedAfterAnswer("the push service closed the connection after answering")
            return answers, None
        raise ConnectionError("unreachable")

    @staticmethod
    async def _responses(conn: _Connection, n: int, out: list[Response]) -> bool:
        """Parse `n` responses into `out` (or fewer when the server closes the connection after one);
        whether the connection may be kept. Bodies are read and dropped."""
        reader = conn.reader
        buf = conn.buffer
        pos = 0
        keep = True
        while len(out) < n and keep:
            end = buf.find(b"\r\n\r\n", pos)
            if end < 0:
                data = await reader.read(65_536)
                if not data:
                    raise asyncio.IncompleteReadError(buf[pos:], None)
                buf = buf[pos:] + data
                pos = 0
                continue
            lines = buf[pos:end].split(b"\r\n")
            parts = lines[0].split(b" ", 2)
            status = int(parts[1])
            headers: dict[bytes, bytes] = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            keep = headers.get(b"connection", b"").lower() != b"close" and parts[0] == b"HTTP/1.1"
            pos = end + 4
            if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                while True:
                    line_end = buf.find(b"\r\n", pos)
                    while line_end < 0:
                        data = await reader.read(65_536)
                        if not data:
                            raise asyncio.IncompleteReadError(buf[pos:], None)
                        buf = buf[pos:] + data
                        pos = 0
                        line_end = buf.find(b"\r\n")
                    size = int(buf[pos:line_end].split(b";")[0], 16)
                    pos = line_end + 2
                    while len(buf) < pos + size + 2:
                        data = await reader.read(65_536)
                        if not data:
                            raise asyncio.IncompleteReadError(buf[pos:], None)
                        buf += data
                    pos += size + 2
                    if size == 0:
                        break
            elif b"content-length" in headers:
                length = int(headers[b"content-length"] or 0)
                while len(buf) < pos + length:
                    data = await reader.read(65_536)
                    if not data:
                        raise asyncio.IncompleteReadError(buf[pos:], None)
                    buf += data
                pos += length
            elif status not in (204, 304) and not keep:
                await reader.read()  # the body runs to the end of the connection
                buf, pos = b"", 0
            out.append((status, headers))
        conn.buffer = buf[pos:]
        return keep

    async def aclose(self) -> None:
        for o in self._origins.values():
            for conn in o.idle:
                conn.close()
            o.idle.clear()


def _retry_after(headers: dict[bytes, bytes]) -> float | None:
    value = headers.get(b"retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        import email.utils
        import time

        when = email.utils.parsedate_to_datetime(value.decode())
        return max(when.timestamp() - time.time(), 0.0) if when else None


def verdict_for(status: int, headers: dict[bytes, bytes]) -> SendResult:
    if status in (200, 201, 202):
        return SendResult(Verdict.DELIVERED, status)
    if status in (404, 410):
        return SendResult(Verdict.GONE, status, error="subscription expired")
    if status == 429 or status >= 500:
        return SendResult(Verdict.RETRY, status, retry_after=_retry_after(headers), error=f"HTTP {status}")
    return SendResult(Verdict.FAILED, status, error=f"HTTP {status}")


class WebPushAdapter:
    channel = "webpush"

    def __init__(
        self,
        signer: VapidSigner | None = None,
        connections_per_origin: int = DEFAULT_CONNECTIONS_PER_ORIGIN,
        pipeline_depth: int = DEFAULT_PIPELINE_DEPTH,
    ) -> None:
        self.signer = signer or VapidSigner()
        self.pool = Http11Pool(connections_per_origin)
        self.pipeline_depth = max(1, pipeline_depth)

    async def send_batch(self, targets: Sequence[Target], nudge: Nudge) -> list[SendResult]:
        """Encrypt and send every target's copy. Each connection's coroutine encrypts its next few
        messages, writes them in one send (pipelined) and reads their answers, so the CPU work of one
        connection overlaps the round trips of the others, and a syscall and a wake-up of the push
        service are shared by `pipeline_depth` requests."""
        payload = nudge_payload(nudge)
        results: list[SendResult | None] = [None] * len(targets)
        common = (
            f"TTL: {int(nudge.ttl_seconds)}\r\nUrgency: {'high' if nudge.urgent else 'normal'}\r\n"
            f"Topic: {topic_for(nudge)}\r\nContent-Encoding: aes128gcm\r\n"
            "Content-Type: application/octet-stream\r\n"
        )
        by_origin: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for i, target in enumerate(targets):
            where = split_endpoint(target.address)
            if where is None:
                results[i] = SendResult(Verdict.GONE, None, error="not a push endpoint URL")
                continue
            scheme, netloc, path = where
            by_origin.setdefault((scheme, netloc), []).append((i, path))

        async def worker(origin: _Origin, queue: list[tuple[int, str]], authorization: str, take: int) -> None:
            prefix = f"Host: {origin.netloc}\r\n{common}Authorization: {authorization}\r\nContent-Length: "
            pending: list[tuple[int, bytes]] = []  # (target index, request) not yet answered
            while queue or pending:
                while queue and len(pending) < take:
                    i, path = queue.pop()
                    target = targets[i]
                    try:
                        body = encrypt(payload, cached_subscriber_keys(target.p256dh, target.auth))
                    except InvalidSubscription as exc:
                        results[i] = SendResult(Verdict.GONE, None, error=f"invalid subscription keys: {exc}"[:200])
                        continue
                    head = f"POST {path} HTTP/1.1\r\n{prefix}{len(body)}\r\n\r\n".encode("latin-1")
                    pending.append((i, head + body))
                if not pending:
                    break
                try:
                    answers, error = await self.pool.exchange(origin, [r for _, r in pending])
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    answers, error = [], exc  # could not connect, or a malformed answer
                for (i, _), (status, headers) in zip(pending, answers, strict=False):
                    results[i] = verdict_for(status, headers)
                unanswered = pending[len(answers) :]
                pending = []
                if not unanswered:
                    continue
                if answers and isinstance(error, ClosedAfterAnswer):
                    # The service answered some and then closed: the rest were not processed; send
                    # them again on another connection (progress is guaranteed: answers is not empty).
                    pending = unanswered
                    continue
                reason = f"network: {type(error).__name__}"[:200]
                for i, _ in unanswered:
                    results[i] = SendResult(Verdict.RETRY, None, error=reason)

        jobs: list[Coroutine[Any, Any, None]] = []
        for (scheme, netloc), items in by_origin.items():
            origin = self.pool.origin(scheme, netloc)
            authorization = self.signer.authorization(f"{scheme}://{netloc}")
            queue = items[::-1]
            n = min(self.pool.connections_per_origin, len(items))
            take = max(1, min(self.pipeline_depth, -(-len(items) // n)))
            jobs.extend(worker(origin, queue, authorization, take) for _ in range(n))
        if jobs:
            await asyncio.gather(*jobs)
        return [r if r is not None else SendResult(Verdict.RETRY, error="not sent") for r in results]

    async def aclose(self) -> None:
        await self.pool.aclose()


def make_adapter() -> WebPushAdapter:
    from django.conf import settings

    return WebPushAdapter(
        connections_per_origin=int(getattr(settings, "DELIVERY_WEBPUSH_CONNECTIONS", DEFAULT_CONNECTIONS_PER_ORIGIN)),
        pipeline_depth=int(getattr(settings, "DELIVERY_WEBPUSH_PIPELINE", DEFAULT_PIPELINE_DEPTH)),
    )
