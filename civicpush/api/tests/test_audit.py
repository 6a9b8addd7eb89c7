from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from civicpush.core.audit import log_action

from .conftest import issue_key

pytestmark = pytest.mark.django_db

AUDIT = "/api/v1/audit"


@pytest.fixture
def entries(org):
    """One entry in each of two units, and one county-level entry without a unit."""
    operator = org.user("county.operator")
    log_action("pushes.push.approved", actor=operator, unit_id=org.unit("investigation").pk, county_id=org.county.pk)
    log_action("pushes.push.approved", actor=operator, unit_id=org.unit("prevention").pk, county_id=org.county.pk)
    log_action("coins.budget.reserved", actor=operator, county_id=org.county.pk)


def _actions(response):
    assert response.status_code == 200, response.content
    return [(e["action"], e["unit_id"]) for e in response.json()["results"]]


def test_keys_are_forbidden(client, org, entries):
    response = client.get(AUDIT, **issue_key(org, "investigation").bearer)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"


def test_drafters_are_forbidden(client, org, entries):
    client.force_login(org.user("investigation.drafter"))
    response = client.get(AUDIT)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_county_operator_sees_the_whole_county(client, org, entries):
    client.force_login(org.user("county.operator"))
    units = {unit_id for _action, unit_id in _actions(client.get(AUDIT + "?page_size=500"))}
    assert {org.unit("investigation").pk, org.unit("prevention").pk, None} <= units


def test_unit_manager_sees_only_entries_of_their_unit(client, org, entries):
    client.force_login(org.user("investigation.manager"))
    units = {unit_id for _action, unit_id in _actions(client.get(AUDIT + "?page_size=500"))}
    assert units == {org.unit("investigation").pk}


def test_filters_by_action_prefix_unit_and_time(client, org, entries):
    client.force_login(org.user("county.operator"))
    investigation = org.unit("investigation").pk
    assert _actions(client.get(AUDIT, {"action": "pushes.", "unit_id": investigation})) == [
        ("pushes.push.approved", investigation)
    ]
    assert _actions(client.get(AUDIT, {"action": "coins."})) == [("coins.budget.reserved", None)]
    later = (timezone.now() + datetime.timedelta(minutes=5)).isoformat()
    assert _actions(client.get(AUDIT, {"since": later})) == []
    assert _actions(client.get(AUDIT, {"until": later, "action": "coins."})) == [("coins.budget.reserved", None)]


def test_pages_follow_the_next_cursor_newest_first(client, org, entries):
    client.force_login(org.user("county.operator"))
    seen: list[int] = []
    url: str | None = AUDIT + "?page_size=2"
    while url:
        body = client.get(url).json()
        seen += [e["id"] for e in body["results"]]
        url = body["next"]
    assert len(seen) >= 3
    assert seen == sorted(seen, reverse=True)
    assert len(set(seen)) == len(seen)
