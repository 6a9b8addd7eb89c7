"""POST /api/v1/coins/transfers: county operators move coins, unit API keys their own unit's pool and
budget coins; retries replay; errors are problem+json."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from civicpush.api.tests.conftest import IssuedKey, issue_key
from civicpush.coins import ledger
from civicpush.coins.models import Transfer
from civicpush.org.services import do_create_api_key

from .ledger_fixtures import make_citizen, make_world

URL = "/api/v1/coins/transfers"


@pytest.fixture
def funded(org: Any) -> dict[str, Any]:
    world = make_world(org.unit("prevention"))
    a = ledger.wallet_of(make_citizen(world.county))
    b = ledger.store_payable(world.county, ref="store:1")
    ledger.issue(key="fund", budget=world.budget, credit=a, amount=100, period=world.period, reason="t")
    return {"a": a, "b": b}


def _body(funded: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {"key": "api-1", "debit_account_id": funded["a"].pk, "credit_account_id": funded["b"].pk, "amount": 30,
            "kind": "spend", **over}  # fmt: skip


def test_operator_transfers_and_a_retry_replays(org: Any, funded: dict[str, Any]) -> None:
    client = Client()
    client.force_login(org.user("county.operator"))
    first = client.post(URL, _body(funded), content_type="application/json")
    assert first.status_code == 201, first.content
    again = client.post(URL, _body(funded), content_type="application/json")
    assert again.status_code == 200 and again["Idempotency-Replayed"] == "true"
    assert again.json()["transfer_id"] == first.json()["transfer_id"]
    assert ledger.balance(funded["a"]) == 70
    conflict = client.post(URL, _body(funded, amount=31), content_type="application/json")
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    short = client.post(URL, _body(funded, key="api-2", amount=71), content_type="application/json")
    assert short.status_code == 400 and short.json()["code"] == "insufficient_funds"
    assert ledger.balance(funded["a"]) == 70


def test_unit_staff_and_api_keys_cannot_move_coins(org: Any, funded: dict[str, Any]) -> None:
    client = Client()
    client.force_login(org.user("prevention.head"))
    assert client.post(URL, _body(funded), content_type="application/json").status_code == 403
    key = issue_key(org, "prevention")
    assert Client().post(URL, _body(funded), content_type="application/json", **key.bearer).status_code == 403
    assert ledger.balance(funded["a"]) == 100


def test_session_callers_need_the_csrf_token(org: Any, funded: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.user("county.operator"))
    assert client.post(URL, _body(funded), content_type="application/json").status_code == 403
    assert ledger.balance(funded["a"]) == 100


# --- unit API keys: a unit's system pays from its own budgets and reward pools --------------------


@pytest.fixture
def pools(org: Any) -> dict[str, Any]:
    world = make_world(org.unit("prevention"))
    county = world.county
    own = ledger.reward_pool(county, ref="push:own", unit=org.unit("taitung-brigade"))
    squad = ledger.reward_pool(county, ref="push:squad", unit=org.unit("taitung-squad"))
    other = ledger.reward_pool(county, ref="push:other", unit=org.unit("prevention"))
    wallet = ledger.wallet_of(make_citizen(county))
    for account in (own, squad, other, wallet):
        ledger.issue(key=f"fund:{account.pk}", budget=world.budget, credit=account, amount=100, period=world.period,
                     reason="t")  # fmt: skip
    return {"own": own, "squad": squad, "other": other, "wallet": wallet}


def _pay(debit: Any, credit: Any, key: str = "pay-1", amount: int = 10) -> dict[str, Any]:
    return {"key": key, "debit_account_id": debit.pk, "credit_account_id": credit.pk, "amount": amount,
            "kind": "reward"}  # fmt: skip


def test_a_unit_key_pays_from_its_own_pools_and_a_retry_replays(org: Any, pools: dict[str, Any]) -> None:
    key = issue_key(org, "taitung-brigade")
    first = Client().post(URL, _pay(pools["own"], pools["wallet"]), content_type="application/json", **key.bearer)
    assert first.status_code == 201, first.content
    # Its scope covers its sub-units (as for every key); the retry answers from the record.
    squad = Client().post(URL, _pay(pools["squad"], pools["wallet"], key="pay-2"), content_type="application/json",
                          **key.x_api_key)  # fmt: skip
    assert squad.status_code == 201, squad.content
    again = Client().post(URL, _pay(pools["own"], pools["wallet"]), content_type="application/json", **key.bearer)
    assert again.status_code == 200 and again.json()["transfer_id"] == first.json()["transfer_id"]
    assert ledger.balance(pools["own"]) == 90 and ledger.balance(pools["wallet"]) == 120
    assert Transfer.objects.get(key="pay-1").actor_label == f"api-key:{key.row.prefix}"
    short = Client().post(URL, _pay(pools["own"], pools["wallet"], key="pay-3", amount=91),
                          content_type="application/json", **key.bearer)  # fmt: skip
    assert short.status_code == 400 and short["Content-Type"] == "application/problem+json"
    assert short.json()["code"] == "insufficient_funds"


def test_a_unit_key_cannot_move_other_units_or_citizens_coins(org: Any, pools: dict[str, Any]) -> None:
    key = issue_key(org, "taitung-brigade")
    for debit in (pools["other"], pools["wallet"]):
        response = Client().post(URL, _pay(debit, pools["own"]), content_type="application/json", **key.bearer)
        assert response.status_code == 403, response.content
        assert response["Content-Type"] == "application/problem+json"
    # A squad's key does not reach its parent brigade's pool.
    squad_row, squad_raw = do_create_api_key(
        actor=org.user("taitung-brigade.manager"), unit=org.unit("taitung-squad"), name="squad system", kind="live"
    )
    squad_key = IssuedKey(row=squad_row, raw=squad_raw)
    response = Client().post(URL, _pay(pools["own"], pools["wallet"]), content_type="application/json",
                             **squad_key.bearer)  # fmt: skip
    assert response.status_code == 403
    test_key = issue_key(org, "taitung-brigade", "test")
    response = Client().post(URL, _pay(pools["own"], pools["wallet"]), content_type="application/json",
                             **test_key.bearer)  # fmt: skip
    assert response.status_code == 403
    assert [ledger.balance(pools[n]) for n in ("own", "other", "wallet")] == [100, 100, 100]


def test_a_revoked_key_is_refused_at_once_although_it_was_cached(org: Any, pools: dict[str, Any]) -> None:
    from civicpush.org.services import do_revoke_api_key

    key = issue_key(org, "taitung-brigade")
    ok = Client().post(URL, _pay(pools["own"], pools["wallet"]), content_type="application/json", **key.bearer)
    assert ok.status_code == 201
    do_revoke_api_key(actor=org.user("taitung-brigade.manager"), key_id=key.row.pk)
    refused = Client().post(URL, _pay(pools["own"], pools["wallet"], key="pay-9"), content_type="application/json",
                            **key.bearer)  # fmt: skip
    assert refused.status_code == 401
    assert ledger.balance(pools["own"]) == 90


@pytest.fixture
def process_batcher() -> Iterator[None]:
    """Stops this process's batcher afterwards (its threads hold database connections)."""
    yield
    with ledger._batchers_lock:
        running = ledger._batchers.pop(os.getpid(), None)
    if running is not None:
        running.stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("process_batcher")
def test_api_transfers_join_the_process_batcher(org: Any, pools: dict[str, Any], settings: Any) -> None:
    settings.COINS_API_BATCHING = True
    key = issue_key(org, "taitung-brigade")
    body = _pay(pools["own"], pools["wallet"], key="batched-1")
    first = Client().post(URL, body, content_type="application/json", **key.bearer)
    assert first.status_code == 201, first.content
    again = Client().post(URL, body, content_type="application/json", **key.bearer)
    assert again.status_code == 200 and again.json()["transfer_id"] == first.json()["transfer_id"]
    conflict = Client().post(URL, {**body, "amount": 11}, content_type="application/json", **key.bearer)
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    assert ledger.balance(pools["own"]) == 90 and ledger.balance(pools["wallet"]) == 110
