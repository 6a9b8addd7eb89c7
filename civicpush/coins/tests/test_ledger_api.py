"""POST /api/v1/coins/transfers: county operators move coins; retries replay; errors are problem+json."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from civicpush.api.tests.conftest import issue_key
from civicpush.coins import ledger

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
