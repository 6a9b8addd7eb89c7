"""Citizen case pages without a browser: only one's own cases; console lists per unit."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from civicpush.cases import services
from civicpush.citizens.middleware import CITIZEN_SESSION_KEY

from .helpers import new_citizen

pytestmark = pytest.mark.django_db


def _client_for(citizen: Any) -> Client:
    client = Client()
    session = client.session
    session[CITIZEN_SESSION_KEY] = citizen.pk
    session.save()
    return client


def test_citizens_see_only_their_own_cases(org: Any) -> None:
    mine, theirs = new_citizen(), new_citizen()
    drafter = org.user("prevention.drafter")
    case_type, _ = services.do_save_case_type(
        drafter, org.unit("prevention"), code="t", name="救護紀錄表申請", standard_days=5
    )
    my_case, _ = services.do_open_case(drafter, case_type, external_ref="1", citizen_number=mine.phone_e164)
    their_case, _ = services.do_open_case(drafter, case_type, external_ref="2", citizen_number=theirs.phone_e164)
    client = _client_for(mine)
    assert client.get(f"/cases/{my_case.pk}/").status_code == 200
    assert client.get(f"/cases/{their_case.pk}/").status_code == 404
    listing = client.get("/cases/").content.decode()
    assert f"/cases/{my_case.pk}/" in listing and f"/cases/{their_case.pk}/" not in listing


def test_staff_see_only_their_units_cases_in_the_console(org: Any) -> None:
    citizen = new_citizen()
    drafter = org.user("prevention.drafter")
    case_type, _ = services.do_save_case_type(
        drafter, org.unit("prevention"), code="t", name="救護紀錄表申請", standard_days=5
    )
    case, _ = services.do_open_case(drafter, case_type, external_ref="P-1", citizen_number=citizen.phone_e164)
    own, other = Client(), Client()
    own.force_login(drafter)
    other.force_login(org.user("ems.drafter"))
    assert "P-1" in own.get("/console/cases/?view=all").content.decode()
    assert "P-1" not in other.get("/console/cases/?view=all").content.decode()
    assert own.get(f"/console/cases/{case.pk}/").status_code == 200
    assert other.get(f"/console/cases/{case.pk}/").status_code == 404
