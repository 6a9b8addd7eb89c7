"""Staff password sign-in with lock-out: 5 failures lock the account for 15 minutes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from civicpush.core.audit import log_action

from .models import StaffUser


class AccountLocked(Exception):
    def __init__(self, locked_until: Any) -> None:
        super().__init__("account locked")
        self.locked_until = locked_until


class LockoutModelBackend(ModelBackend):
    """ModelBackend that counts failures per account and refuses a locked account, even with the
    right password, until the lock expires. Raises AccountLocked so the view can say so."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> StaffUser | None:
        if username is None or password is None:
            return None
        user = StaffUser.objects.filter(username__iexact=username).first()
        if user is None:
            StaffUser().set_password(password)  # equalise timing with the existing-user path
            return None
        if user.is_locked:
            raise AccountLocked(user.locked_until)
        if user.check_password(password) and self.user_can_authenticate(user):
            if user.failed_login_count or user.locked_until:
                StaffUser.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
                user.failed_login_count, user.locked_until = 0, None
            return user
        self._record_failure(user)
        return None

    @staticmethod
    def _record_failure(user: StaffUser) -> None:
        locked_until = None
        with transaction.atomic():
            StaffUser.objects.filter(pk=user.pk).update(failed_login_count=F("failed_login_count") + 1)
            user.refresh_from_db(fields=["failed_login_count", "locked_until"])
            if user.failed_login_count >= settings.STAFF_MAX_FAILED_LOGINS:
                until = timezone.now() + timedelta(seconds=settings.STAFF_LOCKOUT_SECONDS)
                StaffUser.objects.filter(pk=user.pk).update(locked_until=until, failed_login_count=0)
                log_action(
                    "org.staff.locked_out",
                    actor="system",
                    obj=user,
                    data={"locked_until": until, "failures": settings.STAFF_MAX_FAILED_LOGINS},
                )
                locked_until = until
        if locked_until is not None:  # raised after commit, so the lock is kept
            raise AccountLocked(locked_until)
