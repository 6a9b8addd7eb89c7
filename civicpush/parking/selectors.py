"""Parking reads: a citizen's plates, bills, payments and credit; the console's lists and who may see them."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from civicpush.citizens.models import Citizen
from civicpush.coins import ledger
from civicpush.org.models import RoleAssignment
from civicpush.org.permissions import county_ids_with
from civicpush.org.roles import Capability, Role

from .models import (
    Advance,
    AdvanceStatus,
    AutoDeductEnrolment,
    Bill,
    BillStatus,
    CreditLine,
    Payment,
    PaymentStatus,
    PlateBinding,
    PlateStatus,
    ReconciliationFlag,
)


def plates_of(citizen: Citizen) -> QuerySet[PlateBinding]:
    return PlateBinding.objects.filter(citizen=citizen, status__in=[PlateStatus.PENDING, PlateStatus.VERIFIED])


def verified_plates(citizen: Citizen) -> list[str]:
    return list(plates_of(citizen).filter(status=PlateStatus.VERIFIED).values_list("plate", flat=True))


def unpaid_bills(citizen: Citizen) -> QuerySet[Bill]:
    """Unpaid bills of the citizen's verified plates (their live payment, if any, prefetched)."""
    return (
        Bill.objects.filter(county_id=citizen.county_id, plate__in=verified_plates(citizen), status=BillStatus.UNPAID)
        .prefetch_related("payments")
        .order_by("due_date", "issued_at")
    )


def payments_of(citizen: Citizen) -> QuerySet[Payment]:
    return Payment.objects.filter(citizen=citizen).select_related("bill").order_by("-created_at", "-id")


def live_payment(bill: Bill) -> Payment | None:
    for p in bill.payments.all():
        if p.status in (PaymentStatus.PENDING, PaymentStatus.UNKNOWN, PaymentStatus.CONFIRMED):
            return p
    return None


def credit_of(citizen: Citizen) -> dict[str, Any]:
    line = CreditLine.objects.filter(citizen=citizen).first()
    from .services import settings_for

    limit = line.limit_coins if line else settings_for(citizen.county_id).credit_limit_coins
    return {
        "limit": limit,
        "outstanding": line.outstanding if line else 0,
        "advances": list(
            Advance.objects.filter(citizen=citizen, status=AdvanceStatus.OPEN).select_related("payment__bill")
        ),
    }


def enrolment_of(citizen: Citizen) -> AutoDeductEnrolment | None:
    return AutoDeductEnrolment.objects.filter(citizen=citizen).first()


def wallet_available(citizen: Citizen) -> int:
    return ledger.available(ledger.wallet_of(citizen))


# --- console ---------------------------------------------------------------------------------------


def console_counties(user: Any, *, manage: bool = False) -> list[int]:
    """Counties whose parking pages `user` may see (county operator, system admin, accounting) or,
    with `manage`, act on (county operator only: release plates, resolve and refund flags)."""
    managers = county_ids_with(user, Capability.CONFIGURE_COUNTY)
    if manage:
        return sorted(
            set(managers)
            & set(
                RoleAssignment.objects.filter(
                    user=user, role=Role.COUNTY_OPERATOR, unit__isnull=True, agency__isnull=True
                ).values_list("county_id", flat=True)
            )
        )
    accounting = RoleAssignment.objects.filter(user=user, role=Role.ACCOUNTING).values_list("county_id", flat=True)
    return sorted(set(managers) | set(accounting))


def console_bills(counties: list[int], query: str = "", status: str = "") -> QuerySet[Bill]:
    qs = Bill.objects.filter(county_id__in=counties)
    if query:
        qs = qs.filter(Q(bill_no__icontains=query) | Q(plate__icontains=query.upper()))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-issued_at", "-id")


def console_payments(counties: list[int], status: str = "") -> QuerySet[Payment]:
    qs = Payment.objects.filter(county_id__in=counties).select_related("bill")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def console_flags(counties: list[int], status: str = "") -> QuerySet[ReconciliationFlag]:
    qs = ReconciliationFlag.objects.filter(county_id__in=counties).select_related("bill", "payment")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def console_plates(counties: list[int], query: str = "") -> QuerySet[PlateBinding]:
    qs = PlateBinding.objects.filter(county_id__in=counties)
    if query:
        qs = qs.filter(plate__icontains=query.upper())
    return qs.order_by("-created_at", "-id")
