"""`log_action`: the one way to record a staff change of state (pretix-style dotted action codes)."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from django.db import models

from . import request_context
from .models import AuditEntry


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def log_action(
    action: str,
    *,
    actor: Any = None,
    obj: models.Model | None = None,
    unit_id: int | None = None,
    county_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    object_repr: str | None = None,
) -> AuditEntry:
    """Append one audit entry. Call inside the service's transaction so it commits with the change."""
    ctx = request_context.current()
    staff = actor if getattr(actor, "is_authenticated", False) and hasattr(actor, "username") else None
    if unit_id is None and obj is not None:
        # A unit is its own scope; other objects name theirs in `unit_id`.
        unit_id = obj.pk if obj._meta.label_lower == "org.unit" else getattr(obj, "unit_id", None)
    if county_id is None:
        county_id = getattr(obj, "county_id", None) or getattr(staff, "county_id", None)
    return AuditEntry.objects.create(
        actor=staff,
        actor_label=(staff.get_username() if staff else str(actor or "system"))[:200],
        action=action,
        county_id=county_id,
        unit_id=unit_id,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=(object_repr if object_repr is not None else (str(obj) if obj is not None else ""))[:300],
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        data=_jsonable(data) if data is not None else None,
        client_ip=ctx.client_ip,
        request_id=ctx.request_id,
    )
