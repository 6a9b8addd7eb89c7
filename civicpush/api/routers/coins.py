"""Coin ledger endpoints: a transfer between two accounts of the caller's county.

Authorisation (decision): moving coins between arbitrary accounts is a county-level power, so of the
staff only those holding CONFIGURE_COUNTY county-wide (county operator, system administrator) may
call it. A unit API key — the way other systems (questionnaires, events, a unit's case system) pay
rewards — may move its own unit's coins only: the debit account must be a unit budget or reward pool
of the key's unit or one of its sub-units (the key's scope, as in `api.auth`); the credit account
may be any account of the county. Test keys move no coins (403). The ledger's transfer row
(append-only, hash-chained, naming the staff member or `api-key:<prefix>`) is the audit record.

Set CIVICPUSH_LEDGER_BATCHING=1 to route requests through the process's `TransferBatcher`, which
groups concurrent requests into shared commits (each request still gets its own result).
"""

from __future__ import annotations

import datetime
import os
import time
from typing import Any

from django.conf import settings
from django.db import connections
from django.db import router as db_router
from django.db.models.signals import post_save
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.responses import Response
from pydantic import Field

from civicpush.coins import ledger
from civicpush.coins.models import Account, AccountKind
from civicpush.core.errors import NotFound, PermissionDenied
from civicpush.org import permissions
from civicpush.org.models import Unit
from civicpush.org.roles import Capability

from ..auth import ApiPrincipal, principal_of
from ..problems import problem_responses

router = Router(tags=["coins"])


class TransferIn(Schema):
    key: str = Field(
        min_length=1,
        max_length=200,
        description="Idempotency key: a retry with the same key and body returns the first result.",
    )
    debit_account_id: int
    credit_account_id: int
    amount: int = Field(gt=0, description="Whole coins.")
    kind: str = Field(min_length=1, max_length=40)
    memo: str = Field("", max_length=300)
    metadata: dict[str, Any] = Field(default_factory=dict)


class TransferOut(Schema):
    transfer_id: int
    key: str
    amount: int
    debit_account_id: int
    credit_account_id: int
    created_at: datetime.datetime
    replayed: bool


def batching() -> bool:
    configured = getattr(settings, "COINS_API_BATCHING", None)
    if configured is None:
        return os.environ.get("CIVICPUSH_LEDGER_BATCHING", "0") == "1"
    return bool(configured)


# Accounts never change county, kind or unit once created: this process remembers the few fields
# authorisation needs (and the Account row the ledger takes) instead of a query per request.
ACCOUNT_CACHE_SECONDS = 60.0
_accounts: dict[int, tuple[Account, str, float]] = {}  # id → (account, its unit's path or "", when read)
KEY_DEBIT_KINDS = frozenset({AccountKind.UNIT_BUDGET, AccountKind.REWARD_POOL})


def _forget_accounts(**_kwargs: object) -> None:
    _accounts.clear()  # also when ids are reused (a test database rolled back on SQLite)


post_save.connect(_forget_accounts, sender=Account, dispatch_uid="api-coins-forget-accounts")
post_save.connect(_forget_accounts, sender=Unit, dispatch_uid="api-coins-forget-accounts-unit")


def _accounts_by_id(ids: list[int]) -> dict[int, tuple[Account, str]]:
    now = time.monotonic()
    found: dict[int, tuple[Account, str]] = {}
    missing = []
    for pk in ids:
        hit = _accounts.get(pk)
        if hit is not None and now - hit[2] < ACCOUNT_CACHE_SECONDS:
            found[pk] = (hit[0], hit[1])
        else:
            missing.append(pk)
    if missing:
        if len(_accounts) > 50_000:
            _accounts.clear()
        for account, path in _load_accounts(missing):
            _accounts[account.pk] = (account, path, now)
            found[account.pk] = (account, path)
    return found


def _load_accounts(ids: list[int]) -> list[tuple[Account, str]]:
    """The accounts with these ids and their units' paths. On PostgreSQL one plain statement (a unit
    paying rewards meets a new wallet in most requests: the ORM's query building was most of a
    request's cost there); the rows are turned into Account instances as the ORM does (`from_db`)."""
    using = db_router.db_for_read(Account)
    if connections[using].vendor != "postgresql":
        return [
            (account, account.unit.path if account.unit is not None else "")
            for account in Account.objects.using(using).filter(pk__in=ids).select_related("unit")
        ]
    concrete = Account._meta.concrete_fields
    fields = [f.attname for f in concrete]
    columns = ", ".join(f'a."{f.column}"' for f in concrete)
    sql = (
        f'SELECT {columns}, u."path" FROM "{Account._meta.db_table}" a '
        f'LEFT JOIN "{Unit._meta.db_table}" u ON u."id" = a."unit_id" WHERE a."id" = ANY(%s)'
    )
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [list(ids)])
        rows = cursor.fetchall()
    return [(Account.from_db(using, fields, row[:-1]), row[-1] or "") for row in rows]


def authorise(principal: ApiPrincipal, payload: TransferIn) -> tuple[Account, Account, Any]:
    """The debit and credit accounts and the ledger actor, or NotFound / PermissionDenied."""
    accounts = _accounts_by_id([payload.debit_account_id, payload.credit_account_id])
    debit, credit = accounts.get(payload.debit_account_id), accounts.get(payload.credit_account_id)
    key = principal.api_key
    actor: Any
    if key is None:
        staff = principal.require_staff()
        if staff.county_id is None or not permissions.has_county_capability(staff, Capability.CONFIGURE_COUNTY):
            raise PermissionDenied()
        county_id, actor = staff.county_id, staff
    else:
        if principal.is_test:
            raise PermissionDenied(_("Test keys cannot move coins."))
        county_id, actor = key.unit.county_id, principal.label
    if debit is None or credit is None or debit[0].county_id != county_id or credit[0].county_id != county_id:
        raise NotFound(_("No such coin account."))
    if key is not None:
        account, unit_path = debit
        if account.kind not in KEY_DEBIT_KINDS or not unit_path or not unit_path.startswith(key.unit.path):
            raise PermissionDenied(_("An API key can only move coins of its own unit's budgets and reward pools."))
    return debit[0], credit[0], actor


@router.post(
    "/coins/transfers",
    response={200: TransferOut, 201: TransferOut, **problem_responses(400, 401, 403, 404, 409)},
    summary="Transfer coins between two accounts",
)
def create_transfer(request: HttpRequest, payload: TransferIn) -> HttpResponse | Response:
    """201 with the new transfer; 200 (header `Idempotency-Replayed: true`) for a retry of a key
    already used with the same body; 409 when the key was used with a different body; 400 when the
    debit account has too few coins. Staff with county-wide configuration rights may move any
    account's coins; a unit API key only its own unit's budgets and reward pools."""
    result = run_transfer(transfer_request(principal_of(request), payload))
    response = Response(transfer_out(result), status=200 if result.replayed else 201)
    if result.replayed:
        response["Idempotency-Replayed"] = "true"
    return response


# Shared with the fast path for unit keys in front of Django (coins/fastpath_api.py, ADR 0014).


def transfer_request(principal: ApiPrincipal, payload: TransferIn) -> ledger.TransferRequest:
    """The authorised ledger request (NotFound / PermissionDenied as `authorise`)."""
    debit, credit, actor = authorise(principal, payload)
    return ledger.TransferRequest(
        key=payload.key, debit=debit, credit=credit, amount=payload.amount, kind=payload.kind,
        memo=payload.memo, actor=actor, metadata=payload.metadata,
    )  # fmt: skip


def run_transfer(req: ledger.TransferRequest) -> ledger.TransferResult:
    """Through the process's batcher with CIVICPUSH_LEDGER_BATCHING=1, else one transaction here."""
    if batching():
        return ledger.batcher().transfer(req)
    return ledger.transfer(
        key=req.key, debit=req.debit, credit=req.credit, amount=req.amount, kind=req.kind, memo=req.memo,
        actor=req.actor, metadata=req.metadata,
    )  # fmt: skip


def transfer_out(result: ledger.TransferResult) -> dict[str, Any]:
    """The response body (TransferOut as JSON values). The result's fields already have TransferOut's
    types (the ledger builds it), so it is serialised without validating it again."""
    return TransferOut.model_construct(**result.__dict__).model_dump(mode="json")
