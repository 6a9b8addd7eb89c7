"""The parking section of a citizen's data export, and its eraser (個資法). Plates and the auto-deduct
enrolment are erased; payments and bills stay (accounting law) under the pseudonymous citizen id."""

from __future__ import annotations

from typing import Any

from .models import AutoDeductEnrolment, Payment, PlateBinding


def export_parking(citizen: Any) -> dict[str, Any]:
    enrolment = AutoDeductEnrolment.objects.filter(citizen=citizen).first()
    return {
        "plates": [
            {
                "plate": b.plate,
                "vehicle": b.vehicle_kind,
                "status": b.status,
                "verified_at": b.verified_at.isoformat() if b.verified_at else None,
                "auto_deduct": b.auto_deduct,
            }
            for b in PlateBinding.objects.filter(citizen=citizen).order_by("id")
        ],
        "auto_deduct": {
            "active": enrolment.active,
            "terms_version": enrolment.terms_version,
            "accepted_at": enrolment.accepted_at.isoformat(),
        }
        if enrolment
        else None,
        "payments": [
            {
                "bill": p.bill.bill_no,
                "coins": p.coins,
                "source": p.source,
                "status": p.status,
                "created_at": p.created_at.isoformat(),
            }
            for p in Payment.objects.filter(citizen=citizen).select_related("bill").order_by("id")
        ],
    }


def erase_parking(citizen: Any) -> None:
    PlateBinding.objects.filter(citizen=citizen).delete()
    AutoDeductEnrolment.objects.filter(citizen=citizen).delete()
