"""An adapter for an operator with a JSON-over-HTTPS API (PARKING_OPERATOR=http).

The wire format below is CivicPush's proposal for an operator integration (operators differ; a
contract-specific adapter subclasses this and overrides `_request` or the parsing). Endpoint from
PARKING_OPERATOR_URL, bearer key from PARKING_OPERATOR_KEY (environment only).

    GET  /bills?plate=ABC-1234&vehicle=car        → {"bills": [bill, …]}   (unpaid, not overdue)
    GET  /bills/{bill_no}                          → bill
    POST /verifications {plate, vehicle, bill_no | mobile} → {"match": true|false}
    POST /payments {bill_no, amount, payment_ref}  → receipt   (idempotent on payment_ref)
    GET  /payments/{payment_ref}                   → receipt | 404
    GET  /payments?reported_from=…&reported_to=…   → {"payments": [payment, …]}

Errors: 503 with {"error": "maintenance"} → OperatorMaintenance; other 5xx → OperatorUnavailable
(the operator guarantees nothing was recorded); 409 {"error": "already_paid", "channel": …} →
BillAlreadyPaid; 409 {"error": "amount_mismatch"}; 404 → UnknownBill; no answer → OperatorTimeout.
"""

from __future__ import annotations

import datetime
from typing import Any

import httpx
from django.conf import settings

from .base import (
    AmountMismatch,
    BillAlreadyPaid,
    OperatorBill,
    OperatorError,
    OperatorMaintenance,
    OperatorPayment,
    OperatorReceipt,
    OperatorTimeout,
    OperatorUnavailable,
    ParkingOperator,
    UnknownBill,
)

TIMEOUT_SECONDS = 10.0


def _dt(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


def _bill(d: dict[str, Any]) -> OperatorBill:
    return OperatorBill(
        bill_no=d["bill_no"],
        plate=d["plate"],
        vehicle_kind=d["vehicle"],
        location=d.get("location", ""),
        parked_from=_dt(d["parked_from"]),  # type: ignore[arg-type]
        parked_until=_dt(d["parked_until"]),  # type: ignore[arg-type]
        issued_at=_dt(d["issued_at"]),  # type: ignore[arg-type]
        due_date=datetime.date.fromisoformat(d["due_date"]),
        amount_twd=int(d["amount"]),
        paid=bool(d.get("paid")),
        paid_channel=d.get("paid_channel", ""),
        paid_at=_dt(d.get("paid_at")),
        cancelled=bool(d.get("cancelled")),
    )


def _receipt(d: dict[str, Any]) -> OperatorReceipt:
    return OperatorReceipt(
        bill_no=d["bill_no"],
        payment_ref=d.get("payment_ref", ""),
        receipt_no=d["receipt_no"],
        amount_twd=int(d["amount"]),
        paid_at=_dt(d["paid_at"]),  # type: ignore[arg-type]
    )


class HttpOperator(ParkingOperator):
    code = "http"

    def __init__(self, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(
            base_url=getattr(settings, "PARKING_OPERATOR_URL", ""),
            headers={"Authorization": f"Bearer {getattr(settings, 'PARKING_OPERATOR_KEY', '')}"},
            timeout=TIMEOUT_SECONDS,
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise OperatorTimeout() from exc
        except httpx.TransportError as exc:
            # Could the request have arrived? For writes we cannot know: treat as a timeout.
            if method != "GET":
                raise OperatorTimeout() from exc
            raise OperatorUnavailable() from exc
        body: dict[str, Any] = {}
        if response.headers.get("content-type", "").startswith("application/json"):
            body = response.json()
        error = body.get("error", "") if isinstance(body, dict) else ""
        if response.status_code == 503 and error == "maintenance":
            raise OperatorMaintenance()
        if response.status_code >= 500:
            raise OperatorUnavailable()
        if response.status_code == 404:
            raise UnknownBill()
        if response.status_code == 409 and error == "already_paid":
            raise BillAlreadyPaid(channel=str(body.get("channel", "")))
        if response.status_code == 409 and error == "amount_mismatch":
            raise AmountMismatch()
        if response.status_code >= 400:
            raise OperatorError()
        return body

    def unpaid_bills(self, plate: str, vehicle_kind: str) -> list[OperatorBill]:
        body = self._request("GET", "/bills", params={"plate": plate, "vehicle": vehicle_kind})
        return [_bill(b) for b in body.get("bills", [])]

    def get_bill(self, bill_no: str) -> OperatorBill:
        return _bill(self._request("GET", f"/bills/{bill_no}"))

    def verify_bill_code(self, plate: str, vehicle_kind: str, bill_no: str) -> bool:
        body = self._request(
            "POST", "/verifications", json={"plate": plate, "vehicle": vehicle_kind, "bill_no": bill_no}
        )
        return bool(body.get("match"))

    def owner_mobile_matches(self, plate: str, vehicle_kind: str, mobile_e164: str) -> bool:
        body = self._request(
            "POST", "/verifications", json={"plate": plate, "vehicle": vehicle_kind, "mobile": mobile_e164}
        )
        return bool(body.get("match"))

    def pay(self, bill_no: str, amount_twd: int, payment_ref: str) -> OperatorReceipt:
        body = self._request(
            "POST", "/payments", json={"bill_no": bill_no, "amount": amount_twd, "payment_ref": payment_ref}
        )
        return _receipt(body)

    def payment_status(self, payment_ref: str) -> OperatorReceipt | None:
        try:
            return _receipt(self._request("GET", f"/payments/{payment_ref}"))
        except UnknownBill:
            return None

    def payments_between(self, start: datetime.datetime, end: datetime.datetime) -> list[OperatorPayment]:
        body = self._request(
            "GET", "/payments", params={"reported_from": start.isoformat(), "reported_to": end.isoformat()}
        )
        return [
            OperatorPayment(
                bill_no=p["bill_no"],
                channel=p["channel"],
                receipt_no=p["receipt_no"],
                amount_twd=int(p["amount"]),
                paid_at=_dt(p["paid_at"]),  # type: ignore[arg-type]
                payment_ref=p.get("payment_ref", ""),
            )
            for p in body.get("payments", [])
        ]
