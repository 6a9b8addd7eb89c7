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
