from __future__ import annotations

import pytest

from civicpush.core.errors import NotFound, PermissionDenied
from civicpush.org import permissions
from civicpush.org.roles import Capability

pytestmark = pytest.mark.django_db


def test_drafter_sees_only_their_own_unit(org):
    drafter = org.user("investigation.drafter")
    visible = set(permissions.units_with(drafter, Capability.VIEW_UNIT).values_list("code", flat=True))
    assert visible == {"investigation"}


def test_role_on_a_brigade_covers_its_squads(org):
    head = org.user("taitung-brigade.head")
    visible = set(permissions.units_with(head, Capability.VIEW_UNIT).values_list("code", flat=True))
    assert visible == {"taitung-brigade", "taitung-squad", "zhiben-squad"}


def test_agency_wide_director_sees_every_fire_bureau_unit(org):
    director = org.user("fire.director")
    assert permissions.units_with(director, Capability.VIEW_UNIT).count() == len(org.units)
    assert permissions.has_capability(director, Capability.APPROVE_PUSH, org.unit("prevention"))
    assert not permissions.has_capability(director, Capability.MANAGE_STAFF, org.unit("prevention"))


def test_other_units_object_is_not_found_and_own_unit_without_capability_is_forbidden(org):
    drafter = org.user("investigation.drafter")
    with pytest.raises(NotFound):
        permissions.require(drafter, Capability.VIEW_UNIT, org.unit("prevention"))
    with pytest.raises(PermissionDenied):
        permissions.require(drafter, Capability.MANAGE_STAFF, org.unit("investigation"))


def test_demo_bureau_has_the_twelve_units_of_seed_000_with_their_kinds(org):
    names = {u.name: u.kind for u in org.units.values() if u.parent_id is None}
    assert len(names) == 12
    assert names["行政科"] == "staff" and names["人事室"] == "staff"
    assert names["預防科"] == "business" and names["指揮中心"] == "business"
