"""The Web Push adapter: RFC 8291 payloads, RFC 8292 VAPID, RFC 8030 headers, over persistent
HTTP/1.1 connections (a small pool per push-service origin, keep-alive, TLS for https endpoints).

Why our own tiny HTTP/1.1 client rather than httpx: a push request is one small POST whose answer is
a status line, so per-request client overhead is what limits a broadcast once the crypto is fast.
Measured on the benchmark machine (docs/benchmarks.md, "Fan-out"): httpx over HTTP/2 spends several
times more CPU per request than this client over HTTP/1.1 keep-alive, and every push service we target
(FCM's web endpoint, Mozilla autopush, Apple, Windows) speaks HTTP/1.1. Concurrency comes from
several connections per origin instead of HTTP/2 streams.

Verdicts: 201/200/202 delivered; 404/410 gone (the subscription expired: remove the device);
429 and 5xx retry (honouring Retry-After); network errors retry; other 4xx (400 bad request,
401/403 VAPID refused, 413 too large) failed for good.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..vapid import VapidSigner
from ..webpush import MAX_PLAINTEXT, InvalidSubscription, PayloadTooLarge, cached_subscriber_keys, encrypt
from .base import Nudge, SendResult, Target, Verdict

DEFAULT_CONNECTIONS_PER_ORIGIN = 16
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


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


@dataclass(slots=True)
class _Origin:
    scheme: str
    host: str
    port: int
    netloc: str
    idle: list[_Connection]


class Http11Pool:
    """Keep-alive HTTP/1.1 connections per origin. Not thread-safe: one per event loop."""

    def __init__(self, connections_per_origin: int = DEFAULT_CONNECTIONS_PER_ORIGIN) -> None:
        self.connections_per_origin = connections_per_origin
        self._origins: dict[str, _Origin] = {}
        self._ssl: ssl.SSLContext | None = None
        self.opened = 0  # connections opened (tests check reuse)

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

    async def request(self, o: _Origin, head: bytes, body: bytes) -> tuple[int, dict[bytes, bytes]]:
        """Send one request (head already serialised) and read the status and headers; the body is
        read and dropped. One retry on a fresh connection when a kept-alive one was closed by the peer."""
        for attempt in (0, 1):
            reused = bool(o.idle)
            conn = o.idle.pop() if reused else await self._open(o)
            try:
                conn.writer.write(head + body)
                async with asyncio.timeout(REQUEST_TIMEOUT):  # no extra task per request, unlike wait_for
                    status, headers, keep = await self._response(conn.reader)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                conn.close()
                if attempt == 0 and reused:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if keep:
                o.idle.append(conn)
            else:
                conn.close()
            return status, headers
        raise ConnectionError("unreachable")

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bool]:
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        status = int(parts[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
        keep = headers.get(b"connection", b"").lower() != b"close" and parts[0] == b"HTTP/1.1"
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            length = int(headers.get(b"content-length", b"0") or 0)
            if length:
                await reader.readexactly(length)
            elif b"content-length" not in headers and status not in (204, 304) and not keep:
                await reader.read()
        return status, headers, keep

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
        self, signer: VapidSigner | None = None, connections_per_origin: int = DEFAULT_CONNECTIONS_PER_ORIGIN
    ) -> None:
        self.signer = signer or VapidSigner()
        self.pool = Http11Pool(connections_per_origin)

    async def send_batch(self, targets: Sequence[Target], nudge: Nudge) -> list[SendResult]:
        """Encrypt and send every target's copy. Each connection's coroutine encrypts its next message
        just before sending it, so the CPU work of one overlaps the round trips of the others."""
        payload = nudge_payload(nudge)
        results: list[SendResult | None] = [None] * len(targets)
        common = (
            f"TTL: {int(nudge.ttl_seconds)}\r\nUrgency: {'high' if nudge.urgent else 'normal'}\r\n"
            f"Topic: {topic_for(nudge)}\r\nContent-Encoding: aes128gcm\r\n"
            "Content-Type: application/octet-stream\r\n"
        )
        by_origin: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for i, target in enumerate(targets):
            parts = urlsplit(target.address)
            if parts.scheme not in ("https", "http") or not parts.netloc:
                results[i] = SendResult(Verdict.GONE, None, error="not a push endpoint URL")
                continue
            path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
            by_origin.setdefault((parts.scheme, parts.netloc), []).append((i, path))

        async def worker(origin: _Origin, queue: list[tuple[int, str]], authorization: str) -> None:
            prefix = f"Host: {origin.netloc}\r\n{common}Authorization: {authorization}\r\nContent-Length: "
            while queue:
                i, path = queue.pop()
                target = targets[i]
                try:
                    body = encrypt(payload, cached_subscriber_keys(target.p256dh, target.auth))
                except InvalidSubscription as exc:
                    results[i] = SendResult(Verdict.GONE, None, error=f"invalid subscription keys: {exc}"[:200])
                    continue
                head = f"POST {path} HTTP/1.1\r\n{prefix}{len(body)}\r\n\r\n".encode("latin-1")
                try:
                    status, headers = await self.pool.request(origin, head, body)
                    results[i] = verdict_for(status, headers)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    results[i] = SendResult(Verdict.RETRY, None, error=f"network: {type(exc).__name__}"[:200])

        jobs: list[Coroutine[Any, Any, None]] = []
        for (scheme, netloc), items in by_origin.items():
            origin = self.pool.origin(scheme, netloc)
            authorization = self.signer.authorization(f"{scheme}://{netloc}")
            queue = items[::-1]
            n = min(self.pool.connections_per_origin, len(items))
            jobs.extend(worker(origin, queue, authorization) for _ in range(n))
        if jobs:
            await asyncio.gather(*jobs)
        return [r if r is not None else SendResult(Verdict.RETRY, error="not sent") for r in results]

    async def aclose(self) -> None:
        await self.pool.aclose()


def make_adapter() -> WebPushAdapter:
    return WebPushAdapter()
