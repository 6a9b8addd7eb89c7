"""Staff password sign-in through the lock-out backend."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.auth import authenticate

from civicpush.core.models import AuditEntry
from civicpush.org.auth_backend import AccountLocked
from civicpush.org.models import StaffUser

pytestmark = pytest.mark.django_db

PASSWORD = "demo-password-for-tests"
START = datetime.datetime(2026, 3, 2, 1, 0, tzinfo=datetime.UTC)


def _fail(username: str, times: int) -> None:
    for _ in range(times):
        authenticate(None, username=username, password="wrong-password")


def test_five_wrong_passwords_lock_the_account_and_the_right_one_is_refused(org):
    with time_machine.travel(START, tick=False):
        _fail("prevention.drafter", 4)
        with pytest.raises(AccountLocked) as locked:
            authenticate(None, username="prevention.drafter", password="wrong-password")
        assert locked.value.locked_until == START + datetime.timedelta(minutes=15)
        with pytest.raises(AccountLocked):
            authenticate(None, username="prevention.drafter", password=PASSWORD)
    assert (
        AuditEntry.objects.filter(
            action="org.staff.locked_out", object_id=str(org.user("prevention.drafter").pk)
        ).count()
        == 1
    )


def test_the_lock_ends_after_fifteen_minutes(org):
    with time_machine.travel(START, tick=False) as traveller:
        with pytest.raises(AccountLocked):
            _fail("prevention.drafter", 5)
        traveller.shift(datetime.timedelta(minutes=14, seconds=59))
        with pytest.raises(AccountLocked):
            authenticate(None, username="prevention.drafter", password=PASSWORD)
        traveller.shift(datetime.timedelta(seconds=2))
        user = authenticate(None, username="prevention.drafter", password=PASSWORD)
    assert user is not None and user.username == "prevention.drafter"


def test_a_successful_sign_in_resets_the_failure_count(org):
    _fail("prevention.drafter", 4)
    assert StaffUser.objects.get(username="prevention.drafter").failed_login_count == 4
    assert authenticate(None, username="prevention.drafter", password=PASSWORD) is not None
    assert StaffUser.objects.get(username="prevention.drafter").failed_login_count == 0
    _fail("prevention.drafter", 4)  # four more do not lock: the count started again
    assert authenticate(None, username="prevention.drafter", password=PASSWORD) is not None


def test_unknown_user_name_is_refused_without_error(org):
    assert authenticate(None, username="nobody.here", password=PASSWORD) is None


def test_deactivated_account_cannot_sign_in_with_the_right_password(org):
    StaffUser.objects.filter(username="prevention.drafter").update(is_active=False)
    assert authenticate(None, username="prevention.drafter", password=PASSWORD) is None
