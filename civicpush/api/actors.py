"""The actor an API caller hands to domain services, which take a staff user and check org.permissions.

A staff session acts as itself. A unit API key acts through its *key account*: a StaffUser named
after the key (`api-key:cpk_live_ab12cd34`, so audit entries and the push's drafter name the key)
that cannot sign in (unusable password, no county, no stored roles). For the length of one request
the account holds, in memory only, the drafter role on the key's unit — the key's own scope (its
unit and sub-units) and no more than it needs for pushes: no approval capability, so a key can never
sign a push. The router first authorises the key itself (`ApiPrincipal.require`), then the service
checks the same rule again against this actor; nothing in the services is relaxed.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from civicpush.org import permissions
from civicpush.org.models import RoleAssignment, StaffUser, UnitApiKey
from civicpush.org.roles import Role

from .auth import ApiPrincipal

KEY_ACCOUNT_PREFIX = "api-key:"
# Capabilities of the drafter role that the services rely on (VIEW_UNIT, DRAFT_PUSH, MANAGE_GROUPS)
# are all in auth.KEY_CAPABILITIES; the role carries no APPROVE_PUSH.
KEY_ROLE = Role.DRAFTER


def key_account_username(key: UnitApiKey) -> str:
    return f"{KEY_ACCOUNT_PREFIX}{key.prefix}"


def key_account(key: UnitApiKey) -> StaffUser:
    """The key's account, created on first use (no password, no county, no stored roles)."""
    username = key_account_username(key)
    account = StaffUser.objects.filter(username=username).first()
    if account is None:
        try:
            with transaction.atomic():
                account = StaffUser(username=username, display_name=f"API: {key.name}"[:100], is_active=True)
                account.set_unusable_password()
                account.save()
        except IntegrityError:  # created by a concurrent request of the same key
            account = StaffUser.objects.get(username=username)
    return account


def service_actor(principal: ApiPrincipal) -> StaffUser:
    """The staff user to pass to services for this caller (see the module docstring)."""
    if principal.staff_user is not None:
        return principal.staff_user
    key = principal.api_key
    assert key is not None
    account = key_account(key)
    unit = key.unit
    held = RoleAssignment(user=account, role=KEY_ROLE, county_id=unit.county_id, agency_id=unit.agency_id, unit=unit)
    # Exactly one unsaved assignment, living as long as this request's actor object.
    permissions.act_with_roles(account, [held])
    return account
