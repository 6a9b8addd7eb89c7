"""The ledger's domain errors (all `civicpush.core.errors.DomainError`s, messages translated)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from civicpush.core.errors import Conflict, ValidationFailed


class InsufficientFunds(ValidationFailed):
    code = "insufficient_funds"
    default_message = _("There are not enough coins for this.")


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_message = _("This idempotency key was already used for a different request.")


class BudgetExceeded(ValidationFailed):
    code = "budget_exceeded"
    default_message = _("This would issue more coins than the budget has left.")


class IssueDeadlinePassed(ValidationFailed):
    code = "issue_deadline_passed"
    default_message = _("The deadline for issuing coins from this budget has passed.")


class HoldNotOpen(Conflict):
    code = "hold_not_open"
    default_message = _("This hold is no longer open.")


class AlreadyReversed(Conflict):
    code = "already_reversed"
    default_message = _("This transfer has already been reversed.")
