"""Coin budget workflow (seed 000 §7): units request next year's budget before December, accounting
reserves it (控留), issuing draws on it (ledger.issue), and what is not used by the end of November is
released (解除控留) unless accounting approved an extension into December.

The Budget row belongs to the ledger (civicpush.coins.models); these services only move it through
its workflow. Every change is audited.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.coins.models import Budget, BudgetStatus
from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, PermissionDenied, ValidationFailed
from civicpush.org.models import Unit
from civicpush.org.permissions import require
from civicpush.org.roles import Capability

from .models import BudgetExtension, BudgetRelease, ExtensionStatus

REQUESTED = BudgetStatus.REQUESTED
RESERVED = BudgetStatus.RESERVED
RELEASED = BudgetStatus.RELEASED
MAX_BUDGET_COINS = 1_000_000_000  # a sanity bound on one unit's year (NT$100 million)


def request_deadline(year: int) -> datetime.date:
    """The last day to request the budget for `year`: 30 November of the year before (seed 000 §7(1))."""
    return datetime.date(year - 1, 11, 30)


def issue_deadline(year: int) -> datetime.date:
    """Coins of a year's budget are issued by 30 November (seed 000 §7(3)); December needs an extension."""
    return datetime.date(year, 11, 30)


def _today(today: datetime.date | None) -> datetime.date:
    return today or timezone.localdate()


def _amount(value: Any, field: str = "amount") -> int:
    try:
        amount = int(value)
    except (TypeError, ValueError):
        amount = 0
    if amount <= 0 or amount > MAX_BUDGET_COINS or str(value).strip() != str(amount):
        message = _("Enter a whole number of coins greater than zero.")
        raise ValidationFailed(message, field_errors={field: [message]})
    return amount


def _lock(budget: Budget) -> Budget:
    return Budget.objects.select_for_update().select_related("unit").get(pk=budget.pk)


def _state(budget: Budget) -> dict[str, Any]:
    return {
        "status": budget.status,
        "requested_amount": budget.requested_amount,
        "reserved_amount": budget.reserved_amount,
        "issued_amount": budget.issued_amount,
        "extension_until": budget.extension_until,
    }


@transaction.atomic
def do_request_budget(
    actor: Any, unit: Unit, year: int, amount: Any, note: str = "", *, today: datetime.date | None = None
) -> Budget:
    """Request (or revise, while not yet reserved) `unit`'s coin budget for `year`. MANAGE_BUDGET on
    the unit; only next year's budget, and only until 30 November."""
    require(actor, Capability.MANAGE_BUDGET, unit)
    today = _today(today)
    coins = _amount(amount)
    note = (note or "").strip()
    if len(note) > 300:
        message = _("Use at most 300 characters.")
        raise ValidationFailed(message, field_errors={"note": [message]})
    if year != today.year + 1:
        message = _("Budgets are requested for next year (%(year)s) only.") % {"year": today.year + 1}
        raise ValidationFailed(message, code="budget_year", field_errors={"year": [message]})
    if today > request_deadline(year):
        message = _(
            "Budgets for %(year)s had to be requested by 30 November %(previous)s. "
            "Please ask the county platform operator."
        ) % {"year": year, "previous": year - 1}
        raise ValidationFailed(message, code="request_deadline_passed", field_errors={"year": [message]})
    existing = Budget.objects.select_for_update().filter(unit=unit, year=year).first()
    if existing is not None:
        if existing.status != REQUESTED:
            raise Conflict(
                _("The %(year)s budget of this unit is already reserved; ask accounting to change it.")
                % {"year": year},
                code="budget_reserved",
            )
        before = _state(existing)
        existing.requested_amount = coins
        existing.requested_by = actor
        existing.requested_at = timezone.now()
        existing.note = note
        existing.save(update_fields=["requested_amount", "requested_by", "requested_at", "note", "updated_at"])
        budget = existing
        action = "wallet.budget.revised"
    else:
        before = None
        budget = Budget.objects.create(
            county=unit.county,
            unit=unit,
            year=year,
            requested_amount=coins,
            reserved_amount=0,
            status=REQUESTED,
            requested_by=actor,
            requested_at=timezone.now(),
            issue_deadline=issue_deadline(year),
            note=note,
        )
        action = "wallet.budget.requested"
    log_action(action, actor=actor, obj=budget, before=before, after=_state(budget), data={"note": note})
    return budget


@transaction.atomic
def do_reserve_budget(actor: Any, budget: Budget, amount: Any) -> Budget:
    """Accounting reserves (控留) up to the requested amount. APPROVE_BUDGET; never the requester."""
    budget = _lock(budget)
    require(actor, Capability.APPROVE_BUDGET, budget.unit)
    if budget.requested_by_id == getattr(actor, "pk", None):
        raise PermissionDenied(
            _("You requested this budget, so someone else in accounting must reserve it."), code="own_request"
        )
    if budget.status != REQUESTED:
        raise Conflict(_("Only a requested budget can be reserved."), code="budget_not_requested")
    coins = _amount(amount)
    if coins > budget.requested_amount:
        message = _("Reserve at most the requested %(amount)s coins.") % {"amount": budget.requested_amount}
        raise ValidationFailed(message, field_errors={"amount": [message]})
    before = _state(budget)
    budget.reserved_amount = coins
    budget.status = RESERVED
    budget.reserved_by = actor
    budget.reserved_at = timezone.now()
    budget.save(update_fields=["reserved_amount", "status", "reserved_by", "reserved_at", "updated_at"])
    log_action("wallet.budget.reserved", actor=actor, obj=budget, before=before, after=_state(budget))
    return budget


def _release(budget: Budget, actor: Any, now: datetime.datetime, *, automatic: bool) -> int:
    """Release what is reserved but not issued: the reservation shrinks to what was issued, so the
    ledger's own budget check refuses any further issue. Returns the coins released."""
    issued = int(budget.issued_amount)
    released = max(0, int(budget.reserved_amount) - issued)
    before = _state(budget)
    budget.reserved_amount = issued
    budget.status = RELEASED
    budget.released_at = now
    budget.released_by = actor
    budget.save(update_fields=["reserved_amount", "status", "released_at", "released_by", "updated_at"])
    record, _created = BudgetRelease.objects.get_or_create(budget=budget)
    record.released_amount += released
    record.save(update_fields=["released_amount"])
    log_action(
        "wallet.budget.released",
        actor=actor if actor is not None else "system",
        obj=budget,
        before=before,
        after=_state(budget),
        data={"released": released, "issued": issued, "automatic": automatic},
    )
    return released


@transaction.atomic
def do_release_budget(actor: Any, budget: Budget) -> int:
    """Accounting releases (解除控留) a reserved budget's unissued remainder now. Returns the coins released."""
    budget = _lock(budget)
    require(actor, Capability.APPROVE_BUDGET, budget.unit)
    if budget.status != RESERVED:
        raise Conflict(_("Only a reserved budget can be released."), code="budget_not_reserved")
    return _release(budget, actor, timezone.now(), automatic=False)


def last_issue_day(budget: Budget) -> datetime.date:
    """The last day coins may be issued from `budget`: 30 November, or the approved extension."""
    return budget.effective_deadline


def release_unreconciled_budgets(today: datetime.date | None = None) -> int:
    """Release every reserved budget whose last issue day has passed (periodic). Returns how many."""
    today = _today(today)
    count = 0
    candidates = Budget.objects.filter(status=RESERVED, year__lte=today.year).values_list("pk", flat=True)
    for pk in list(candidates):
        with transaction.atomic():
            budget = Budget.objects.select_for_update().get(pk=pk)
            if budget.status != RESERVED or last_issue_day(budget) >= today:
                continue
            _release(budget, None, timezone.now(), automatic=True)
            count += 1
    return count


@transaction.atomic
def do_request_extension(actor: Any, budget: Budget, until: datetime.date | None, reason: str) -> BudgetExtension:
    """A unit asks to issue in December (seed 000 §7(3)): MANAGE_BUDGET on the unit; `until` in December."""
    budget = _lock(budget)
    require(actor, Capability.MANAGE_BUDGET, budget.unit)
    reason = (reason or "").strip()
    errors: dict[str, list[Any]] = {}
    if until is None or not (datetime.date(budget.year, 12, 1) <= until <= datetime.date(budget.year, 12, 31)):
        errors["until"] = [_("Choose a day in December %(year)s.") % {"year": budget.year}]
    if not reason:
        errors["reason"] = [_("Say why the coins must be issued in December.")]
    elif len(reason) > 300:
        errors["reason"] = [_("Use at most 300 characters.")]
    if errors:
        raise ValidationFailed(field_errors=errors)
    if budget.status != RESERVED:
        raise Conflict(_("Only a reserved budget can be extended."), code="budget_not_reserved")
    if BudgetExtension.objects.filter(budget=budget, status=ExtensionStatus.REQUESTED).exists():
        raise Conflict(_("An extension request for this budget is already waiting."), code="extension_pending")
    assert until is not None  # validated above
    extension = BudgetExtension.objects.create(
        budget=budget, until=until, reason=reason, requested_by=actor, requested_at=timezone.now()
    )
    log_action(
        "wallet.budget.extension_requested",
        actor=actor,
        obj=budget,
        data={"extension": extension.pk, "until": until, "reason": reason},
    )
    return extension


def _decide_extension(actor: Any, extension: BudgetExtension, approve: bool) -> BudgetExtension:
    extension = BudgetExtension.objects.select_for_update().get(pk=extension.pk)
    budget = _lock(extension.budget)
    require(actor, Capability.APPROVE_BUDGET, budget.unit)
    if extension.requested_by_id == getattr(actor, "pk", None):
        raise PermissionDenied(_("You cannot decide on your own request."), code="own_request")
    if extension.status != ExtensionStatus.REQUESTED:
        raise Conflict(_("This request has already been decided."), code="extension_decided")
    extension.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REJECTED
    extension.decided_by = actor
    extension.decided_at = timezone.now()
    extension.save(update_fields=["status", "decided_by", "decided_at"])
    before = _state(budget)
    if approve:
        budget.extension_until = extension.until
        budget.save(update_fields=["extension_until", "updated_at"])
    log_action(
        "wallet.budget.extension_approved" if approve else "wallet.budget.extension_rejected",
        actor=actor,
        obj=budget,
        before=before,
        after=_state(budget),
        data={"extension": extension.pk, "until": extension.until},
    )
    return extension


@transaction.atomic
def do_approve_extension(actor: Any, extension: BudgetExtension) -> BudgetExtension:
    """Accounting approves issuing in December until the requested day. APPROVE_BUDGET; not the requester."""
    return _decide_extension(actor, extension, True)


@transaction.atomic
def do_reject_extension(actor: Any, extension: BudgetExtension) -> BudgetExtension:
    return _decide_extension(actor, extension, False)
