"""Coin ledger endpoints: a transfer between two accounts of the caller's county.

Authorisation (decision): moving coins between arbitrary accounts is a county-level power, so only
staff holding CONFIGURE_COUNTY county-wide (county operator, system administrator) may call it;
API keys are unit-scoped and are refused. Citizens' and stores' own flows use their surfaces.
The ledger's transfer row (append-only, hash-chained, with the staff member's username) is the
audit record of each movement.

Set CIVICPUSH_LEDGER_BATCHING=1 to route requests through the process's `TransferBatcher`, which
groups concurrent requests into shared commits (each request still gets its own result).
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.responses import Response
from pydantic import Field

from civicpush.coins import ledger
from civicpush.coins.models import Account
from civicpush.core.errors import NotFound, PermissionDenied
from civicpush.org import permissions
from civicpush.org.roles import Capability

from ..auth import principal_of
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


def _batching() -> bool:
    configured = getattr(settings, "COINS_API_BATCHING", None)
    if configured is None:
        return os.environ.get("CIVICPUSH_LEDGER_BATCHING", "0") == "1"
    return bool(configured)


@router.post(
    "/coins/transfers",
    response={200: TransferOut, 201: TransferOut, **problem_responses(400, 401, 403, 404, 409)},
    summary="Transfer coins between two accounts",
)
def create_transfer(request: HttpRequest, payload: TransferIn) -> HttpResponse | Response:
    """201 with the new transfer; 200 (header `Idempotency-Replayed: true`) for a retry of a key
    already used with the same body; 409 when the key was used with a different body; 400 when the
    debit account has too few coins."""
    principal = principal_of(request)
    staff = principal.require_staff()
    if staff.county_id is None or not permissions.has_county_capability(staff, Capability.CONFIGURE_COUNTY):
        raise PermissionDenied()
    accounts = Account.objects.in_bulk([payload.debit_account_id, payload.credit_account_id])
    debit, credit = accounts.get(payload.debit_account_id), accounts.get(payload.credit_account_id)
    if debit is None or credit is None or debit.county_id != staff.county_id or credit.county_id != staff.county_id:
        raise NotFound(_("No such coin account."))
    req = ledger.TransferRequest(
        key=payload.key, debit=debit, credit=credit, amount=payload.amount, kind=payload.kind,
        memo=payload.memo, actor=staff, metadata=payload.metadata,
    )  # fmt: skip
    if _batching():
        result = ledger.batcher().transfer(req)
    else:
        result = ledger.transfer(
            key=req.key, debit=debit, credit=credit, amount=req.amount, kind=req.kind, memo=req.memo,
            actor=staff, metadata=req.metadata,
        )  # fmt: skip
    response = Response(TransferOut(**result.__dict__).model_dump(mode="json"), status=200 if result.replayed else 201)
    if result.replayed:
        response["Idempotency-Replayed"] = "true"
    return response
