"""Organisation services: each change of state writes one audit entry with actor, unit, before/after."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from civicpush.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from civicpush.core.models import AuditEntry
from civicpush.org import services
from civicpush.org.models import RoleAssignment, StaffUser, UnitApiKey
from civicpush.org.roles import Role

pytestmark = pytest.mark.django_db


def _entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action))


def test_adding_a_new_person_creates_the_account_and_the_role_with_audit_entries(org):
    manager, unit = org.user("prevention.manager"), org.unit("prevention")
    user, first_password = services.do_add_staff(
        actor=manager, unit=unit, username="prevention.new", display_name="預防科新人", role=Role.DRAFTER
    )
    assert first_password and user.check_password(first_password)
    assert RoleAssignment.objects.filter(user=user, unit=unit, role=Role.DRAFTER).exists()
    (created,) = _entries("org.staff.created")
    assert created.actor == manager and created.unit_id == unit.pk
    assert created.after["username"] == "prevention.new" and created.before is None
    (added,) = _entries("org.unit.staff_added")
    assert added.actor == manager and added.unit_id == unit.pk and added.county_id == org.county.pk
    assert added.after == {"user": "prevention.new", "role": "drafter"}


def test_adding_an_existing_person_gives_the_role_without_a_new_password(org):
    user, first_password = services.do_add_staff(
        actor=org.user("prevention.manager"),
        unit=org.unit("prevention"),
        username="investigation.drafter",
        display_name="ignored",
        role=Role.DRAFTER,
    )
    assert first_password is None and user == org.user("investigation.drafter")
    assert _entries("org.staff.created") == []
    assert len(_entries("org.unit.staff_added")) == 1


def test_the_same_role_twice_is_a_conflict_and_writes_nothing(org):
    with pytest.raises(Conflict):
        services.do_add_staff(
            actor=org.user("prevention.manager"),
            unit=org.unit("prevention"),
            username="prevention.drafter",
            display_name="",
            role=Role.DRAFTER,
        )
    assert _entries("org.unit.staff_added") == []


def test_county_wide_roles_cannot_be_given_on_a_unit(org):
    with pytest.raises(ValidationFailed):
        services.do_add_staff(
            actor=org.user("prevention.manager"),
            unit=org.unit("prevention"),
            username="x.y",
            display_name="X",
            role=Role.SYSTEM_ADMIN,
        )
    assert not StaffUser.objects.filter(username="x.y").exists()


def test_a_manager_of_another_unit_is_told_not_found(org):
    with pytest.raises(NotFound):
        services.do_add_staff(
            actor=org.user("prevention.manager"),
            unit=org.unit("investigation"),
            username="x.y",
            display_name="X",
        )


def test_removing_a_role_is_audited_with_before(org):
    manager, unit = org.user("prevention.manager"), org.unit("prevention")
    assignment = RoleAssignment.objects.get(user=org.user("prevention.drafter"), unit=unit)
    services.do_remove_role(actor=manager, assignment_id=assignment.pk)
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()
    (entry,) = _entries("org.unit.staff_removed")
    assert entry.actor == manager and entry.unit_id == unit.pk
    assert entry.before == {"user": "prevention.drafter", "role": "drafter"} and entry.after is None


def test_nobody_removes_their_own_account_manager_role(org):
    manager = org.user("prevention.manager")
    own = RoleAssignment.objects.get(user=manager, role=Role.UNIT_ACCOUNT_MANAGER)
    with pytest.raises(PermissionDenied):
        services.do_remove_role(actor=manager, assignment_id=own.pk)
    assert RoleAssignment.objects.filter(pk=own.pk).exists()


def test_unlocking_clears_the_lock_and_records_what_it_was(org):
    locked_until = timezone.now() + datetime.timedelta(minutes=10)
    StaffUser.objects.filter(username="prevention.drafter").update(locked_until=locked_until, failed_login_count=0)
    target = StaffUser.objects.get(username="prevention.drafter")
    services.do_unlock_staff(actor=org.user("prevention.manager"), user=target, unit=org.unit("prevention"))
    target.refresh_from_db()
    assert target.locked_until is None and not target.is_locked
    (entry,) = _entries("org.staff.unlocked")
    assert entry.actor == org.user("prevention.manager") and entry.unit_id == org.unit("prevention").pk
    assert entry.before["locked_until"] == locked_until.isoformat()
    assert entry.after == {"locked_until": None, "failed_login_count": 0}
    assert entry.object_id == str(target.pk)


def test_unlocking_someone_outside_the_unit_is_not_found(org):
    with pytest.raises(NotFound):
        services.do_unlock_staff(
            actor=org.user("prevention.manager"), user=org.user("investigation.drafter"), unit=org.unit("prevention")
        )


def test_api_key_raw_value_is_returned_once_and_only_its_hash_is_stored(org):
    manager, unit = org.user("prevention.manager"), org.unit("prevention")
    key, raw = services.do_create_api_key(actor=manager, unit=unit, name="案件系統", kind="test")
    stored = UnitApiKey.objects.get(pk=key.pk)
    assert raw.startswith(stored.prefix + "_")
    assert stored.key_hash == services.hash_api_key(raw) and raw not in stored.key_hash
    assert raw not in str(AuditEntry.objects.filter(action="org.api_key.created").values().first())
    assert services.authenticate_api_key(raw) == stored
    assert services.authenticate_api_key(raw + "x") is None
    (entry,) = _entries("org.api_key.created")
    assert entry.actor == manager and entry.unit_id == unit.pk and entry.after == {"name": "案件系統", "kind": "test"}


def test_revoking_an_api_key_sets_revoked_at_and_the_key_stops_working(org):
    manager, unit = org.user("prevention.manager"), org.unit("prevention")
    key, raw = services.do_create_api_key(actor=manager, unit=unit, name="k", kind="live")
    services.do_revoke_api_key(actor=manager, key_id=key.pk)
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == manager
    assert services.authenticate_api_key(raw) is None
    services.do_revoke_api_key(actor=manager, key_id=key.pk)  # again: nothing more happens
    (entry,) = _entries("org.api_key.revoked")
    assert entry.actor == manager and entry.unit_id == unit.pk and entry.object_id == str(key.pk)
    assert entry.before["revoked_at"] is None and entry.after["revoked_at"] == key.revoked_at.isoformat()


def test_drafter_cannot_create_api_keys_for_their_own_unit(org):
    with pytest.raises(PermissionDenied):
        services.do_create_api_key(
            actor=org.user("prevention.drafter"), unit=org.unit("prevention"), name="k", kind="test"
        )
    assert not UnitApiKey.objects.exists()
