"""System notices: transactional messages the platform sends to one citizen by itself — a payment
receipt, a parking-bill reminder, a waitlist seat, a case event, a quiz reward.

They are not staff pushes: their wording is fixed in code (with the facts filled in), they need no
sign-off chain (invariant 1 governs what staff write), and they go out at once on the personal path.
Each is a `Push` with `is_system_notice=True`, targeted at the citizen, with one frozen `Dispatch`,
so it shows in the citizen's inbox like any personal notice and the delivery fan-out (connected to
`pushes.dispatching.dispatch_frozen`) sends it to the citizen's devices — or by SMS/e-mail when the
citizen has no active device or chose them. `reference` makes a call idempotent: the same reference
returns the first notice and notifies nobody again.

Callers pass only what the citizen may see on a lock screen: no ID numbers, amounts owed by name,
or other personal data in the title or body (the payload carries title, body and push id only).
"""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.citizens.models import Citizen
from civicpush.core.audit import log_action
from civicpush.core.errors import ValidationFailed
from civicpush.org.models import County, StaffUser, Unit
from civicpush.pushes import text
from civicpush.pushes.dispatching import dispatch_frozen
from civicpush.pushes.models import (
    Dispatch,
    DispatchStatus,
    Push,
    PushStatus,
    PushType,
    ScheduleKind,
    TargetKind,
    Urgency,
)

from .models import SystemNotice

SYSTEM_DISPLAY_NAME = "系統通知"


def system_user(county: County) -> StaffUser:
    """The county's system account: the `created_by` of system notices. It can never sign in."""
    user, created = StaffUser.objects.get_or_create(
        username=f"system.county{county.pk}",
        defaults={"county": county, "display_name": SYSTEM_DISPLAY_NAME, "is_active": False},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _check(title: str, body: str, link: str) -> tuple[str, str]:
    title = text.normalise_text(title)
    body = text.normalise_text(body)
    errors: dict[str, list[object]] = {}
    if not title or text.display_width(title) > text.TITLE_MAX_WIDTH:
        errors["title"] = [
            _("A notice needs a title of at most %(n)s full-width characters.") % {"n": text.TITLE_MAX_WIDTH}
        ]
    if not body or text.display_width(body) > text.BODY_MAX_WIDTH:
        errors["body"] = [
            _("A notice needs a message of at most %(n)s full-width characters.") % {"n": text.BODY_MAX_WIDTH}
        ]
    if link and not link.startswith(("https://", "http://", "/")):
        errors["link"] = [_("A link must start with http:// or https://.")]
    if errors:
        raise ValidationFailed(field_errors=errors)
    return title, body


def send_system_notice(
    citizen: Citizen,
    *,
    unit: Unit,
    kind: str,
    reference: str,
    title: str,
    body: str,
    title_tag: str = "",
    link: str = "",
    urgent: bool = False,
    now: datetime.datetime | None = None,
) -> Push:
    """Send one system notice to `citizen` on behalf of `unit` (idempotent on `reference`).
    Returns the notice's push. Call it inside the caller's transaction if the notice must only go
    out when that transaction commits: the fan-out starts on commit."""
    title, body = _check(title, body, link)
    if not reference or len(reference) > 120:
        raise ValidationFailed(field_errors={"reference": [_("A notice needs a reference of at most 120 characters.")]})
    now = now or timezone.now()
    existing = SystemNotice.objects.filter(reference=reference).select_related("push").first()
    if existing is not None:
        return existing.push
    try:
        with transaction.atomic():
            push = Push.objects.create(
                county_id=citizen.county_id,
                unit=unit,
                push_type=PushType.NOTICE,
                title_tag=title_tag,
                title=title,
                body=body,
                link=link,
                urgency=Urgency.URGENT if urgent else Urgency.NORMAL,
                target_kind=TargetKind.PERSON,
                target_citizen=citizen,
                schedule_kind=ScheduleKind.NOW,
                send_at=now,
                status=PushStatus.SENT,
                is_system_notice=True,
                created_by=system_user(unit.county),
                first_sent_at=now,
                audience_size=1,
            )
            dispatch = Dispatch.objects.create(
                push=push,
                county_id=citizen.county_id,
                target_kind=TargetKind.PERSON,
                scheduled_for=now,
                frozen_at=now,
                audience_size=1,
                status=DispatchStatus.SENT,
                finished_at=now,
            )
            SystemNotice.objects.create(reference=reference, kind=kind, push=push, citizen=citizen, created_at=now)
            log_action(
                "delivery.system_notice.sent",
                actor="system",
                obj=push,
                unit_id=unit.pk,
                data={"kind": kind, "reference": reference, "citizen": citizen.pk},
            )
            dispatch_id, push_id = dispatch.pk, push.pk
            transaction.on_commit(
                lambda: dispatch_frozen.send(sender=Dispatch, dispatch_id=dispatch_id, push_id=push_id)
            )
    except IntegrityError:  # a concurrent call with the same reference won
        return SystemNotice.objects.select_related("push").get(reference=reference).push
    return push
