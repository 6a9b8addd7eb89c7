"""The Web Push adapter against a real local push service: RFC 8030 headers, connections kept
alive between batches, verdicts for 201/410/429/5xx and for an unreachable push service."""

from __future__ import annotations

import socket

import pytest

from civicpush.delivery.providers.base import Nudge, Target, Verdict
from civicpush.delivery.providers.webpush import WebPushAdapter, nudge_payload, topic_for

from .fanout_support import start_sink, subscriber_fields


@pytest.fixture
def sink():
    s = start_sink(subscribers=100, check_every=1)
    yield s
    s.stop()


def _targets(origin: str, indexes, prefix: str = "s") -> list[Target]:
    out = []
    for i in indexes:
        p256dh, auth = subscriber_fields(i)
        out.append(Target(i, i, f"{origin}/{prefix}/{i}", p256dh, auth))
    return out


class _Loop:
    """Runs coroutines as the fan-out does (`run_async`: one loop per thread, or a side loop when
    this thread is inside a running loop, e.g. after the session's browser tests)."""

    def run_until_complete(self, coro):
        from civicpush.delivery.fanout import run_async

        return run_async(coro)

    def close(self) -> None:
        pass


def test_headers_keep_alive_and_verdicts(sink):
    adapter = WebPushAdapter(connections_per_origin=4)
    loop = _Loop()
    try:
        urgent = Nudge(push_id=7, title="颱風警報", body="請避免外出。", urgent=True, ttl_seconds=600)
        results = loop.run_until_complete(adapter.send_batch(_targets(sink.origin, range(20)), urgent))
        assert {r.verdict for r in results} == {Verdict.DELIVERED}
        h = sink.last_headers
        assert h[b"ttl"] == b"600" and h[b"urgency"] == b"high" and h[b"topic"] == b"push-7"
        assert h[b"content-encoding"] == b"aes128gcm" and h[b"authorization"].startswith(b"vapid t=")
        assert adapter.pool.opened == 4
        normal = Nudge(push_id=8, title="宣導", body="b", topic="water-outage-3")
        loop.run_until_complete(adapter.send_batch(_targets(sink.origin, range(20, 40)), normal))
        assert adapter.pool.opened == 4  # the same connections, kept alive
        assert sink.last_headers[b"urgency"] == b"normal" and sink.last_headers[b"topic"] == b"water-outage-3"
        assert adapter.signer.signed == 1  # one JWT for the origin, reused
        mixed = (
            _targets(sink.origin, [41], "gone")
            + _targets(sink.origin, [42], "busy")
            + _targets(sink.origin, [43], "down")
            + _targets(sink.origin, [44], "bad")
        )
        verdicts = [r.verdict for r in loop.run_until_complete(adapter.send_batch(mixed, normal))]
        assert verdicts == [Verdict.GONE, Verdict.RETRY, Verdict.RETRY, Verdict.FAILED]
        busy = loop.run_until_complete(adapter.send_batch(_targets(sink.origin, [42], "busy"), normal))
        assert busy[0].verdict == Verdict.DELIVERED
        assert sink.check_failures == [] and sink.checked >= 40
    finally:
        loop.run_until_complete(adapter.aclose())
        loop.close()


def test_an_unreachable_push_service_is_a_retry_and_bad_keys_are_gone():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    adapter = WebPushAdapter()
    loop = _Loop()
    try:
        p256dh, auth = subscriber_fields(1)
        targets = [
            Target(1, 1, f"http://127.0.0.1:{port}/s/1", p256dh, auth),
            Target(2, 2, f"http://127.0.0.1:{port}/s/2", "BAAA", auth),
            Target(3, 3, "not a url", p256dh, auth),
        ]
        results = loop.run_until_complete(adapter.send_batch(targets, Nudge(push_id=1, title="t", body="b")))
        assert [r.verdict for r in results] == [Verdict.RETRY, Verdict.GONE, Verdict.GONE]
    finally:
        loop.close()


def test_payload_stays_within_one_record_and_topic_is_url_safe():
    huge = Nudge(push_id=1, title="標題", body="長" * 5000, topic="a b/c+d" * 10)
    assert len(nudge_payload(huge)) <= 3993
    assert topic_for(huge) == "abcdabcdabcdabcdabcdabcdabcdabcd"


def test_requests_are_pipelined_and_answered_in_order(sink):
    """Several requests share one write on a kept-alive connection; each gets its own answer, in order
    (a 410 in the middle of a pipeline lands on its own target)."""
    adapter = WebPushAdapter(connections_per_origin=2, pipeline_depth=16)
    loop = _Loop()
    try:
        targets = _targets(sink.origin, range(40))
        targets[17] = _targets(sink.origin, [17], "gone")[0]
        nudge = Nudge(push_id=9, title="t", body="b")
        results = loop.run_until_complete(adapter.send_batch(targets, nudge))
        verdicts = [r.verdict for r in results]
        assert verdicts[17] == Verdict.GONE
        assert verdicts[:17] + verdicts[18:] == [Verdict.DELIVERED] * 39
        assert adapter.pool.opened == 2
        assert adapter.pool.writes == 3  # 16 + 16 + 8 requests, not 40 sends
        assert sink.distinct == 39 and sink.duplicates == 0 and sink.check_failures == []
    finally:
        loop.run_until_complete(adapter.aclose())


class _OneAnswerServer:
    """A push service that answers only the first request of each connection (201), then closes it:
    with `Connection: close` announced (RFC 9112 §9.6), or abruptly (a connection that breaks)."""

    def __init__(self, announce_close: bool) -> None:
        import asyncio
        import threading

        self.announce_close = announce_close
        self.seen: list[bytes] = []
        ready = threading.Event()

        async def handle(reader, writer) -> None:
            data = b""
            while b"\r\n\r\n" not in data:
                data += await reader.read(65_536)
            head, _, rest = data.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            length = int(next(h for h in lines if h.lower().startswith(b"content-length")).split(b":")[1])
            while len(rest) < length:
                rest += await reader.read(65_536)
            self.seen.append(lines[0])
            close = b"Connection: close\r\n" if self.announce_close else b""
            writer.write(b"HTTP/1.1 201 Created\r\n" + close + b"Content-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()  # whatever else was pipelined is never answered

        async def serve() -> None:
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            self.loop, self.stop_event = asyncio.get_running_loop(), asyncio.Event()
            ready.set()
            async with server:
                await self.stop_event.wait()

        self.thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
        self.thread.start()
        ready.wait(5)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(5)


def test_a_pipeline_cut_by_connection_close_is_finished_on_a_new_connection():
    """RFC 9112 §9.6: requests after an answer with `Connection: close` were not processed; they are
    sent again on another connection (not marked failed, not duplicated)."""
    server = _OneAnswerServer(announce_close=True)
    adapter = WebPushAdapter(connections_per_origin=1, pipeline_depth=4)
    loop = _Loop()
    try:
        targets = _targets(f"http://127.0.0.1:{server.port}", range(4))
        results = loop.run_until_complete(adapter.send_batch(targets, Nudge(push_id=1, title="t", body="b")))
        assert [r.verdict for r in results] == [Verdict.DELIVERED] * 4
        assert sorted(server.seen) == sorted(f"POST /s/{i} HTTP/1.1".encode() for i in range(4))  # each once
        assert adapter.pool.opened == 4
    finally:
        loop.run_until_complete(adapter.aclose())
        server.stop()


def test_a_pipeline_cut_by_a_broken_connection_leaves_the_rest_in_doubt():
    """A connection that breaks mid-pipeline: the answered request keeps its verdict; the unanswered
    ones may or may not have been processed, so they are RETRY (sent again later, same Topic)."""
    server = _OneAnswerServer(announce_close=False)
    adapter = WebPushAdapter(connections_per_origin=1, pipeline_depth=4)
    loop = _Loop()
    try:
        targets = _targets(f"http://127.0.0.1:{server.port}", range(4))
        results = loop.run_until_complete(adapter.send_batch(targets, Nudge(push_id=1, title="t", body="b")))
        assert [r.verdict for r in results] == [Verdict.DELIVERED] + [Verdict.RETRY] * 3
        assert all(r.error.startswith("network:") for r in results[1:])
        assert len(server.seen) == 1 and adapter.pool.opened == 1
    finally:
        loop.run_until_complete(adapter.aclose())
        server.stop()


def test_the_sink_parses_pipelined_requests_and_refuses_incomplete_ones(sink):
    """The benchmark's push service checks every request as a real one does: a POST with a TTL, an
    aes128gcm body and a VAPID Authorization; each pipelined request gets its own answer, in order."""
    ok = (
        b"POST /x/1 HTTP/1.1\r\nHost: h\r\nTTL: 60\r\nContent-Encoding: aes128gcm\r\n"
        b"Authorization: vapid t=a.b.c,k=K\r\nContent-Length: 3\r\n\r\nabc"
    )
    no_ttl = ok.replace(b"TTL: 60\r\n", b"")
    no_vapid = ok.replace(b"vapid t=", b"Bearer ")
    old_coding = ok.replace(b"aes128gcm", b"aesgcm")
    with socket.create_connection(("127.0.0.1", sink.port), timeout=5) as s:
        s.sendall(ok + no_ttl + no_vapid + old_coding + ok.replace(b"/x/1", b"/x/2"))
        data = b""
        while data.count(b"HTTP/1.1 ") < 5:
            data += s.recv(65_536)
    statuses = [int(line.split(b" ")[1]) for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
    assert statuses == [201, 400, 401, 400, 201]
    assert sink.bad_requests == 3 and sink.distinct == 2
