"""The console budgets page: who sees what, the actions by role, 404 across units, exports."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from civicpush.coins.models import Budget, BudgetStatus
from civicpush.core.models import AuditEntry

pytestmark = pytest.mark.django_db
TAIPEI = ZoneInfo("Asia/Taipei")


def staff(org: Any, username: str) -> Client:
    client = Client()
    client.force_login(org.user(username))
    return client


def test_a_drafter_requests_and_accounting_reserves_through_the_console(org: Any) -> None:
    with time_machine.travel(datetime.datetime(2026, 9, 1, 10, tzinfo=TAIPEI), tick=True):
        drafter = staff(org, "prevention.drafter")
        page = drafter.get("/console/budgets/")
        assert page.status_code == 200
        assert "申請 2027 年度預算" in page.content.decode()
        response = drafter.post(
            "/console/budgets/request/", {"unit": org.unit("prevention").pk, "year": 2027, "amount": "30000"}
        )
        assert response.status_code == 302
        budget = Budget.objects.get()
        assert drafter.post(f"/console/budgets/{budget.pk}/reserve/", {"amount": "30000"}).status_code == 403
        accounting = staff(org, "fire.accounting")
        page = accounting.get("/console/budgets/?year=2027")
        assert "控留" in page.content.decode() and "合計" in page.content.decode()
        accounting.post(f"/console/budgets/{budget.pk}/reserve/", {"amount": "25000"})
        budget.refresh_from_db()
        assert (budget.status, budget.reserved_amount) == (BudgetStatus.RESERVED, 25_000)
        outsider = staff(org, "rescue.drafter")
        assert (
            outsider.post(
                f"/console/budgets/{budget.pk}/extension/", {"until": "2027-12-20", "reason": "x"}
            ).status_code
            == 404
        )
        operator = staff(org, "county.operator")
        assert operator.get("/console/budgets/?year=2027").status_code == 200


def test_a_request_after_november_shows_a_clear_message(org: Any) -> None:
    with time_machine.travel(datetime.datetime(2026, 12, 3, 10, tzinfo=TAIPEI), tick=True):
        drafter = staff(org, "prevention.drafter")
        response = drafter.post(
            "/console/budgets/request/", {"unit": org.unit("prevention").pk, "year": 2027, "amount": "100"}, follow=True
        )
    assert "11 月 30 日前申請" in response.content.decode()
    assert not Budget.objects.exists()


def test_the_budget_table_exports_as_csv_and_xlsx(org: Any) -> None:
    with time_machine.travel(datetime.datetime(2026, 9, 1, 10, tzinfo=TAIPEI), tick=True):
        from civicpush.wallet import budgets

        budgets.do_request_budget(org.user("prevention.drafter"), org.unit("prevention"), 2027, 1234)
        accounting = staff(org, "fire.accounting")
        csv = accounting.get("/console/budgets/export.csv?year=2027")
        xlsx = accounting.get("/console/budgets/export.xlsx?year=2027")
    text = csv.content.decode("utf-8-sig")
    assert csv.status_code == 200 and "1234" in text and org.unit("prevention").name in text
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert AuditEntry.objects.filter(action="console.budgets.exported").count() == 2
