"""Console pages of the roster and awards: who may see and change what; downloads."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from civicpush.adoption.models import AwardPeriod, AwardRule, RosterEntry
from civicpush.adoption.rules_seed import ensure_default_rules

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_unit_keeps_its_own_roster_only(org: Any) -> None:
    unit = org.unit("taitung-brigade")
    own = _client(org.user("taitung-brigade.drafter"))
    response = own.post(
        f"/console/roster/units/{unit.pk}/",
        {"action": "add", "kind": "volunteer_fire", "name": "王大明", "mobile": "0912-345-678"},
    )
    assert response.status_code == 302
    entry = RosterEntry.objects.get()
    assert (entry.name, entry.mobile, entry.kind) == ("王大明", "+886912345678", "volunteer_fire")
    other = _client(org.user("ems.drafter"))
    assert other.get(f"/console/roster/units/{unit.pk}/").status_code == 404
    assert other.post(f"/console/roster/units/{unit.pk}/", {"action": "remove", "entry": entry.pk}).status_code == 404
    assert RosterEntry.objects.get().is_active
    pdf = own.get(f"/console/roster/units/{unit.pk}/export.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    xlsx = own.get(f"/console/roster/units/{unit.pk}/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_sync_adds_the_units_staff_accounts(org: Any) -> None:
    unit = org.unit("ems")
    head = org.user("ems.head")
    head.mobile = "0912-111-222"
    head.save()
    client = _client(org.user("ems.drafter"))
    assert client.post(f"/console/roster/units/{unit.pk}/", {"action": "sync"}).status_code == 302
    names = set(RosterEntry.objects.filter(unit=unit).values_list("name", "mobile"))
    assert ("救護科主管", "+886912111222") in names and len(names) == 3
    client.post(f"/console/roster/units/{unit.pk}/", {"action": "sync"})
    assert RosterEntry.objects.filter(unit=unit).count() == 3  # not twice


def test_only_the_administration_section_keeps_the_rules(org: Any) -> None:
    ensure_default_rules(org.agency)
    assert _client(org.user("ems.drafter")).get("/console/awards/rules/").status_code == 403
    admin = _client(org.user("admin.drafter"))
    page = admin.get("/console/awards/rules/")
    assert page.status_code == 200 and "單位同仁下載使用達成率達90%" in page.content.decode()
    rule = AwardRule.objects.get(name="期間辦結案件達100件以上")
    response = admin.post(
        "/console/awards/rules/",
        {"rule": rule.pk, "name": rule.name, "fact": rule.fact, "threshold": "50", "upper": "", "recipient": "drafter",
         "outcome": "commendation_1", "basis": rule.basis, "is_active": "on", "sort_order": "3"},
    )  # fmt: skip
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.threshold == 50 and rule.is_active
    created = admin.post(
        "/console/awards/periods/", {"name": "115年9月", "starts_on": "2026-07-01", "deadline": "2026-09-30"}
    )
    assert created.status_code == 302
    period = AwardPeriod.objects.get()
    assert admin.get(f"/console/awards/periods/{period.pk}/export.pdf").content.startswith(b"%PDF")
    assert _client(org.user("ems.drafter")).get(f"/console/awards/periods/{period.pk}/").status_code == 403
