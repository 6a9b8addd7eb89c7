"""The fast path for POST /api/v1/coins/transfers (coins/fastpath_api.py, ADR 0014) answers exactly as
Django does: the same requests through the WSGI application with the fast path on and off give the
same status, body (ids and timestamps aside) and headers; whatever it does not handle reaches Django."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from civicpush.api.tests.conftest import IssuedKey, issue_key
from civicpush.coins import fastpath_api, ledger
from civicpush.coins.models import Transfer
from civicpush.config.wsgi import application
from civicpush.org.services import do_create_api_key, do_revoke_api_key

from .ledger_fixtures import make_citizen, make_world

pytestmark = pytest.mark.django_db(transaction=True)  # the batcher's threads see committed rows only

URL = "/api/v1/coins/transfers"


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes, by_django: bool) -> None:
        self.status, self.headers, self.body, self.by_django = status, headers, body, by_django

    @property
    def code(self) -> int:
        return int(self.status.split()[0])

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@pytest.fixture
def call(monkeypatch: pytest.MonkeyPatch) -> Any:
    """call(body, fast=True, **environ) → Answer: the request through the project's WSGI application."""
    django_calls: list[str] = []
    django_app = application.django_application

    def spy(environ: dict[str, Any], start_response: Any) -> Any:
        django_calls.append(environ["PATH_INFO"])
        return django_app(environ, start_response)

    monkeypatch.setattr(application, "django_application", spy)

    def _call(body: Any, *, fast: bool = True, raw: bytes | None = None, **extra: str) -> Answer:
        data = raw if raw is not None else json.dumps(body).encode()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": URL,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.input": io.BytesIO(data),
            **extra,
        }
        setup_testing_defaults(environ)
        out: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            out["status"], out["headers"] = status, list(headers)
            return lambda _data: None

        before = len(django_calls)
        monkeypatch.setattr(application, "active", fast)
        result = application(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return Answer(out["status"], out["headers"], content, by_django=len(django_calls) > before)

    return _call


@pytest.fixture(params=[True, False], ids=["batched", "direct"])
def batching(request: pytest.FixtureRequest, settings: Any) -> Iterator[bool]:
    settings.COINS_API_BATCHING = request.param
    yield request.param
    with ledger._batchers_lock:
        running = ledger._batchers.pop(os.getpid(), None)
    if running is not None:
        running.stop()  # its threads hold database connections


@pytest.fixture
def pools(org: Any) -> dict[str, Any]:
    world = make_world(org.unit("prevention"))
    county = world.county
    own = ledger.reward_pool(county, ref="push:own", unit=org.unit("taitung-brigade"))
    other = ledger.reward_pool(county, ref="push:other", unit=org.unit("prevention"))
    wallet = ledger.wallet_of(make_citizen(county))
    for account in (own, other, wallet):
        ledger.issue(key=f"fund:{account.pk}", budget=world.budget, credit=account, amount=100, period=world.period,
                     reason="t")  # fmt: skip
    return {"own": own, "other": other, "wallet": wallet, "issuing": ledger.issuing_account(county)}


def _pay(debit: Any, credit: Any, key: str, amount: int = 1, **over: Any) -> dict[str, Any]:
    return {"key": key, "debit_account_id": debit.pk, "credit_account_id": credit.pk, "amount": amount,
            "kind": "reward", **over}  # fmt: skip


def _bearer(key: IssuedKey) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key.raw}"}


def _same(fast: Answer, slow: Answer, *, ignore: tuple[str, ...] = ()) -> None:
    assert fast.status == slow.status, (fast.status, fast.body, slow.status, slow.body)
    if ignore:
        a, b = fast.json(), slow.json()
        for field in ignore:
            a.pop(field), b.pop(field)
        assert a == b
        # A different transfer id or timestamp may change the length; everything else is equal.
        strip = (
            [h for h in fast.headers if h[0] != "Content-Length"],
            [h for h in slow.headers if h[0] != "Content-Length"],
        )
        assert strip[0] == strip[1]
        assert fast.header("Content-Length") == str(len(fast.body))
    else:
        assert fast.body == slow.body
        assert fast.headers == slow.headers


def test_success_replay_conflict_and_refusal_are_answered_as_django_does(
    org: Any, pools: dict[str, Any], call: Any, batching: bool
) -> None:
    key = issue_key(org, "taitung-brigade")
    auth = _bearer(key)
    fast = call(_pay(pools["own"], pools["wallet"], "f-1"), **auth)
    slow = call(_pay(pools["own"], pools["wallet"], "s-1"), fast=False, **auth)
    assert not fast.by_django and slow.by_django
    assert fast.code == 201 and fast.json()["key"] == "f-1" and fast.json()["replayed"] is False
    _same(fast, slow, ignore=("transfer_id", "key", "created_at"))
    assert ledger.balance(pools["own"]) == 98 and ledger.balance(pools["wallet"]) == 102
    assert Transfer.objects.get(key="f-1").actor_label == f"api-key:{key.row.prefix}"

    # A retry with the same body replays the first result (whichever path recorded it).
    for recorded in ("f-1", "s-1"):
        body = _pay(pools["own"], pools["wallet"], recorded)
        fast, slow = call(body, **auth), call(body, fast=False, **auth)
        assert not fast.by_django and fast.code == 200 and fast.header("Idempotency-Replayed") == "true"
        _same(fast, slow)
    assert fast.json()["transfer_id"] == Transfer.objects.get(key="s-1").pk

    # The same key with another body: 409; too few coins: 400 — problem+json from the same handler.
    conflict = _pay(pools["own"], pools["wallet"], "f-1", amount=2)
    fast, slow = call(conflict, **auth), call(conflict, fast=False, **auth)
    assert not fast.by_django and fast.code == 409 and fast.json()["code"] == "idempotency_conflict"
    _same(fast, slow)
    fast = call(_pay(pools["own"], pools["wallet"], "f-2", amount=99), **auth)
    slow = call(_pay(pools["own"], pools["wallet"], "s-2", amount=99), fast=False, **auth)
    assert not fast.by_django and fast.code == 400 and fast.json()["code"] == "insufficient_funds"
    assert fast.header("Content-Type") == "application/problem+json"
    _same(fast, slow)
    # In the language asked for.
    fast = call(conflict, HTTP_ACCEPT_LANGUAGE="en", **auth)
    slow = call(conflict, fast=False, HTTP_ACCEPT_LANGUAGE="en", **auth)
    assert not fast.by_django and fast.header("Content-Language") == "en"
    _same(fast, slow)
    assert fast.json()["title"] == "Conflict"
    assert ledger.balance(pools["own"]) == 98 and ledger.balance(pools["wallet"]) == 102


def test_everything_else_is_left_to_django(org: Any, pools: dict[str, Any], call: Any, batching: bool) -> None:
    key = issue_key(org, "taitung-brigade")
    auth = _bearer(key)
    ok = _pay(pools["own"], pools["wallet"], "k")
    cases: list[tuple[str, dict[str, Any], dict[str, str], bytes | None, int]] = [
        ("bad json", {}, auth, b'{"key": "k", ', 400),
        ("not an object", {}, auth, b"[1, 2]", 400),
        ("empty body", {}, auth, b"", 400),
        ("missing field", {k: v for k, v in ok.items() if k != "amount"}, auth, None, 400),
        ("amount 0", {**ok, "amount": 0}, auth, None, 400),
        ("long memo", {**ok, "memo": "x" * 301}, auth, None, 400),
        ("wrong type", {**ok, "debit_account_id": "one"}, auth, None, 400),
        ("another unit's pool", _pay(pools["other"], pools["wallet"], "k"), auth, None, 403),
        ("a citizen's wallet", _pay(pools["wallet"], pools["own"], "k"), auth, None, 403),
        ("no such account", {**ok, "credit_account_id": 10**9}, auth, None, 404),
        ("no key", ok, {}, None, 401),
        ("unknown key", ok, {"HTTP_AUTHORIZATION": "Bearer cpk_live_0000_nope"}, None, 401),
        ("not a key", ok, {"HTTP_AUTHORIZATION": "Bearer something"}, None, 401),
        ("basic auth", ok, {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"}, None, 401),
        ("X-API-Key", ok, {"HTTP_X_API_KEY": key.raw}, None, 201),
        ("disallowed host", ok, {**auth, "HTTP_HOST": "evil.example"}, None, 400),
        ("query string", {**ok, "key": "q"}, {**auth, "QUERY_STRING": "x=1"}, None, 201),
    ]
    for name, body, extra, raw, status in cases:
        fast = call(body, raw=raw, **extra)
        assert fast.by_django, name
        assert fast.code == status, (name, fast.body)
        if status == 201:  # answered by Django through the fast path's door: its key is now recorded
            continue
        slow = call(body, raw=raw, fast=False, **extra)
        _same(fast, slow)
    assert Transfer.objects.filter(key="k").count() == 1
    # The ledger's own refusals are answered by the fast path, with the API's problem bodies.
    for body in (_pay(pools["own"], pools["own"], "r"), _pay(pools["own"], pools["issuing"], "r")):
        fast, slow = call(body, **auth), call(body, fast=False, **auth)
        assert not fast.by_django and fast.code == 400 and fast.json()["code"] in ("same_account", "issuing_account")
        _same(fast, slow)


def test_test_keys_revoked_keys_and_inactive_units_are_refused_by_django(
    org: Any, pools: dict[str, Any], call: Any, batching: bool
) -> None:
    body = _pay(pools["own"], pools["wallet"], "t-1")
    test_key = issue_key(org, "taitung-brigade", "test")
    squad_row, squad_raw = do_create_api_key(
        actor=org.user("taitung-brigade.manager"), unit=org.unit("taitung-squad"), name="squad system", kind="live"
    )
    squad_key = IssuedKey(row=squad_row, raw=squad_raw)  # a sub-unit's key does not reach its parent's pool
    for key, status in ((test_key, 403), (squad_key, 403)):
        fast, slow = call(body, **_bearer(key)), call(body, fast=False, **_bearer(key))
        assert fast.by_django and fast.code == status
        _same(fast, slow)

    live = issue_key(org, "taitung-brigade")
    assert call(body, **_bearer(live)).code == 201  # cached now
    do_revoke_api_key(actor=org.user("taitung-brigade.manager"), key_id=live.row.pk)
    again = _pay(pools["own"], pools["wallet"], "t-2")
    fast, slow = call(again, **_bearer(live)), call(again, fast=False, **_bearer(live))
    assert fast.by_django and fast.code == 401 and fast.json()["code"] == "invalid_api_key"
    _same(fast, slow)

    other = issue_key(org, "taitung-brigade")
    assert not call(_pay(pools["own"], pools["wallet"], "t-3"), **_bearer(other)).by_django
    unit = org.unit("taitung-brigade")
    unit.is_active = False
    unit.save()  # clears the key cache (signal), as a revocation does
    fast = call(_pay(pools["own"], pools["wallet"], "t-4"), **_bearer(other))
    slow = call(_pay(pools["own"], pools["wallet"], "t-4"), fast=False, **_bearer(other))
    assert fast.by_django and fast.code == 401
    _same(fast, slow)
    assert ledger.balance(pools["own"]) == 98


def test_session_requests_go_to_django(org: Any, pools: dict[str, Any], call: Any, client: Any) -> None:
    client.force_login(org.user("county.operator"))
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    body = _pay(pools["own"], pools["wallet"], "c-1")
    # Signed in with a session, no CSRF token: refused by Django (the fast path does not answer cookies).
    answer = call(body, HTTP_COOKIE=cookie)
    assert answer.by_django and answer.code == 403 and answer.json()["code"] == "csrf_failed"
    # A key with a cookie: Django answers (the key wins there), as it may refresh the session.
    key = issue_key(org, "taitung-brigade")
    answer = call(body, HTTP_COOKIE=cookie, **_bearer(key))
    assert answer.by_django and answer.code == 201


def test_a_changed_middleware_list_turns_the_fast_path_off(
    org: Any, pools: dict[str, Any], call: Any, settings: Any
) -> None:
    key = issue_key(org, "taitung-brigade")
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "clickjacking" not in m]
    assert tuple(settings.MIDDLEWARE) != fastpath_api.KNOWN_MIDDLEWARE
    answer = call(_pay(pools["own"], pools["wallet"], "m-1"), **_bearer(key))
    assert answer.by_django and answer.code == 201  # (Django's handler keeps the middleware it was built with)


def test_borderline_bodies_are_judged_alike(org: Any, pools: dict[str, Any], call: Any, settings: Any) -> None:
    """The fast path validates with a plain copy of TransferIn: what it accepts, ninja accepts alike."""
    settings.COINS_API_BATCHING = False
    auth = _bearer(issue_key(org, "taitung-brigade"))
    variants: list[dict[str, Any]] = [
        {"amount": "2"},
        {"amount": 2.0},
        {"amount": 2.5},
        {"amount": True},
        {"amount": None},
        {"key": ""},
        {"key": " "},
        {"key": "k" * 201},
        {"kind": ""},
        {"memo": None},
        {"metadata": []},
        {"metadata": {"a": [1, {"b": None}]}},
        {"debit_account_id": str(pools["own"].pk)},
        {"unknown": 1},
    ]
    for n, over in enumerate(variants):
        fast_body = {**_pay(pools["own"], pools["wallet"], f"b-f-{n}"), **over}
        slow_body = {**_pay(pools["own"], pools["wallet"], f"b-s-{n}"), **over}
        if "key" in over:
            fast_body["key"] = slow_body["key"] = over["key"] or ""
        fast, slow = call(fast_body, **auth), call(slow_body, fast=False, **auth)
        assert fast.code == slow.code, (over, fast.body, slow.body)
        if fast.code == 201:
            _same(fast, slow, ignore=("transfer_id", "key", "created_at"))
        else:
            _same(fast, slow)


def test_accounts_read_for_authorisation_are_the_orm_rows(pools: dict[str, Any]) -> None:
    from civicpush.api.routers import coins as endpoint
    from civicpush.coins.models import Account

    ids = [pools["own"].pk, pools["wallet"].pk, 10**9]
    loaded = {account.pk: (account, path) for account, path in endpoint._load_accounts(ids)}
    assert set(loaded) == set(ids[:2])
    for account in Account.objects.filter(pk__in=ids).select_related("unit"):
        mine, path = loaded[account.pk]
        for field in Account._meta.concrete_fields:
            assert getattr(mine, field.attname) == getattr(account, field.attname), field.name
        assert path == (account.unit.path if account.unit else "")
    assert loaded[pools["own"].pk][1] and loaded[pools["wallet"].pk][1] == ""
