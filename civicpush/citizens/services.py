"""Citizen writes: sign-in codes, sign-up with consent, profile, deletion. Each is atomic.

Rate limits and the wrong-code lock follow settings.OTP_*; codes are stored only as a keyed hash.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, PermissionDenied, RateLimited, ValidationFailed
from civicpush.core.personal_data import erase_all, export_all
from civicpush.org.models import County

from . import national_id as national_id_rules
from .models import (
    Citizen,
    CitizenProfile,
    CitizenStatus,
    ConsentRecord,
    DemoSmsMessage,
    Gender,
    OneTimeCode,
    PhoneLock,
    Residency,
    Township,
    Village,
)
from .phone import normalise_mobile
from .reference_data import TAITUNG_COUNTY_CODE, TAITUNG_COUNTY_NAME
from .selectors import current_consent, has_current_consent, villages_valid_on
from .tasks import send_sms
from .topics import Topic, topics_to_mask

__all__ = [
    "CodeRequest",
    "do_delete_account",
    "do_record_consent",
    "do_request_code",
    "do_sign_up",
    "do_update_profile",
    "do_verify_code",
    "erase_citizen_personal_data",
    "export_personal_data",
    "has_current_consent",
]

MIN_BIRTH_YEAR = 1900


@dataclass(frozen=True)
class CodeRequest:
    phone_e164: str
    expires_at: datetime.datetime
    resend_after: datetime.datetime


def _code_hash(phone_e164: str, code: str) -> str:
    return hmac.new(settings.LOOKUP_HMAC_KEY.encode(), f"otp:{phone_e164}:{code}".encode(), hashlib.sha256).hexdigest()


def _local_time(moment: datetime.datetime) -> str:
    return formats.time_format(timezone.localtime(moment), "H:i")


def _seconds_until(moment: datetime.datetime, now: datetime.datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _locked_error(lock: PhoneLock, now: datetime.datetime) -> RateLimited:
    assert lock.locked_until is not None
    return RateLimited(
        _("Too many wrong codes. This number is locked until %(time)s; please try again after that.")
        % {"time": _local_time(lock.locked_until)},
        retry_after=_seconds_until(lock.locked_until, now),
        code="phone_locked",
    )


def _lock_row(phone_e164: str) -> PhoneLock:
    PhoneLock.objects.get_or_create(phone_e164=phone_e164)
    return PhoneLock.objects.select_for_update().get(phone_e164=phone_e164)


@transaction.atomic
def do_request_code(phone_raw: str, *, client_ip: str | None) -> CodeRequest:
    """Send a 6-digit sign-in code by SMS (enqueued on commit); earlier codes stop working.

    Refuses while the number is locked and beyond the per-number and per-client rate limits.
    """
    phone = normalise_mobile(phone_raw)
    now = timezone.now()
    lock = _lock_row(phone)  # serialises requests for one number
    if lock.locked_until and lock.locked_until > now:
        raise _locked_error(lock, now)

    interval = datetime.timedelta(seconds=settings.OTP_PER_NUMBER_INTERVAL_SECONDS)
    hour_ago = now - datetime.timedelta(hours=1)
    recent = OneTimeCode.objects.filter(phone_e164=phone, created_at__gt=hour_ago).order_by("created_at")
    latest = recent.last()
    if latest is not None and latest.created_at + interval > now:
        wait = _seconds_until(latest.created_at + interval, now)
        raise RateLimited(
            _("A code was just sent. Please wait %(seconds)s seconds before asking for another one.")
            % {"seconds": wait},
            retry_after=wait,
        )
    if recent.count() >= settings.OTP_PER_NUMBER_PER_HOUR:
        oldest = recent.first()
        assert oldest is not None
        wait = _seconds_until(oldest.created_at + datetime.timedelta(hours=1), now)
        raise RateLimited(
            _("Too many codes were requested for this number. Please try again in %(minutes)s minutes.")
            % {"minutes": math.ceil(wait / 60)},
            retry_after=wait,
        )
    if client_ip:
        from_client = OneTimeCode.objects.filter(client_ip=client_ip, created_at__gt=hour_ago).order_by("created_at")
        if from_client.count() >= settings.OTP_PER_CLIENT_PER_HOUR:
            oldest = from_client.first()
            assert oldest is not None
            wait = _seconds_until(oldest.created_at + datetime.timedelta(hours=1), now)
            raise RateLimited(
                _("Too many codes were requested from your network. Please try again in %(minutes)s minutes.")
                % {"minutes": math.ceil(wait / 60)},
                retry_after=wait,
            )

    # Only the newest code works: earlier unconsumed ones expire now.
    OneTimeCode.objects.filter(phone_e164=phone, consumed_at__isnull=True, expires_at__gt=now).update(expires_at=now)
    code = f"{secrets.randbelow(1_000_000):06d}"
    expires_at = now + datetime.timedelta(seconds=settings.OTP_TTL_SECONDS)
    OneTimeCode.objects.create(
        phone_e164=phone,
        code_hash=_code_hash(phone, code),
        created_at=now,
        expires_at=expires_at,
        client_ip=client_ip,
    )
    body = _(
        "【Taitung County Government】Your CivicPush verification code is %(code)s. "
        "It is valid for %(minutes)s minutes. Do not tell anyone."
    ) % {"code": code, "minutes": settings.OTP_TTL_SECONDS // 60}
    transaction.on_commit(lambda: send_sms.delay(phone, body))
    return CodeRequest(phone_e164=phone, expires_at=expires_at, resend_after=now + interval)


def do_verify_code(phone_raw: str, code: str, *, client_ip: str | None) -> Citizen | None:
    """Check a sign-in code. Right: consume it and return the active Citizen (None: a new number).

    Not one transaction on purpose: a wrong code's count (and the lock at OTP_MAX_WRONG) is
    committed first, then the error is raised, so the lock survives the error.
    """
    phone = normalise_mobile(phone_raw)
    code = "".join((code or "").split())
    if not (len(code) == 6 and code.isdigit()):
        message = _("Enter the 6-digit code from the SMS.")
        raise ValidationFailed(message, field_errors={"code": [message]})

    error: Exception | None = None
    citizen: Citizen | None = None
    with transaction.atomic():
        now = timezone.now()
        lock = _lock_row(phone)
        latest = OneTimeCode.objects.filter(phone_e164=phone, consumed_at__isnull=True).order_by("-created_at").first()
        if lock.locked_until and lock.locked_until > now:
            error = _locked_error(lock, now)
        elif latest is None:
            message = _("There is no code waiting for this number. Please ask for a new code.")
            error = ValidationFailed(message, code="no_code", field_errors={"code": [message]})
        elif latest.expires_at <= now:
            message = _("This code has expired. Please ask for a new one.")
            error = ValidationFailed(message, code="code_expired", field_errors={"code": [message]})
        elif not hmac.compare_digest(latest.code_hash, _code_hash(phone, code)):
            lock.wrong_count += 1
            if lock.wrong_count >= settings.OTP_MAX_WRONG:
                lock.locked_until = now + datetime.timedelta(seconds=settings.OTP_LOCK_SECONDS)
                lock.wrong_count = 0
                lock.save(update_fields=["wrong_count", "locked_until", "updated_at"])
                OneTimeCode.objects.filter(phone_e164=phone, consumed_at__isnull=True).update(expires_at=now)
                error = _locked_error(lock, now)
            else:
                lock.save(update_fields=["wrong_count", "updated_at"])
                left = settings.OTP_MAX_WRONG - lock.wrong_count
                message = _("The code is not correct. %(left)s attempts left.") % {"left": left}
                error = ValidationFailed(message, code="wrong_code", field_errors={"code": [message]})
        else:
            latest.consumed_at = now
            latest.save(update_fields=["consumed_at"])
            lock.wrong_count = 0
            lock.locked_until = None
            lock.save(update_fields=["wrong_count", "locked_until", "updated_at"])
            citizen = Citizen.objects.filter(phone_e164=phone, status=CitizenStatus.ACTIVE).first()
            if citizen is not None:
                citizen.last_seen_at = now
                citizen.save(update_fields=["last_seen_at"])
    if error is not None:
        raise error
    return citizen


def _deployment_county() -> County:
    code = settings.COUNTY_CODE
    name = TAITUNG_COUNTY_NAME if code == TAITUNG_COUNTY_CODE else code
    county, _created = County.objects.get_or_create(code=code, defaults={"name": name})
    return county


def _require_current_notice(notice_version: str) -> None:
    if notice_version != settings.PRIVACY_NOTICE_VERSION:
        message = _("Please read and accept the current privacy notice.")
        raise ValidationFailed(message, code="notice_not_accepted", field_errors={"accept": [message]})


@transaction.atomic
def do_sign_up(phone_e164: str, *, notice_version: str, client_ip: str | None) -> Citizen:
    """Create the Citizen and its ConsentRecord together, only for the current privacy notice."""
    phone = normalise_mobile(phone_e164)
    _require_current_notice(notice_version)
    if Citizen.objects.filter(phone_e164=phone).exists():
        raise Conflict(_("This mobile number already has an account. Please sign in."), code="already_registered")
    now = timezone.now()
    try:
        with transaction.atomic():
            citizen = Citizen.objects.create(county=_deployment_county(), phone_e164=phone, last_seen_at=now)
    except IntegrityError as exc:
        raise Conflict(
            _("This mobile number already has an account. Please sign in."), code="already_registered"
        ) from exc
    ConsentRecord.objects.create(citizen=citizen, notice_version=notice_version, accepted_at=now, client_ip=client_ip)
    log_action(
        "citizens.citizen.created",
        actor="citizen",
        obj=citizen,
        object_repr=str(citizen.pseudonym),
        data={"notice_version": notice_version},
    )
    return citizen


@transaction.atomic
def do_record_consent(citizen: Citizen, *, notice_version: str, client_ip: str | None) -> ConsentRecord:
    """Record the citizen's acceptance of a (new) privacy notice version."""
    _require_current_notice(notice_version)
    consent, created = ConsentRecord.objects.get_or_create(
        citizen=citizen,
        notice_version=notice_version,
        defaults={"accepted_at": timezone.now(), "client_ip": client_ip},
    )
    if not created and consent.withdrawn_at is not None:
        consent.withdrawn_at = None
        consent.accepted_at = timezone.now()
        consent.client_ip = client_ip
        consent.save(update_fields=["withdrawn_at", "accepted_at", "client_ip"])
    return consent


@transaction.atomic
def do_update_profile(
    citizen: Citizen,
    *,
    display_name: str = "",
    township_id: int | None = None,
    village_id: int | None = None,
    birth_year: int | None = None,
    gender: str = Gender.UNDISCLOSED,
    topic_values: list[int] | None = None,
    residency: str = Residency.RESIDENT,
    national_id: str | None = None,
) -> CitizenProfile:
    """Create or update the citizen's profile. Needs the current consent; writes nothing on any error.

    national_id: None keeps the stored number, "" removes it, anything else is validated and replaces it.
    """
    if not citizen or not citizen.is_active:
        raise PermissionDenied()
    consent = current_consent(citizen)
    if consent is None:
        raise PermissionDenied(
            _("Please accept the current privacy notice before giving personal data."), code="consent_required"
        )
    errors: dict[str, list[Any]] = {}
    display_name = (display_name or "").strip()
    if len(display_name) > 50:
        errors["display_name"] = [_("Use at most 50 characters.")]

    township: Township | None = None
    village: Village | None = None
    if township_id:
        township = Township.objects.filter(pk=township_id, county_id=citizen.county_id).first()
        if township is None:
            errors["township"] = [_("Choose a township from the list.")]
    if village_id:
        if township is None:
            errors["village"] = [_("Choose the township first.")]
        else:
            village = villages_valid_on(township).filter(pk=village_id).first()
            if village is None:
                errors["village"] = [_("This village is not in the chosen township (or no longer exists).")]

    this_year = timezone.localdate().year
    if birth_year is not None and not (MIN_BIRTH_YEAR <= birth_year <= this_year):
        errors["birth_year"] = [
            _("Enter a year between %(first)s and %(last)s.") % {"first": MIN_BIRTH_YEAR, "last": this_year}
        ]
    if gender not in Gender.values:
        errors["gender"] = [_("Choose one of the options.")]
    if residency not in Residency.values:
        errors["residency"] = [_("Choose one of the options.")]
    topics: list[int] = []
    for value in topic_values or []:
        try:
            topics.append(Topic(int(value)).value)
        except (TypeError, ValueError):
            errors["topics"] = [_("Choose topics from the list.")]

    id_fields: dict[str, str] | None = None
    if national_id is not None and national_id.strip():
        try:
            number = national_id_rules.validate(national_id)
        except ValidationFailed as exc:
            errors.update(exc.field_errors)
        else:
            digest = national_id_rules.lookup_hash(number)
            if CitizenProfile.objects.filter(national_id_hmac=digest).exclude(citizen=citizen).exists():
                errors["national_id"] = [
                    _("This ID number is already registered to another account. Please contact the service desk.")
                ]
            id_fields = {
                "national_id_hmac": digest,
                "national_id_encrypted": national_id_rules.encrypt(number),
                "national_id_masked": national_id_rules.mask(number),
            }
    elif national_id is not None:
        id_fields = {"national_id_hmac": None, "national_id_encrypted": "", "national_id_masked": ""}  # type: ignore[dict-item]

    if errors:
        raise ValidationFailed(field_errors=errors)

    profile = CitizenProfile.objects.select_for_update().filter(citizen=citizen).first() or CitizenProfile(
        citizen=citizen
    )
    profile.consent = consent
    profile.display_name = display_name
    profile.township = township
    profile.village = village
    profile.birth_year = birth_year
    profile.gender = gender
    profile.residency = residency
    profile.topics_mask = topics_to_mask(topics)
    for id_field, id_value in (id_fields or {}).items():
        setattr(profile, id_field, id_value)
    try:
        with transaction.atomic():
            profile.save()
    except IntegrityError as exc:  # a concurrent sign-up took the same ID number
        message = _("This ID number is already registered to another account. Please contact the service desk.")
        raise ValidationFailed(field_errors={"national_id": [message]}) from exc
    return profile


def erase_citizen_personal_data(citizen: Citizen) -> None:
    """Eraser for core.personal_data: phone, profile (with ID number), codes, locks, demo SMS, consent IPs.

    Consent rows stay (proof of what was accepted) under the pseudonymous citizen id.
    """
    phone = citizen.phone_e164
    if phone:
        OneTimeCode.objects.filter(phone_e164=phone).delete()
        PhoneLock.objects.filter(phone_e164=phone).delete()
        DemoSmsMessage.objects.filter(to=phone).delete()
    CitizenProfile.objects.filter(citizen=citizen).delete()
    ConsentRecord.objects.filter(citizen=citizen).update(client_ip=None)
    citizen.phone_e164 = None
    citizen.last_seen_at = None
    citizen.save(update_fields=["phone_e164", "last_seen_at"])


@transaction.atomic
def do_delete_account(citizen: Citizen) -> None:
    """Erase the citizen's personal data in every domain; keep the pseudonymous Citizen row for ledgers."""
    citizen = Citizen.objects.select_for_update().get(pk=citizen.pk)
    if citizen.status == CitizenStatus.DELETED:
        return
    erase_all(citizen)
    citizen.status = CitizenStatus.DELETED
    citizen.deleted_at = timezone.now()
    citizen.save(update_fields=["status", "deleted_at"])
    log_action("citizens.citizen.deleted", actor="citizen", obj=citizen, object_repr=str(citizen.pseudonym))


def export_personal_data(citizen: Citizen) -> dict[str, Any]:
    """Everything every domain holds about the citizen (the citizens section has the full ID number)."""
    return export_all(citizen)
