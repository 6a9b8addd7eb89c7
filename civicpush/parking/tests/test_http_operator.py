"""The HTTP adapter maps the operator's answers onto the adapter's error contract."""

from __future__ import annotations

import httpx
import pytest

from civicpush.parking.operators.base import (
    BillAlreadyPaid,
    OperatorMaintenance,
    OperatorTimeout,
    OperatorUnavailable,
    UnknownBill,
)
from civicpush.parking.operators.http import HttpOperator

RECEIPT = {
    "bill_no": "TT1",
    "payment_ref": "CP1-1",
    "receipt_no": "R1",
    "amount": 40,
    "paid_at": "2026-11-20T10:00:00+08:00",
}


def operator(handler) -> HttpOperator:
    return HttpOperator(client=httpx.Client(base_url="https://operator.test", transport=httpx.MockTransport(handler)))


def test_a_payment_receipt_is_parsed() -> None:
    op = operator(lambda request: httpx.Response(200, json=RECEIPT))
    receipt = op.pay("TT1", 40, "CP1-1")
    assert receipt.receipt_no == "R1" and receipt.amount_twd == 40


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(503, json={"error": "maintenance"}), OperatorMaintenance),
        (httpx.Response(500, json={"error": "boom"}), OperatorUnavailable),
        (httpx.Response(404, json={"error": "not_found"}), UnknownBill),
        (httpx.Response(409, json={"error": "already_paid", "channel": "FamilyMart"}), BillAlreadyPaid),
    ],
)
def test_errors_map_onto_the_contract(response: httpx.Response, error: type) -> None:
    op = operator(lambda request: response)
    with pytest.raises(error):
        op.pay("TT1", 40, "CP1-1")


def test_no_answer_to_a_payment_is_a_timeout_and_status_404_is_none() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(OperatorTimeout):
        operator(timeout).pay("TT1", 40, "CP1-1")
    assert operator(lambda request: httpx.Response(404, json={})).payment_status("CP1-1") is None
