"""Validation of push content and targeting: every field error at once, nothing written.

Used by `services.do_create_draft` / `do_update_draft`; targeting rules of seed 000 §3 live here.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicpush.audiences import selectors as audience_selectors
from civicpush.citizens.models import Citizen
from civicpush.citizens.selectors import active_citizen_by_number
from civicpush.citizens.topics import Topic
from civicpush.core.errors import ValidationFailed
from civicpush.org.models import Unit, UnitKind

from . import text
from .models import (
    PushType,
    TargetKind,
    Urgency,
)
from .scheduling import TAIPEI

_PHONE_RE = re.compile(r"^[0-9+()\- #]{6,32}$")
_URL = URLValidator(schemes=["http", "https"])
_EMAIL = EmailValidator()

# Fields a drafter may set (model fields, plus target_person and target_group_ids).
CONTENT_FIELDS = (
    "push_type",
    "title",
    "title_tag",
    "subtitle",
    "body",
    "link",
    "planned_date",
    "topic",
    "contact_name",
    "contact_phone",
    "contact_email",
    "takes_registrations",
    "urgency",
    "valid_from",
    "valid_to",
    "is_routine_promotion",
    "pinned",
    "questionnaire_text",
    "coin_amount",
    "coin_method",
    "remarks",
    "target_kind",
)
INPUT_FIELDS = frozenset(CONTENT_FIELDS) | {"target_person", "target_group_ids"}


class FieldErrors:
    def __init__(self) -> None:
        self.by_field: dict[str, list[Any]] = {}

    def add(self, field: str, message: Any) -> None:
        self.by_field.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.by_field:
            raise ValidationFailed(field_errors=self.by_field)


def as_date(value: Any, field: str, errors: FieldErrors) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value.astimezone(TAIPEI).date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        errors.add(field, _("Enter a date as YYYY-MM-DD."))
        return None


def as_datetime(value: Any, field: str, errors: FieldErrors) -> datetime.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            errors.add(field, _("Enter a date and time."))
            return None
    if not isinstance(value, datetime.datetime):
        errors.add(field, _("Enter a date and time."))
        return None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=TAIPEI)  # wall time as staff type it
    return value


def clean_push_fields(
    unit: Unit, current: dict[str, Any], changes: dict[str, Any]
) -> tuple[dict[str, Any], Citizen | None, list[int] | None]:
    """Validate the merged state; return (model values, target citizen, target group ids or None
    when unchanged). Raises ValidationFailed with every field error at once."""
    unknown = set(changes) - INPUT_FIELDS
    if unknown:
        raise TypeError(f"unknown push fields: {sorted(unknown)}")
    errors = FieldErrors()
    v = {**current, **{k: changes[k] for k in changes if k in CONTENT_FIELDS}}

    if v.get("push_type") not in PushType.values:
        errors.add("push_type", _("Choose a push type."))
    # Title: "[tag]title" (seed 000); an explicit title_tag is used when the title carries none.
    if "title" in changes:
        tag, title = text.parse_title(str(changes.get("title") or ""))
        v["title_tag"] = tag or text.normalise_text(str(changes.get("title_tag") or ""))
        v["title"] = title
    else:
        v["title_tag"] = text.normalise_text(str(v.get("title_tag") or ""))
        v["title"] = text.normalise_text(str(v.get("title") or ""))
    if not v["title"]:
        errors.add("title", _("Enter a title."))
    elif text.display_width(text.format_title(v["title_tag"], v["title"])) > text.TITLE_MAX_WIDTH:
        errors.add("title", _("The title is too long: at most 30 full-width characters, tag included."))
    if text.display_width(v["title_tag"]) > text.TAG_MAX_WIDTH:
        errors.add("title", _("The tag in brackets is too long: at most 8 full-width characters."))
    for field in ("subtitle", "body", "questionnaire_text", "remarks", "coin_method", "contact_name"):
        v[field] = text.normalise_text(str(v.get(field) or ""))
    for field in ("title", "subtitle", "body"):
        if text.has_control_characters(v[field]):
            errors.add(field, _("Remove the control characters from this text."))
    if text.display_width(v["subtitle"]) > text.SUBTITLE_MAX_WIDTH:
        errors.add("subtitle", _("The subtitle is too long: at most 40 full-width characters."))
    if not v["body"]:
        errors.add("body", _("Enter the message."))
    elif text.display_width(v["body"]) > text.BODY_MAX_WIDTH:
        errors.add(
            "body",
            _("The message is too long: %(width)s of at most 120 full-width characters (half-width counts ½).")
            % {"width": text.display_width_rounded(v["body"])},
        )
    if len(v["contact_name"]) > 50:
        errors.add("contact_name", _("At most 50 characters."))
    if len(v["coin_method"]) > 200:
        errors.add("coin_method", _("At most 200 characters."))

    v["link"] = str(v.get("link") or "").strip()
    if v["link"]:
        try:
            if len(v["link"]) > 500:
                raise DjangoValidationError("too long")
            _URL(v["link"])
        except DjangoValidationError:
            errors.add("link", _("Enter a web address starting with http:// or https://."))

    v["planned_date"] = as_date(v.get("planned_date"), "planned_date", errors)
    topic = v.get("topic")
    if topic in (None, ""):
        v["topic"] = None
    else:
        try:
            v["topic"] = int(Topic(int(topic)))
        except (TypeError, ValueError):
            errors.add("topic", _("Choose a topic from the list."))

    v["contact_phone"] = str(v.get("contact_phone") or "").strip()
    v["contact_email"] = str(v.get("contact_email") or "").strip()
    if v["contact_phone"] and not _PHONE_RE.fullmatch(v["contact_phone"]):
        errors.add("contact_phone", _("Enter an office phone number, for example 089-322112#123."))
    if v["contact_email"]:
        try:
            _EMAIL(v["contact_email"])
        except DjangoValidationError:
            errors.add("contact_email", _("Enter a valid e-mail address."))
    v["takes_registrations"] = bool(v.get("takes_registrations"))
    # Seed 000 §5(4): registrations and applications must name the officer and office phone.
    if v.get("push_type") == PushType.EVENT or v["takes_registrations"]:
        for field in ("contact_name", "contact_phone", "contact_email"):
            if not v[field]:
                errors.add(field, _("Events and pushes that take registrations need the contact person's details."))

    if v.get("urgency") not in Urgency.values:
        errors.add("urgency", _("Choose an urgency."))
    v["valid_from"] = as_datetime(v.get("valid_from"), "valid_from", errors)
    v["valid_to"] = as_datetime(v.get("valid_to"), "valid_to", errors)
    if v["valid_from"] and v["valid_to"] and v["valid_to"] <= v["valid_from"]:
        errors.add("valid_to", _("The end of validity must be after its start."))
    v["pinned"] = bool(v.get("pinned"))
    if v["pinned"] and v.get("push_type") != PushType.NOTICE:
        errors.add("pinned", _("Only notices can be pinned."))
    v["is_routine_promotion"] = bool(v.get("is_routine_promotion"))
    if v["is_routine_promotion"] and v.get("urgency") == Urgency.URGENT:
        errors.add("is_routine_promotion", _("An urgent push cannot be routine promotion."))

    coins = v.get("coin_amount")
    if coins in (None, ""):
        v["coin_amount"] = None
    else:
        try:
            v["coin_amount"] = int(coins)
            if v["coin_amount"] < 0:
                raise ValueError
            if 0 < v["coin_amount"] < 20:
                errors.add("coin_amount", _("A push that gives coins gives at least 20."))
        except (TypeError, ValueError):
            errors.add("coin_amount", _("Enter a whole number of coins."))

    # Targeting: staff units (幕僚單位) push to groups (and one person for notices) only (seed 000 §3).
    kind = v.get("target_kind")
    citizen: Citizen | None = current.get("_target_citizen")
    group_ids: list[int] | None = None
    if kind not in TargetKind.values:
        errors.add("target_kind", _("Choose who the push is for."))
    elif kind == TargetKind.EVERYONE and unit.kind != UnitKind.BUSINESS:
        errors.add("target_kind", _("Staff units (幕僚單位) may push to groups only, not to everyone."))
    elif kind == TargetKind.PERSON and v.get("push_type") != PushType.NOTICE:
        errors.add("target_kind", _("Only notices can be sent to one person."))
    if kind == TargetKind.PERSON:
        if "target_person" in changes:
            raw = str(changes.get("target_person") or "")
            try:
                citizen = active_citizen_by_number(raw, county_id=unit.county_id) if raw.strip() else None
            except ValidationFailed as exc:
                errors.add("target_person", exc.message)
                citizen = None
            else:
                if raw.strip() and citizen is None:
                    errors.add("target_person", _("No citizen has this mobile or ID number."))
    else:
        citizen = None
    if kind == TargetKind.GROUPS:
        if "target_group_ids" in changes:
            try:
                group_ids = sorted({int(g) for g in (changes.get("target_group_ids") or [])})
            except (TypeError, ValueError):
                errors.add("target_group_ids", _("Choose groups from the list."))
                group_ids = []
            usable = set(
                audience_selectors.groups_usable_by(unit).filter(pk__in=group_ids).values_list("pk", flat=True)
            )
            if set(group_ids) - usable:
                errors.add("target_group_ids", _("Your unit cannot push to one of these groups."))
    elif current.get("_group_ids"):
        group_ids = []
    errors.raise_if_any()
    values = {k: v[k] for k in CONTENT_FIELDS if k in v}
    return values, citizen, group_ids
