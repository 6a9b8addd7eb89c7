"""The demo loaders of case progress and adoption run on the demo organisation, and run once."""

from __future__ import annotations

from typing import Any

import pytest

from civicpush.adoption.demo import load_demo_adoption
from civicpush.adoption.models import Recommendation, RosterEntry, StaffGroupDefinition
from civicpush.cases.demo import load_demo_cases
from civicpush.cases.models import Case
from civicpush.cases.tests.helpers import new_citizen
from civicpush.citizens.models import Citizen
from civicpush.feedback.demo import load_demo_feedback

pytestmark = pytest.mark.django_db


def test_demo_cases_and_roster_load_once(org: Any) -> None:
    for _ in range(10):
        new_citizen()
    Citizen.objects.bulk_create(Citizen(county=org.county, phone_e164=f"+88697{n:07d}") for n in range(400))
    assert load_demo_cases(org) == 5
    assert Case.objects.filter(overdue_at__isnull=False).count() >= 2  # the agency's and the sweep's
    assert load_demo_cases(org) == 0
    assert load_demo_feedback(org) == 4
    assert load_demo_feedback(org) == 0
    created = load_demo_adoption(org)
    assert created > 100 and RosterEntry.objects.count() >= created
    assert StaffGroupDefinition.objects.filter(current_group__isnull=False).count() == 5
    assert Recommendation.objects.exists()
    assert load_demo_adoption(org) == 0
