"""Feedback writes. Citizens submit, reply and rate (their own feedback only); staff of the unit
it was routed to (VIEW_UNIT there to read, DRAFT_PUSH to answer) acknowledge and answer. Each
acknowledgement and answer notifies the citizen (a system notice without the text itself)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from civicpush.cases import workdays
from civicpush.citizens.models import Citizen, Township
from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, ValidationFailed
from civicpush.delivery.notices import send_system_notice
from civicpush.org.permissions import require
from civicpush.org.roles import Capability
from civicpush.pushes.images import new_name, process_image

from .models import (
    Author,
    FaqEntry,
    Feedback,
    FeedbackCategory,
    FeedbackKind,
    FeedbackMessage,
    FeedbackPhoto,
    FeedbackStatus,
)

MAX_PHOTOS = 3
MAX_TEXT = 2000
TITLE_TAG = "意見箱"


def _invalid(field: str, message: Any) -> ValidationFailed:
    return ValidationFailed(message, field_errors={field: [message]})


def _coordinate(value: Any, low: int, high: int, field: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value)).quantize(Decimal("0.000001"))
    except InvalidOperation as exc:
        raise _invalid(field, _("The location is not valid.")) from exc
    if not low <= number <= high:
        raise _invalid(field, _("The location is not valid."))
    return number


def do_submit(
    citizen: Citizen,
    *,
    category: FeedbackCategory,
    kind: str,
    text: str,
    photos: Sequence[IO[bytes] | bytes] = (),
    township: Township | None = None,
    latitude: Any = None,
    longitude: Any = None,
    now: datetime.datetime | None = None,
) -> Feedback:
    """Send feedback; it goes to the category's unit with an acknowledgement deadline. Photos are
    checked by content and re-encoded (no EXIF/GPS); nothing is stored if any input is bad."""
    now = now or timezone.now()
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise _invalid("text", _("Write your feedback (at most %(n)s characters).") % {"n": MAX_TEXT})
    if kind not in FeedbackKind.values:
        raise _invalid("kind", _("Choose suggestion or complaint."))
    if category.county_id != citizen.county_id or not category.is_active:
        raise _invalid("category", _("Choose a category."))
    if len(photos) > MAX_PHOTOS:
        raise _invalid("photos", _("Attach at most %(n)s photos.") % {"n": MAX_PHOTOS})
    lat = _coordinate(latitude, -90, 90, "latitude")
    lng = _coordinate(longitude, -180, 180, "longitude")
    processed = [process_image(p) for p in photos]  # ValidationFailed (field "image") before any write
    ack_due = workdays.due_at(citizen.county_id, now, category.ack_days, "working")
    with transaction.atomic():
        feedback = Feedback.objects.create(
            county_id=citizen.county_id, citizen=citizen, category=category, unit=category.unit, kind=kind, text=text,
            township=township, latitude=lat, longitude=lng, created_at=now, ack_due_at=ack_due,
        )  # fmt: skip
        for p in processed:
            photo = FeedbackPhoto(feedback=feedback, content_type=p.content_type, width=p.width, height=p.height)
            photo.image.save(new_name(p.extension), ContentFile(p.content), save=False)
            photo.thumbnail.save(new_name(p.extension, "-thumb"), ContentFile(p.thumbnail), save=False)
            photo.save()
    return feedback


def _notify(feedback: Feedback, step: str, answered: bool) -> None:
    """Tell the citizen, in the county's default language, without the feedback's text."""
    with translation.override(settings.LANGUAGE_CODE):
        if answered:
            title = _("Your feedback was answered")
            body = _("The unit has answered your feedback. Open it in the app to read the answer and rate it.")
        else:
            title = _("Your feedback was received")
            body = _("The unit has received your feedback and is handling it.")
    send_system_notice(
        feedback.citizen, unit=feedback.unit, kind="feedback", reference=f"feedback:{feedback.pk}:{step}",
        title=title, body=body, title_tag=TITLE_TAG, link=f"/feedback/{feedback.pk}/",
    )  # fmt: skip


@transaction.atomic
def do_acknowledge(actor: Any, feedback: Feedback, message: str = "", now: datetime.datetime | None = None) -> Feedback:
    """The unit confirms it has taken the feedback on (受理)."""
    require(actor, Capability.DRAFT_PUSH, feedback.unit)
    now = now or timezone.now()
    feedback = Feedback.objects.select_for_update().get(pk=feedback.pk)
    if feedback.acknowledged_at is not None:
        raise Conflict(_("This feedback has already been acknowledged."))
    feedback.acknowledged_at = now
    if feedback.status == FeedbackStatus.RECEIVED:
        feedback.status = FeedbackStatus.ACKNOWLEDGED
    feedback.save(update_fields=["acknowledged_at", "status"])
    if message.strip():
        FeedbackMessage.objects.create(
            feedback=feedback, author=Author.STAFF, staff_user=actor, text=message.strip()[:MAX_TEXT], created_at=now
        )
    log_action("feedback.acknowledged", actor=actor, obj=feedback, unit_id=feedback.unit_id)
    _notify(feedback, "ack", answered=False)
    return feedback


@transaction.atomic
def do_answer(actor: Any, feedback: Feedback, text: str, now: datetime.datetime | None = None) -> Feedback:
    """The unit's answer; the feedback is closed (辦結) until the citizen replies again."""
    require(actor, Capability.DRAFT_PUSH, feedback.unit)
    now = now or timezone.now()
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise _invalid("text", _("Write the answer (at most %(n)s characters).") % {"n": MAX_TEXT})
    feedback = Feedback.objects.select_for_update().get(pk=feedback.pk)
    message = FeedbackMessage.objects.create(
        feedback=feedback, author=Author.STAFF, staff_user=actor, text=text, is_answer=True, created_at=now
    )
    feedback.acknowledged_at = feedback.acknowledged_at or now
    feedback.status = FeedbackStatus.ANSWERED
    feedback.closed_at = now
    feedback.save(update_fields=["acknowledged_at", "status", "closed_at"])
    log_action("feedback.answered", actor=actor, obj=feedback, unit_id=feedback.unit_id)
    _notify(feedback, f"answer-{message.pk}", answered=True)
    return feedback


@transaction.atomic
def do_citizen_reply(citizen: Citizen, feedback: Feedback, text: str, now: datetime.datetime | None = None) -> Feedback:
    """The citizen writes again; an answered feedback opens again for the unit."""
    now = now or timezone.now()
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise _invalid("text", _("Write your reply (at most %(n)s characters).") % {"n": MAX_TEXT})
    feedback = Feedback.objects.select_for_update().get(pk=feedback.pk, citizen=citizen)
    FeedbackMessage.objects.create(feedback=feedback, author=Author.CITIZEN, text=text, created_at=now)
    if feedback.status == FeedbackStatus.ANSWERED:
        feedback.status = FeedbackStatus.ACKNOWLEDGED
        feedback.closed_at = None
        feedback.save(update_fields=["status", "closed_at"])
    return feedback


@transaction.atomic
def do_rate(citizen: Citizen, feedback: Feedback, rating: int, now: datetime.datetime | None = None) -> Feedback:
    """Rate the answer 1-5 (4 and 5 count as satisfied). Only an answered feedback; may be changed."""
    feedback = Feedback.objects.select_for_update().get(pk=feedback.pk, citizen=citizen)
    if feedback.status != FeedbackStatus.ANSWERED:
        raise Conflict(_("You can rate the answer once the unit has answered."))
    if rating not in (1, 2, 3, 4, 5):
        raise _invalid("rating", _("Choose from 1 to 5 stars."))
    feedback.rating, feedback.rated_at = rating, now or timezone.now()
    feedback.save(update_fields=["rating", "rated_at"])
    return feedback


def flag_late_acknowledgements(now: datetime.datetime | None = None) -> int:
    """Flag (once, audited under the unit) feedback not acknowledged by its deadline."""
    now = now or timezone.now()
    late = Feedback.objects.filter(acknowledged_at__isnull=True, ack_late_flagged_at__isnull=True, ack_due_at__lt=now)
    count = 0
    for feedback in late:
        if Feedback.objects.filter(pk=feedback.pk, ack_late_flagged_at__isnull=True).update(ack_late_flagged_at=now):
            log_action("feedback.acknowledgement_late", actor="system", obj=feedback, unit_id=feedback.unit_id)
            count += 1
    return count


@transaction.atomic
def do_save_faq(
    actor: Any, unit: Any, *, question: str, answer: str, is_published: bool = True, entry: FaqEntry | None = None
) -> FaqEntry:
    require(actor, Capability.DRAFT_PUSH, unit)
    question, answer = (question or "").strip(), (answer or "").strip()
    if not question or len(question) > 200:
        raise _invalid("question", _("Write the question (at most 200 characters)."))
    if not answer:
        raise _invalid("answer", _("Write the answer."))
    entry = entry or FaqEntry(unit=unit)
    entry.question, entry.answer, entry.is_published = question, answer, is_published
    entry.save()
    log_action(
        "feedback.faq.saved",
        actor=actor,
        obj=entry,
        unit_id=unit.pk,
        after={"question": question, "published": is_published},
    )
    return entry
