"""The county dashboard: county-wide roles only; figures from actual data; XLSX export."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from civicpush.adoption import dashboard
from civicpush.cases import services as case_services
from civicpush.cases.tests.helpers import new_citizen

pytestmark = pytest.mark.django_db


def test_dashboard_counts_and_cost_benefit(org: Any) -> None:
    citizen = new_citizen()
    drafter = org.user("prevention.drafter")
    case_type, _ = case_services.do_save_case_type(
        drafter, org.unit("prevention"), code="t", name="圖說審查", standard_days=5
    )
    case_services.do_open_case(drafter, case_type, external_ref="1", citizen_number=citizen.phone_e164)
    f = dashboard.county_figures(org.county)
    assert f.members == 1 and f.case_notices == 1 and f.system_notices == 1 and f.pushes == 0
    service = next(b for b in dashboard.cost_benefit(f) if b.item == "民眾服務")
    assert (service.minutes_saved, service.ntd_saved) == (15, 5)

    operator = Client()
    operator.force_login(org.user("county.operator"))
    page = operator.get("/console/county/dashboard/")
    assert page.status_code == 200 and "民眾服務" in page.content.decode()
    book = load_workbook(io.BytesIO(operator.get("/console/county/dashboard.xlsx").content))
    assert ("members", 1) in [tuple(r) for r in book["figures"].iter_rows(values_only=True)]
    drafter_client = Client()
    drafter_client.force_login(drafter)
    assert drafter_client.get("/console/county/dashboard/").status_code == 403
