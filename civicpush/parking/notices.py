"""The parking system notices. Lock-screen safe: no plate, no amount, no place — only that something
happened; the details are behind the link, in the signed-in app."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from civicpush.citizens.models import Citizen
from civicpush.delivery.notices import send_system_notice

from .models import Bill, Payment
from .services import settings_for


def _send(citizen: Citizen, kind: str, reference: str, title: str, body: str, link: str) -> None:
    send_system_notice(
        citizen,
        unit=settings_for(citizen.county_id).notice_unit,
        kind=kind,
        reference=reference,
        title=title,
        body=body,
        link=link,
    )


def bill_reminder(bill: Bill) -> None:
    assert bill.citizen is not None
    _send(
        bill.citizen,
        "parking_reminder",
        f"parking-bill:{bill.pk}:reminder",
        _("Parking fee reminder"),
        _("You have an unpaid roadside parking fee. Open the app to see it and pay with coins."),
        reverse("parking_web:bill", args=[bill.pk]),
    )


def payment_receipt(payment: Payment) -> None:
    _send(
        payment.citizen,
        "parking_receipt",
        f"parking-payment:{payment.pk}:paid",
        _("Parking fee paid"),
        _("A parking fee was paid with your coins. Open the app for the receipt."),
        reverse("parking_web:history"),
    )


def advance_notice(payment: Payment) -> None:
    _send(
        payment.citizen,
        "parking_advance",
        f"parking-payment:{payment.pk}:advanced",
        _("Parking fee advanced for you"),
        _(
            "You did not have enough coins, so the platform advanced a parking fee for you. "
            "It is repaid from the coins you earn next. Open the app for details."
        ),
        reverse("parking_web:auto"),
    )


def cannot_pay_notice(bill: Bill) -> None:
    assert bill.citizen is not None
    _send(
        bill.citizen,
        "parking_unpaid",
        f"parking-bill:{bill.pk}:auto-failed",
        _("Parking fee not paid"),
        _("Auto-deduct could not pay a parking fee. Please pay it in the app or at a store before it is due."),
        reverse("parking_web:bill", args=[bill.pk]),
    )


def refund_notice(payment: Payment) -> None:
    _send(
        payment.citizen,
        "parking_refund",
        f"parking-payment:{payment.pk}:refund",
        _("Parking fee refunded"),
        _(
            "A parking fee was also paid through another channel, so your coins were refunded. Open the app for details."
        ),
        reverse("parking_web:history"),
    )


def failed_notice(payment: Payment) -> None:
    _send(
        payment.citizen,
        "parking_failed",
        f"parking-payment:{payment.pk}:failed",
        _("Parking payment not completed"),
        _("A parking payment could not be completed and your coins were released. Open the app for details."),
        reverse("parking_web:history"),
    )
