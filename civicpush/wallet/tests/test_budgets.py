"""Budget workflow rules (seed 000 §7): request before December, reserve by accounting (never the
requester), release after November unless extended, issuing only until the deadline."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from civicpush.coins.errors import IssueDeadlinePassed
from civicpush.coins.models import Budget, BudgetStatus
from civicpush.core.errors import NotFound, PermissionDenied, ValidationFailed
from civicpush.core.models import AuditEntry
from civicpush.org.models import RoleAssignment
from civicpush.org.permissions import forget_cached_roles
from civicpush.org.roles import Role
from civicpush.wallet import budgets, earning
from civicpush.wallet.models import BudgetRelease
from civicpush.wallet.selectors import issued_per_month

from .helpers import citizen, period, reserved_budget

pytestmark = pytest.mark.django_db
TAIPEI = ZoneInfo("Asia/Taipei")


def at(y: int, m: int, d: int, h: int = 10) -> datetime.datetime:
    return datetime.datetime(y, m, d, h, tzinfo=TAIPEI)


def test_a_unit_requests_next_years_budget_and_accounting_reserves_it(org: Any) -> None:
    unit = org.unit("prevention")
    with time_machine.travel(at(2026, 10, 1), tick=False):
        budget = budgets.do_request_budget(org.user("prevention.drafter"), unit, 2027, "50000", "宣導問卷")
        assert budget.status == BudgetStatus.REQUESTED
        assert budget.issue_deadline == datetime.date(2027, 11, 30)
        assert budget.note == "宣導問卷"
        budget = budgets.do_reserve_budget(org.user("fire.accounting"), budget, "40000")
    assert budget.status == BudgetStatus.RESERVED
    assert budget.reserved_amount == 40_000
    actions = list(
        AuditEntry.objects.filter(object_type="coins.budget").order_by("pk").values_list("action", flat=True)
    )
    assert actions == ["wallet.budget.requested", "wallet.budget.reserved"]


def test_a_request_after_30_november_is_refused_with_a_clear_message(org: Any) -> None:
    with time_machine.travel(at(2026, 12, 1), tick=False), pytest.raises(ValidationFailed) as caught:
        budgets.do_request_budget(org.user("prevention.drafter"), org.unit("prevention"), 2027, 1000)
    assert caught.value.code == "request_deadline_passed"
    assert "2026" in str(caught.value.field_errors["year"][0])
    assert not Budget.objects.exists()


def test_the_requester_cannot_reserve_their_own_request(org: Any) -> None:
    accountant = org.user("fire.accounting")
    unit = org.unit("prevention")
    RoleAssignment.objects.create(user=accountant, role=Role.DRAFTER, unit=unit, agency=unit.agency, county=unit.county)
    forget_cached_roles(accountant)
    with time_machine.travel(at(2026, 6, 1), tick=False):
        budget = budgets.do_request_budget(accountant, unit, 2027, 1000)
        with pytest.raises(PermissionDenied):
            budgets.do_reserve_budget(accountant, budget, 1000)
        with pytest.raises(PermissionDenied):  # a drafter has no APPROVE_BUDGET either
            budgets.do_reserve_budget(org.user("prevention.head"), budget, 1000)
    assert Budget.objects.get().status == BudgetStatus.REQUESTED


def test_a_drafter_of_another_unit_gets_not_found(org: Any) -> None:
    outsider = org.user("rescue.drafter")
    with time_machine.travel(at(2026, 6, 1), tick=False):
        with pytest.raises(NotFound):
            budgets.do_request_budget(outsider, org.unit("prevention"), 2027, 1000)
        budget = budgets.do_request_budget(org.user("prevention.drafter"), org.unit("prevention"), 2027, 1000)
        with pytest.raises(NotFound):
            budgets.do_request_extension(outsider, budget, datetime.date(2027, 12, 20), "活動")


def test_reserving_more_than_requested_is_refused(org: Any) -> None:
    with time_machine.travel(at(2026, 6, 1), tick=False):
        budget = budgets.do_request_budget(org.user("prevention.drafter"), org.unit("prevention"), 2027, 1000)
        with pytest.raises(ValidationFailed):
            budgets.do_reserve_budget(org.user("fire.accounting"), budget, 1001)


def test_issuing_is_refused_after_30_november_without_an_extension_and_allowed_with_one(org: Any) -> None:
    unit = org.unit("prevention")
    with time_machine.travel(at(2027, 1, 5), tick=False):
        budget = reserved_budget(unit, reserved=10_000, year=2027)
        per = period(unit, "2028", expires_at=at(2028, 9, 30))
        person = citizen()
        earning.award(key="t:1", budget=budget, citizen=person, amount=100, period=per, reason="survey")
    with time_machine.travel(at(2027, 12, 2), tick=False):
        with pytest.raises(IssueDeadlinePassed):
            earning.award(key="t:2", budget=budget, citizen=person, amount=100, period=per, reason="survey")
        extension = budgets.do_request_extension(
            org.user("prevention.drafter"), budget, datetime.date(2027, 12, 20), "年終活動"
        )
        with pytest.raises(PermissionDenied):  # the unit may not approve its own extension
            budgets.do_approve_extension(org.user("prevention.head"), extension)
        budgets.do_approve_extension(org.user("fire.accounting"), extension)
        budget.refresh_from_db()
        earning.award(key="t:2", budget=budget, citizen=person, amount=100, period=per, reason="survey")
    budget.refresh_from_db()
    assert budget.issued_amount == 200
    assert [m for m in issued_per_month([budget.pk], 2027) if m[1]] == [("1月", 100), ("12月", 100)]


def test_unreconciled_budgets_are_released_after_november_but_an_extension_keeps_them(org: Any) -> None:
    with time_machine.travel(at(2027, 3, 1), tick=False):
        plain = reserved_budget(org.unit("prevention"), reserved=10_000, year=2027)
        extended = reserved_budget(
            org.unit("rescue"), reserved=5_000, year=2027, extension_until=datetime.date(2027, 12, 15)
        )
        per = period(org.unit("prevention"), "2028", expires_at=at(2028, 9, 30))
        earning.award(key="r:1", budget=plain, citizen=citizen(), amount=2_500, period=per, reason="survey")
    assert budgets.release_unreconciled_budgets(datetime.date(2027, 11, 30)) == 0
    assert budgets.release_unreconciled_budgets(datetime.date(2027, 12, 1)) == 1
    plain.refresh_from_db()
    extended.refresh_from_db()
    assert plain.status == BudgetStatus.RELEASED
    assert plain.reserved_amount == 2_500  # the reservation shrinks to what was issued
    assert BudgetRelease.objects.get(budget=plain).released_amount == 7_500
    assert extended.status == BudgetStatus.RESERVED
    assert budgets.release_unreconciled_budgets(datetime.date(2027, 12, 1)) == 0  # idempotent
    assert budgets.release_unreconciled_budgets(datetime.date(2027, 12, 16)) == 1
    extended.refresh_from_db()
    assert extended.status == BudgetStatus.RELEASED
    entry = AuditEntry.objects.filter(action="wallet.budget.released", object_id=str(plain.pk)).get()
    assert entry.data["released"] == 7_500 and entry.data["automatic"] is True
