"""Segments: the filters of a dynamic group, as a registry other apps extend.

A filter is a key in `Group.filters` with a validator (raw JSON value → clean value, or
ValidationFailed) and an apply function (QuerySet[CitizenProfile], clean value → narrowed queryset).
Filters are ANDed; list-valued filters match any of their values. Everything is evaluated on
CitizenProfile (joined only to Citizen for the active status), so a count stays one SQL statement.

Later apps register their own filters in `AppConfig.ready()`:

    register_filter("attended_event", apply_attended_event, validate_event_ids)   # events
    register_filter("answered_survey", apply_answered_survey, validate_survey_ids)  # surveys
    register_filter("has_app", apply_has_active_device, validate_bool, replace=True)  # delivery
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.lookups import GreaterThan
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from civicpush.citizens.models import Citizen, CitizenProfile, CitizenStatus, Gender, Residency, Township, Village
from civicpush.citizens.topics import Topic, topics_to_mask
from civicpush.core.errors import ValidationFailed

from .models import CitizenTag

TAIPEI = ZoneInfo("Asia/Taipei")
MAX_AGE = 130
MAX_LIST_LENGTH = 500
MAX_TAG_LENGTH = 50

ApplyFn = Callable[[QuerySet[CitizenProfile], Any], QuerySet[CitizenProfile]]
ValidateFn = Callable[[Any], Any]


@dataclass(frozen=True)
class SegmentFilter:
    key: str
    apply: ApplyFn
    validate: ValidateFn


_REGISTRY: dict[str, SegmentFilter] = {}


def register_filter(key: str, apply_fn: ApplyFn, validate_fn: ValidateFn, *, replace: bool = False) -> None:
    """Add a filter under `key`. Registering a taken key is a programming error unless `replace=True`."""
    if key in _REGISTRY and not replace:
        raise ValueError(f"segment filter {key!r} is already registered")
    _REGISTRY[key] = SegmentFilter(key=key, apply=apply_fn, validate=validate_fn)


def registered_filters() -> list[str]:
    return sorted(_REGISTRY)


def _fail(key: str, message: Any) -> ValidationFailed:
    return ValidationFailed(message, field_errors={key: [message]})


# --- value validators -----------------------------------------------------------------------------


def _as_list(key: str, value: Any) -> list[Any]:
    if isinstance(value, list | tuple | set):
        items = list(value)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        items = [value]
    else:
        raise _fail(key, _("Choose one or more values."))
    if not items:
        raise _fail(key, _("Choose at least one value, or remove this filter."))
    if len(items) > MAX_LIST_LENGTH:
        raise _fail(key, format_lazy(_("Choose at most {max} values."), max=MAX_LIST_LENGTH))
    return items


def _as_ids(key: str, value: Any) -> list[int]:
    ids: list[int] = []
    for item in _as_list(key, value):
        if isinstance(item, bool):
            raise _fail(key, _("Choose from the list."))
        try:
            ids.append(int(item))
        except (TypeError, ValueError):
            raise _fail(key, _("Choose from the list.")) from None
    return sorted(set(ids))


def validate_townships(value: Any) -> list[int]:
    ids = _as_ids("townships", value)
    if Township.objects.filter(pk__in=ids).count() != len(ids):
        raise _fail("townships", _("One of the chosen townships does not exist."))
    return ids


def validate_villages(value: Any) -> list[int]:
    ids = _as_ids("villages", value)
    if Village.objects.filter(pk__in=ids).count() != len(ids):
        raise _fail("villages", _("One of the chosen villages does not exist."))
    return ids


def _validate_age(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _fail(key, _("Enter an age as a whole number."))
    try:
        age = int(value)
    except (TypeError, ValueError):
        raise _fail(key, _("Enter an age as a whole number.")) from None
    if isinstance(value, float) and value != age:
        raise _fail(key, _("Enter an age as a whole number."))
    if not 0 <= age <= MAX_AGE:
        raise _fail(key, format_lazy(_("Enter an age between 0 and {max}."), max=MAX_AGE))
    return age


def validate_age_min(value: Any) -> int:
    return _validate_age("age_min", value)


def validate_age_max(value: Any) -> int:
    return _validate_age("age_max", value)


def _choices(key: str, value: Any, allowed: list[str]) -> list[str]:
    items = _as_list(key, value)
    if any(not isinstance(v, str) or v not in allowed for v in items):
        raise _fail(key, _("Choose from the list."))
    return sorted(set(items))


def validate_genders(value: Any) -> list[str]:
    return _choices("genders", value, list(Gender.values))


def validate_residency(value: Any) -> list[str]:
    return _choices("residency", value, list(Residency.values))


def validate_topics(value: Any) -> list[int]:
    ids = _as_ids("topics", value)
    if any(t not in Topic.values for t in ids):
        raise _fail("topics", _("One of the chosen topics does not exist."))
    return ids


def validate_tags(value: Any) -> list[str]:
    tags: set[str] = set()
    for item in _as_list("tags", value):
        tag = item.strip() if isinstance(item, str) else ""
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise _fail("tags", format_lazy(_("A tag is 1 to {max} characters long."), max=MAX_TAG_LENGTH))
        tags.add(tag)
    return sorted(tags)


def validate_bool(key: str) -> ValidateFn:
    def validate(value: Any) -> bool:
        if not isinstance(value, bool):
            raise _fail(key, _("Choose yes or no."))
        return value

    return validate


# --- apply functions ------------------------------------------------------------------------------


def current_taipei_year(now: datetime.datetime | None = None) -> int:
    return timezone.localtime(now or timezone.now(), TAIPEI).year


def apply_townships(qs: QuerySet[CitizenProfile], ids: list[int]) -> QuerySet[CitizenProfile]:
    return qs.filter(township_id__in=ids)


def apply_villages(qs: QuerySet[CitizenProfile], ids: list[int]) -> QuerySet[CitizenProfile]:
    return qs.filter(village_id__in=ids)


def apply_age_min(qs: QuerySet[CitizenProfile], age: int) -> QuerySet[CitizenProfile]:
    # Only the birth year is known: the age is the one reached this (Taipei) calendar year.
    return qs.filter(birth_year__lte=current_taipei_year() - age)


def apply_age_max(qs: QuerySet[CitizenProfile], age: int) -> QuerySet[CitizenProfile]:
    return qs.filter(birth_year__gte=current_taipei_year() - age)


def apply_genders(qs: QuerySet[CitizenProfile], genders: list[str]) -> QuerySet[CitizenProfile]:
    return qs.filter(gender__in=genders)


def apply_residency(qs: QuerySet[CitizenProfile], values: list[str]) -> QuerySet[CitizenProfile]:
    return qs.filter(residency__in=values)


def apply_topics(qs: QuerySet[CitizenProfile], topics: list[int]) -> QuerySet[CitizenProfile]:
    # Any of the topics: one integer test on the bitmask (topics_mask & mask) > 0. Masks use bits
    # 0..10 only, so "> 0" is the same as "<> 0". A lookup expression rather than an annotation
    # keeps COUNT(*) from being wrapped in a subquery.
    return qs.filter(GreaterThan(F("topics_mask").bitand(topics_to_mask(topics)), 0))


def apply_tags(qs: QuerySet[CitizenProfile], tags: list[str]) -> QuerySet[CitizenProfile]:
    # EXISTS, not a join: a citizen with two of the tags must still count once.
    return qs.filter(Exists(CitizenTag.objects.filter(citizen_id=OuterRef("citizen_id"), tag__in=tags)))


def apply_has_app(qs: QuerySet[CitizenProfile], has_app: bool) -> QuerySet[CitizenProfile]:
    # HOOK: until the delivery issue lands, "has the app" means "has used the app" (last_seen_at).
    # The delivery app replaces this filter with "has an active device" via
    # register_filter("has_app", ..., replace=True) in its AppConfig.ready().
    return qs.filter(citizen__last_seen_at__isnull=not has_app)


register_filter("townships", apply_townships, validate_townships)
register_filter("villages", apply_villages, validate_villages)
register_filter("age_min", apply_age_min, validate_age_min)
register_filter("age_max", apply_age_max, validate_age_max)
register_filter("genders", apply_genders, validate_genders)
register_filter("topics", apply_topics, validate_topics)
register_filter("residency", apply_residency, validate_residency)
register_filter("tags", apply_tags, validate_tags)
register_filter("has_app", apply_has_app, validate_bool("has_app"))


# --- public API -----------------------------------------------------------------------------------


def validate_filters(filters: Any) -> dict[str, Any]:
    """Clean a filter dict; raise ValidationFailed listing every bad or unknown key (nothing partial)."""
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise ValidationFailed(_("The filters are not in the expected form."), field_errors={"filters": []})
    errors: dict[str, list[Any]] = {}
    clean: dict[str, Any] = {}
    for key, value in filters.items():
        spec = _REGISTRY.get(key)
        if spec is None:
            errors[str(key)] = [_("This filter is not known.")]
            continue
        try:
            clean[key] = spec.validate(value)
        except ValidationFailed as exc:
            errors[key] = exc.field_errors.get(key) or [exc.message]
    if not errors and clean.get("age_min", 0) > clean.get("age_max", MAX_AGE):
        errors["age_max"] = [_("The highest age must not be below the lowest age.")]
    if errors:
        first = next(iter(errors.values()))
        raise ValidationFailed(first[0] if first else None, field_errors=errors)
    return clean


def active_profiles() -> QuerySet[CitizenProfile]:
    """Profiles of citizens whose account is active (a profile only exists after consent).

    Written as NOT EXISTS (a non-active citizen) rather than a join on status = 'active': with the
    partial index on non-active citizens (migration 0002) PostgreSQL anti-joins against a handful of
    rows instead of scanning a million citizens, and the count stays an index-only scan of profiles.
    """
    inactive = Citizen.objects.filter(pk=OuterRef("citizen_id")).filter(~Q(status=CitizenStatus.ACTIVE))
    return CitizenProfile.objects.filter(~Exists(inactive))


def citizens_matching(filters: dict[str, Any]) -> QuerySet[CitizenProfile, int]:
    """Citizen ids (a flat values_list of `citizen_id`) of active citizens matching cleaned `filters`.

    Callers pass filters that went through `validate_filters` (stored group filters did).
    """
    qs = active_profiles()
    for key, value in filters.items():
        spec = _REGISTRY.get(key)
        if spec is None:  # a filter whose app was removed: refuse rather than widen the audience
            raise ValidationFailed(_("This filter is not known."), field_errors={key: [_("This filter is not known.")]})
        qs = spec.apply(qs, value)
    return qs.values_list("citizen_id", flat=True)
