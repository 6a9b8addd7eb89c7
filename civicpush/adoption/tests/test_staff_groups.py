"""The five shared all-staff groups are regenerated from the roster each month (seed 000 §4(2))."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.conf import settings

from civicpush.adoption.models import RosterEntry, RosterKind, StaffGroupDefinition
from civicpush.adoption.tasks import refresh_staff_groups
from civicpush.audiences.models import Group
from civicpush.citizens import services as citizen_services
from civicpush.citizens.tests.factories import taitung

pytestmark = pytest.mark.django_db
TAIPEI = datetime.timezone(datetime.timedelta(hours=8))


def test_all_staff_groups_are_rebuilt_monthly_and_replace_last_months(org: Any) -> None:
    taitung()
    brigade, squad = org.unit("taitung-brigade"), org.unit("zhiben-squad")
    definition = StaffGroupDefinition.objects.create(
        agency=org.agency, base_name="臺東大隊", owner_unit=org.unit("command")
    )
    definition.root_units.set([brigade])
    user = citizen_services.do_sign_up(
        "+886912300001", notice_version=settings.PRIVACY_NOTICE_VERSION, client_ip="198.51.100.7"
    )
    RosterEntry.objects.create(county=org.county, unit=squad, kind=RosterKind.STAFF, name="甲", mobile="+886912300001")
    RosterEntry.objects.create(
        county=org.county, unit=brigade, kind=RosterKind.STAFF, name="乙", mobile="+886912300002"
    )
    RosterEntry.objects.create(
        county=org.county, unit=brigade, kind=RosterKind.VOLUNTEER_FIRE, name="丙", mobile="+886912300001"
    )

    with time_machine.travel(datetime.datetime(2026, 11, 3, 2, 0, tzinfo=TAIPEI), tick=False):
        assert refresh_staff_groups.apply().get() == 1
        assert refresh_staff_groups.apply().get() == 0  # once a month
    november = Group.objects.get(name="消防局臺東大隊1103")
    assert november.unit == org.unit("command") and november.shared_with_agency
    assert list(november.memberships.filter(removed_at__isnull=True).values_list("citizen_id", flat=True)) == [user.pk]

    second = citizen_services.do_sign_up(
        "+886912300002", notice_version=settings.PRIVACY_NOTICE_VERSION, client_ip="198.51.100.7"
    )
    with time_machine.travel(datetime.datetime(2026, 12, 1, 2, 0, tzinfo=TAIPEI), tick=False):
        assert refresh_staff_groups.apply().get() == 1
    december = Group.objects.get(name="消防局臺東大隊1201")
    november.refresh_from_db()
    assert november.retired_at is not None and december.replaces_id == november.pk
    assert set(december.memberships.filter(removed_at__isnull=True).values_list("citizen_id", flat=True)) == {
        user.pk,
        second.pk,
    }
