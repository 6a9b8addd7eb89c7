"""Store payments over the API, for the store app or a store's till: charge a citizen's pay code,
refund, and the day's total. Callers are store staff with a session (StoreStaff): a unit API key is
refused (stores are not units). `client_key` is the device's key for one payment attempt: a retry
returns the first payment (200, `Idempotency-Replayed: true`) and never charges twice."""

from __future__ import annotations

import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.responses import Response
from pydantic import Field

from civicpush.core.errors import NotFound, PermissionDenied
from civicpush.stores import access
from civicpush.stores import payments as pay
from civicpush.stores.models import Offer

from ..auth import principal_of
from ..problems import problem_responses

router = Router(tags=["stores"])


class ChargeIn(Schema):
    pay_code: str = Field(min_length=1, max_length=100, description="The citizen's pay code (from their QR).")
    amount: int = Field(0, ge=0, description="Whole coins (ignored when offer_id is given).")
    client_key: str = Field(min_length=8, max_length=64, description="One key per payment attempt (idempotency).")
    offer_id: int | None = None


class PaymentOut(Schema):
    payment_id: int
    amount: int
    created_at: datetime.datetime
    refunded: bool
    replayed: bool = False


class RefundIn(Schema):
    reason: str = Field(min_length=1, max_length=200)


class DayOut(Schema):
    day: datetime.date
    payments: int
    coins: int
    refunds: int
    refunded_coins: int
    net_coins: int


def _store_of(request: HttpRequest):  # type: ignore[no-untyped-def]
    staff = principal_of(request).require_staff()
    membership = access.staff_membership(staff)
    if membership is None:
        raise PermissionDenied()
    return staff, membership.store


@router.post(
    "/stores/payments",
    response={200: PaymentOut, 201: PaymentOut, **problem_responses(400, 401, 403, 404, 409)},
    summary="Charge a citizen's pay code",
)
def charge(request: HttpRequest, payload: ChargeIn) -> HttpResponse | Response:
    staff, store = _store_of(request)
    offer = None
    if payload.offer_id is not None:
        offer = Offer.objects.filter(pk=payload.offer_id, store=store).first()
        if offer is None:
            raise NotFound()
    result = pay.charge_pay_code(staff, store, payload.pay_code, payload.amount, payload.client_key, offer=offer)
    p = result.payment
    body = PaymentOut(
        payment_id=p.pk, amount=p.amount, created_at=p.created_at, refunded=p.is_refunded, replayed=result.replayed
    )
    response = Response(body.model_dump(mode="json"), status=200 if result.replayed else 201)
    if result.replayed:
        response["Idempotency-Replayed"] = "true"
    return response


@router.post(
    "/stores/payments/{payment_id}/refund",
    response={200: PaymentOut, **problem_responses(400, 401, 403, 404, 409)},
    summary="Refund a payment (a reversing transfer; once)",
)
def refund(request: HttpRequest, payment_id: int, payload: RefundIn) -> PaymentOut:
    staff, store = _store_of(request)
    p = pay.refund(staff, store, payment_id, payload.reason)
    return PaymentOut(payment_id=p.pk, amount=p.amount, created_at=p.created_at, refunded=p.is_refunded)


@router.get("/stores/today", response={200: DayOut, **problem_responses(401, 403)}, summary="The store's day total")
def today(request: HttpRequest) -> DayOut:
    _staff, store = _store_of(request)
    t = pay.day_total(store)
    return DayOut(
        day=t.day,
        payments=t.payments,
        coins=t.coins,
        refunds=t.refunds,
        refunded_coins=t.refunded_coins,
        net_coins=t.net_coins,
    )
