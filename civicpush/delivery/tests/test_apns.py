"""The APNs adapter against the local HTTP/2 fake: token authentication (the ES256 provider token is
reused, renewed after ExpiredProviderToken), the request headers, and each documented answer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from civicpush.delivery.fakes.apns import FakeApns
from civicpush.delivery.providers import apns
from civicpush.delivery.providers.base import Nudge, Target, Verdict

from .deledge_helpers import APNS_TOKEN, ec_key, pem_private, pem_public, run_async

TEAM, KEY_ID, TOPIC = "TEAM123456", "KEY1234567", "tw.gov.civicpush.test"
KEY = ec_key()
NUDGE = Nudge(push_id=42, title="停水通知", body="明日上午九時起停水。", topic="water-42")


@pytest.fixture
def fake() -> Iterator[FakeApns]:
    apns.clear_token_cache()
    with FakeApns(team_id=TEAM, topic=TOPIC, public_keys={KEY_ID: pem_public(KEY)}, retry_after=9) as server:
        yield server
    apns.clear_token_cache()


def adapter_for(fake: FakeApns) -> apns.ApnsAdapter:
    return apns.ApnsAdapter(key_pem=pem_private(KEY), key_id=KEY_ID, team_id=TEAM, topic=TOPIC, base_url=fake.url)


def send(fake: FakeApns, tokens: list[str], nudge: Nudge = NUDGE) -> list[Any]:
    async def run() -> list[Any]:
        adapter = adapter_for(fake)
        try:
            return await adapter.send_batch([Target(i, i, t) for i, t in enumerate(tokens)], nudge)
        finally:
            await adapter.aclose()

    return run_async(run())


def test_each_documented_answer_maps_to_its_verdict(fake: FakeApns) -> None:
    tokens = [APNS_TOKEN, "unregistered-1", "badtoken-1", "wrongtopic-1", "throttled-1", "internal-1", "unavailable-1"]
    results = dict(zip(tokens, send(fake, tokens), strict=True))
    assert results[APNS_TOKEN].verdict == Verdict.DELIVERED
    assert results["unregistered-1"].verdict == Verdict.GONE and results["unregistered-1"].status_code == 410
    assert results["badtoken-1"].verdict == Verdict.GONE and "BadDeviceToken" in results["badtoken-1"].error
    assert results["wrongtopic-1"].verdict == Verdict.GONE and "DeviceTokenNotForTopic" in results["wrongtopic-1"].error
    assert results["throttled-1"].verdict == Verdict.RETRY and results["throttled-1"].retry_after == 9.0
    assert results["internal-1"].verdict == Verdict.RETRY
    assert results["unavailable-1"].verdict == Verdict.RETRY


def test_requests_go_over_one_http2_connection_with_one_reused_provider_token(fake: FakeApns) -> None:
    send(fake, [APNS_TOKEN] * 20)
    send(fake, [APNS_TOKEN] * 5)  # a second adapter in the same process: the same provider token
    assert len(fake.requests) == 25
    assert len(fake.provider_tokens) == 1
    assert fake.connections == 2  # one persistent HTTP/2 connection per adapter (h2 only: no HTTP/1.1)
    [token] = fake.provider_tokens
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, pem_public(KEY), algorithms=["ES256"])
    assert header["kid"] == KEY_ID and header["alg"] == "ES256"
    assert claims["iss"] == TEAM and abs(claims["iat"] - time.time()) < 60


def test_an_expired_provider_token_is_renewed_and_the_send_retried(fake: FakeApns) -> None:
    send(fake, [APNS_TOKEN])
    fake.expire_provider_tokens()
    [result] = send(fake, [APNS_TOKEN])
    assert result.verdict == Verdict.RETRY and "ExpiredProviderToken" in result.error
    [again] = send(fake, [APNS_TOKEN])  # the fan-out's retry signs a new token
    assert again.verdict == Verdict.DELIVERED
    assert len(fake.provider_tokens) == 2


def test_the_provider_token_is_reused_for_forty_minutes_then_renewed() -> None:
    apns.clear_token_cache()
    now = time.time()
    first = apns.provider_token(TEAM, KEY_ID, pem_private(KEY), now=now)
    assert apns.provider_token(TEAM, KEY_ID, pem_private(KEY), now=now + 39 * 60) == first
    renewed = apns.provider_token(TEAM, KEY_ID, pem_private(KEY), now=now + 41 * 60)
    assert renewed != first
    assert 20 * 60 <= apns.PROVIDER_TOKEN_MAX_AGE <= 60 * 60
    apns.clear_token_cache()


def test_headers_and_payload(fake: FakeApns) -> None:
    urgent = Nudge(
        push_id=9,
        title="颱風警報",
        body="請避免外出。",
        urgent=True,
        ttl_seconds=600,
        topic="typhoon",
        image="https://x.tw/a.jpg",
    )
    send(fake, [APNS_TOKEN], urgent)
    send(fake, [APNS_TOKEN], Nudge(push_id=10, title="活動", body="歡迎參加。", ttl_seconds=0))
    first, second = fake.requests
    headers = first["headers"]
    assert headers["apns-topic"] == TOPIC and headers["apns-push-type"] == "alert"
    assert headers["apns-priority"] == "10" and headers["apns-collapse-id"] == "typhoon"
    assert 0 < int(headers["apns-expiration"]) - time.time() <= 600
    payload = json.loads(first["payload"])
    assert payload["aps"]["alert"] == {"title": "颱風警報", "body": "請避免外出。"}
    assert payload["aps"]["mutable-content"] == 1 and payload["image"] == "https://x.tw/a.jpg"
    assert payload["push_id"] == 9 and payload["url"] == "/m/9/"
    assert second["headers"]["apns-priority"] == "5" and second["headers"]["apns-expiration"] == "0"
    assert "apns-collapse-id" not in second["headers"]


def test_a_wrong_topic_or_key_is_a_failure_not_a_removal(fake: FakeApns) -> None:
    async def run(adapter: apns.ApnsAdapter) -> Any:
        try:
            return (await adapter.send_batch([Target(1, 1, APNS_TOKEN)], NUDGE))[0]
        finally:
            await adapter.aclose()

    wrong_topic = apns.ApnsAdapter(
        key_pem=pem_private(KEY), key_id=KEY_ID, team_id=TEAM, topic="other.app", base_url=fake.url
    )
    result = run_async(run(wrong_topic))
    assert result.verdict == Verdict.FAILED and "TopicDisallowed" in result.error
    apns.clear_token_cache()
    other_key = apns.ApnsAdapter(
        key_pem=pem_private(ec_key()), key_id=KEY_ID, team_id=TEAM, topic=TOPIC, base_url=fake.url
    )
    result = run_async(run(other_key))
    assert result.verdict == Verdict.FAILED and "InvalidProviderToken" in result.error


def test_make_adapter_reads_the_settings(settings: Any, fake: FakeApns) -> None:
    assert isinstance(apns.make_adapter(), apns._Unconfigured)
    settings.APNS_KEY = pem_private(KEY)
    settings.APNS_KEY_ID, settings.APNS_TEAM_ID, settings.APNS_TOPIC = KEY_ID, TEAM, TOPIC
    settings.APNS_BASE_URL = fake.url
    adapter = apns.make_adapter()
    assert isinstance(adapter, apns.ApnsAdapter)

    async def run() -> Any:
        try:
            return await adapter.send_batch([Target(1, 1, APNS_TOKEN)], NUDGE)
        finally:
            await adapter.aclose()

    assert run_async(run())[0].verdict == Verdict.DELIVERED
