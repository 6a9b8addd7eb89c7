"""The FCM HTTP v1 adapter against the local fake: OAuth (JWT bearer grant, token cached and reused),
the message it sends, and each documented answer mapped to a verdict."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from civicpush.delivery.fakes.fcm import FakeFcm
from civicpush.delivery.providers import fcm
from civicpush.delivery.providers.base import Nudge, Target, Verdict

from .deledge_helpers import ec_key, pem_private, pem_public, rsa_key, run_async

NUDGE = Nudge(push_id=42, title="停水通知", body="明日上午九時起停水。", url="/m/42/", topic="water-42", urgent=True)


@pytest.fixture
def fake() -> Iterator[FakeFcm]:
    fcm.clear_token_cache()
    with FakeFcm(project_id="civicpush-test", public_key_pem=pem_public(rsa_key())) as server:
        yield server
    fcm.clear_token_cache()


def account(fake: FakeFcm) -> dict[str, Any]:
    return {
        "type": "service_account",
        "project_id": "civicpush-test",
        "private_key_id": "key-1",
        "private_key": pem_private(rsa_key()),
        "client_email": "civicpush@civicpush-test.iam.gserviceaccount.com",
        "token_uri": fake.token_uri,
    }


def send(fake: FakeFcm, tokens: list[str], nudge: Nudge = NUDGE, **kwargs: Any) -> list[Any]:
    async def run() -> list[Any]:
        adapter = fcm.FcmAdapter(service_account=account(fake), base_url=fake.url, **kwargs)
        try:
            return await adapter.send_batch(
                [Target(outcome_id=i, device_id=i, address=t) for i, t in enumerate(tokens)], nudge
            )
        finally:
            await adapter.aclose()

    return run_async(run())


def test_each_documented_answer_maps_to_its_verdict(fake: FakeFcm) -> None:
    tokens = ["ok-1", "unregistered-1", "mismatch-1", "invalid-1", "quota-1", "unavailable-1", "internal-1"]
    results = dict(zip(tokens, send(fake, tokens), strict=True))
    assert results["ok-1"].verdict == Verdict.DELIVERED
    assert results["unregistered-1"].verdict == Verdict.GONE and results["unregistered-1"].status_code == 404
    assert results["mismatch-1"].verdict == Verdict.GONE and results["mismatch-1"].status_code == 403
    # INVALID_ARGUMENT may be our payload's fault, for every token: never a reason to remove devices.
    assert results["invalid-1"].verdict == Verdict.FAILED
    assert results["quota-1"].verdict == Verdict.RETRY and results["quota-1"].retry_after == 7.0
    assert results["unavailable-1"].verdict == Verdict.RETRY and results["unavailable-1"].retry_after == 7.0
    assert results["internal-1"].verdict == Verdict.RETRY
    assert "UNREGISTERED" in results["unregistered-1"].error


def test_the_oauth_token_is_requested_once_and_reused(fake: FakeFcm) -> None:
    send(fake, [f"ok-{i}" for i in range(30)])  # 30 concurrent sends wait for one token
    send(fake, ["ok-again"])  # another adapter in the same process: the cached token
    assert fake.token_requests == 1
    assert len(fake.messages) == 31


def test_a_revoked_token_is_replaced_once_and_the_message_still_goes(fake: FakeFcm) -> None:
    send(fake, ["ok-1"])
    fake.revoke_tokens()
    [result] = send(fake, ["ok-2"])
    assert result.verdict == Verdict.DELIVERED
    assert fake.token_requests == 2


def test_a_token_near_expiry_is_renewed(fake: FakeFcm) -> None:
    fake.state.token_lifetime = fcm.TOKEN_REFRESH_MARGIN - 1  # already inside the renewal margin
    send(fake, ["ok-1"])
    send(fake, ["ok-2"])
    assert fake.token_requests == 2


def test_the_message_is_a_notification_with_string_data(fake: FakeFcm) -> None:
    nudge = Nudge(
        push_id=7, title="防火宣導", body="請測試住警器。", image="https://push.example.tw/media/a.jpg", topic="fire"
    )
    send(fake, ["ok-1"], nudge)
    [message] = fake.messages
    assert message["token"] == "ok-1"
    assert message["notification"] == {
        "title": "防火宣導",
        "body": "請測試住警器。",
        "image": "https://push.example.tw/media/a.jpg",
    }
    assert message["data"] == {"push_id": "7", "url": "/m/7/"}
    assert message["android"]["priority"] == "NORMAL" and message["android"]["collapse_key"] == "fire"
    assert message["android"]["ttl"] == "86400s"
    assert len(json.dumps({"message": message}).encode()) < 4096


def test_a_refused_oauth_grant_is_a_retry_not_a_removal() -> None:
    fcm.clear_token_cache()
    with FakeFcm(
        public_key_pem=pem_public(ec_key())
    ) as fake:  # the fake checks the assertion against another key: invalid_grant
        [result] = send(fake, ["ok-1"])
    assert result.verdict == Verdict.RETRY and "OAuth" in result.error


def test_network_failure_is_a_retry() -> None:
    fcm.clear_token_cache()
    fake = FakeFcm().start()
    url, token_uri = fake.url, fake.token_uri
    fake.stop()  # nothing listens any more

    async def run() -> Any:
        adapter = fcm.FcmAdapter(service_account={**account(fake), "token_uri": token_uri}, base_url=url)
        try:
            return await adapter.send_batch([Target(1, 1, "ok-1")], NUDGE)
        finally:
            await adapter.aclose()

    [result] = run_async(run())
    assert result.verdict == Verdict.RETRY


def test_make_adapter_reads_the_settings(settings: Any, fake: FakeFcm, tmp_path: Any) -> None:
    assert isinstance(fcm.make_adapter(), fcm._Unconfigured)
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(account(fake)))
    settings.FCM_SERVICE_ACCOUNT = str(key_file)
    settings.FCM_BASE_URL = fake.url
    settings.FCM_TOKEN_URI = fake.token_uri
    adapter = fcm.make_adapter()
    assert isinstance(adapter, fcm.FcmAdapter)

    async def run() -> Any:
        try:
            return await adapter.send_batch([Target(1, 1, "ok-1")], NUDGE)
        finally:
            await adapter.aclose()

    [result] = run_async(run())
    assert result.verdict == Verdict.DELIVERED
    assert fake.messages[0]["android"]["priority"] == "HIGH"  # an urgent nudge
