"""Citizen reads: consent state, reference data valid on a date, export of the citizen's own data."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from . import national_id
from .models import (
    Citizen,
    CitizenProfile,
    CitizenStatus,
    ConsentRecord,
    DemoSmsMessage,
    OneTimeCode,
    Township,
    Village,
)
from .topics import Topic, mask_to_topics


def current_consent(citizen: Citizen) -> ConsentRecord | None:
    """The citizen's acceptance of the current privacy notice version, if not withdrawn."""
    return (
        ConsentRecord.objects.filter(
            citizen=citizen, notice_version=settings.PRIVACY_NOTICE_VERSION, withdrawn_at__isnull=True
        )
        .order_by("-accepted_at")
        .first()
    )


def has_current_consent(citizen: Citizen) -> bool:
    return current_consent(citizen) is not None


def townships_of(county_id: int) -> QuerySet[Township]:
    return Township.objects.filter(county_id=county_id)


def villages_valid_on(township: Township | int, date: datetime.date | None = None) -> QuerySet[Village]:
    """Villages of the township that exist on `date` (default today, Asia/Taipei); valid_to is exclusive."""
    date = date or timezone.localdate()
    township_id = township.pk if isinstance(township, Township) else township
    return Village.objects.filter(township_id=township_id, valid_from__lte=date).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=date)
    )


def profile_of(citizen: Citizen) -> CitizenProfile | None:
    return CitizenProfile.objects.select_related("township", "village").filter(citizen=citizen).first()


def export_citizen_section(citizen: Citizen) -> dict[str, Any]:
    """Everything this app holds about the citizen, for their own download (個資法 Art. 3, 10)."""
    profile = profile_of(citizen)
    profile_data: dict[str, Any] | None = None
    if profile is not None:
        profile_data = {
            "display_name": profile.display_name,
            "township": profile.township.name if profile.township else None,
            "village": profile.village.name if profile.village else None,
            "birth_year": profile.birth_year,
            "gender": profile.gender,
            "residency": profile.residency,
            "topics": [str(Topic(t).label) for t in mask_to_topics(profile.topics_mask)],
            "national_id": national_id.decrypt(profile.national_id_encrypted)
            if profile.national_id_encrypted
            else None,
            "national_id_masked": profile.national_id_masked or None,
            "updated_at": profile.updated_at.isoformat(),
        }
    codes: list[dict[str, Any]] = []
    if citizen.phone_e164:
        codes = [
            {
                "requested_at": c.created_at.isoformat(),
                "expires_at": c.expires_at.isoformat(),
                "used_at": c.consumed_at.isoformat() if c.consumed_at else None,
            }
            for c in OneTimeCode.objects.filter(phone_e164=citizen.phone_e164).order_by("created_at")
        ]
    return {
        "pseudonym": str(citizen.pseudonym),
        "phone": citizen.phone_e164,
        "status": citizen.status,
        "created_at": citizen.created_at.isoformat(),
        "last_seen_at": citizen.last_seen_at.isoformat() if citizen.last_seen_at else None,
        "profile": profile_data,
        "consents": [
            {
                "notice_version": c.notice_version,
                "accepted_at": c.accepted_at.isoformat(),
                "client_ip": c.client_ip,
                "withdrawn_at": c.withdrawn_at.isoformat() if c.withdrawn_at else None,
            }
            for c in citizen.consents.order_by("accepted_at")
        ],
        "sign_in_codes": codes,
    }


def latest_demo_sms(limit: int = 30) -> QuerySet[DemoSmsMessage]:
    """What the demo SMS backend 'sent', newest first (development page only)."""
    return DemoSmsMessage.objects.order_by("-created_at", "-id")[:limit]


def active_citizen_by_mobile(phone_e164: str, *, county_id: int) -> Citizen | None:
    """The active citizen of the county with this (already normalised) mobile number, or None."""
    return Citizen.objects.filter(phone_e164=phone_e164, status=CitizenStatus.ACTIVE, county_id=county_id).first()


def active_citizen_by_number(raw: str, *, county_id: int) -> Citizen | None:
    """The active citizen of the county with this mobile or national ID / resident certificate number
    (IDs are found by their keyed hash), or None. ValidationFailed when the number is malformed
    (field "phone" or "national_id")."""
    from .phone import normalise_mobile

    value = (raw or "").strip()
    if not value[:1].isalpha():
        return active_citizen_by_mobile(normalise_mobile(value), county_id=county_id)
    number = national_id.validate(value)
    profile = (
        CitizenProfile.objects.filter(
            national_id_hmac=national_id.lookup_hash(number),
            citizen__status=CitizenStatus.ACTIVE,
            citizen__county_id=county_id,
        )
        .select_related("citizen")
        .first()
    )
    return profile.citizen if profile else None
