"""Organisation writes: staff accounts, role assignments, unit API keys. Each is atomic and audited."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from . import permissions
from .models import ApiKeyKind, RoleAssignment, StaffUser, Unit, UnitApiKey
from .roles import COUNTY_WIDE_ROLES, Capability, Role

API_KEY_PREFIX = "cpk"


def _staff_snapshot(user: StaffUser) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "office_phone": user.office_phone,
        "is_active": user.is_active,
    }


@transaction.atomic
def do_add_staff(
    *,
    actor: StaffUser,
    unit: Unit,
    username: str,
    display_name: str,
    email: str = "",
    office_phone: str = "",
    mobile: str = "",
    role: str = Role.DRAFTER,
    password: str | None = None,
) -> tuple[StaffUser, str | None]:
    """Create a staff account (or reuse one by username) and give it `role` on `unit`.

    Returns the user and, for a new account without a given password, a generated first password
    to hand over once. Requires MANAGE_STAFF on the unit; county-wide roles cannot be given here.
    """
    permissions.require(actor, Capability.MANAGE_STAFF, unit)
    if role not in Role.values or role in COUNTY_WIDE_ROLES:
        raise ValidationFailed(_("This role cannot be given on a unit."), field_errors={"role": [_("Invalid role.")]})
    username = username.strip()
    if not username:
        raise ValidationFailed(field_errors={"username": [_("Enter a user name.")]})
    user = StaffUser.objects.select_for_update().filter(username__iexact=username).first()
    generated: str | None = None
    if user is None:
        user = StaffUser(
            username=username,
            display_name=display_name.strip(),
            email=email.strip(),
            office_phone=office_phone.strip(),
            mobile=mobile.strip(),
            county_id=unit.county_id,
        )
        if password is None:
            generated = secrets.token_urlsafe(12)
            password = generated
        try:
            validate_password(password, user)
        except DjangoValidationError as exc:
            raise ValidationFailed(field_errors={"password": list(exc.messages)}) from exc
        user.set_password(password)
        user.save()
        log_action("org.staff.created", actor=actor, obj=user, unit_id=unit.pk, after=_staff_snapshot(user))
    elif user.county_id != unit.county_id:
        raise Conflict(_("This user name belongs to another county."))
    do_assign_role(actor=actor, user=user, role=role, unit=unit)
    return user, generated


@transaction.atomic
def do_assign_role(*, actor: StaffUser, user: StaffUser, role: str, unit: Unit) -> RoleAssignment:
    """Give `user` the role on `unit`. Requires MANAGE_STAFF on the unit."""
    permissions.require(actor, Capability.MANAGE_STAFF, unit)
    if role not in Role.values or role in COUNTY_WIDE_ROLES:
        raise ValidationFailed(_("This role cannot be given on a unit."))
    try:
        with transaction.atomic():
            assignment = RoleAssignment.objects.create(
                user=user,
                role=role,
                unit=unit,
                agency=unit.agency,
                county_id=unit.county_id,
                created_by=actor,
            )
    except IntegrityError as exc:
        raise Conflict(_("This person already has that role in this unit.")) from exc
    permissions.forget_cached_roles(user)
    log_action(
        "org.unit.staff_added",
        actor=actor,
        obj=unit,
        unit_id=unit.pk,
        after={"user": user.username, "role": role},
    )
    return assignment


@transaction.atomic
def do_remove_role(*, actor: StaffUser, assignment_id: int) -> None:
    """Take a role away. Requires MANAGE_STAFF on its unit; nobody removes their own manager role."""
    assignment = RoleAssignment.objects.select_related("unit", "user").filter(pk=assignment_id).first()
    if assignment is None or assignment.unit is None:
        raise NotFound()
    permissions.require(actor, Capability.MANAGE_STAFF, assignment.unit)
    if assignment.user_id == actor.pk and assignment.role == Role.UNIT_ACCOUNT_MANAGER:
        raise PermissionDenied(_("You cannot remove your own account-manager role."))
    unit, user, role = assignment.unit, assignment.user, assignment.role
    assignment.delete()
    permissions.forget_cached_roles(user)
    log_action(
        "org.unit.staff_removed",
        actor=actor,
        obj=unit,
        unit_id=unit.pk,
        before={"user": user.username, "role": role},
    )


@transaction.atomic
def do_unlock_staff(*, actor: StaffUser, user: StaffUser, unit: Unit) -> None:
    """Clear a sign-in lock early (e.g. after the person called the help desk)."""
    permissions.require(actor, Capability.MANAGE_STAFF, unit)
    if not RoleAssignment.objects.filter(user=user, unit__path__startswith=unit.path).exists():
        raise NotFound()
    before = {"locked_until": user.locked_until, "failed_login_count": user.failed_login_count}
    StaffUser.objects.filter(pk=user.pk).update(locked_until=None, failed_login_count=0)
    log_action(
        "org.staff.unlocked",
        actor=actor,
        obj=user,
        unit_id=unit.pk,
        before=before,
        after={"locked_until": None, "failed_login_count": 0},
    )


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def do_create_api_key(*, actor: StaffUser, unit: Unit, name: str, kind: str) -> tuple[UnitApiKey, str]:
    """Create a unit API key. Returns the key row and the raw key, which is shown once and never stored."""
    permissions.require(actor, Capability.MANAGE_API_KEYS, unit)
    name = name.strip()
    if not name:
        raise ValidationFailed(field_errors={"name": [_("Enter a name for this key.")]})
    if kind not in ApiKeyKind.values:
        raise ValidationFailed(field_errors={"kind": [_("Choose test or live.")]})
    prefix = f"{API_KEY_PREFIX}_{kind}_{secrets.token_hex(4)}"
    raw = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = UnitApiKey.objects.create(
        unit=unit, name=name, kind=kind, prefix=prefix, key_hash=hash_api_key(raw), created_by=actor
    )
    log_action("org.api_key.created", actor=actor, obj=key, unit_id=unit.pk, after={"name": name, "kind": kind})
    return key, raw


@transaction.atomic
def do_revoke_api_key(*, actor: StaffUser, key_id: int) -> UnitApiKey:
    """Revoke a unit API key (idempotent: revoking a revoked key changes and records nothing)."""
    key = UnitApiKey.objects.select_for_update().select_related("unit").filter(pk=key_id).first()
    if key is None:
        raise NotFound()
    permissions.require(actor, Capability.MANAGE_API_KEYS, key.unit)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.revoked_by = actor
        key.save(update_fields=["revoked_at", "revoked_by"])
        log_action(
            "org.api_key.revoked",
            actor=actor,
            obj=key,
            unit_id=key.unit_id,
            before={"name": key.name, "kind": key.kind, "revoked_at": None},
            after={"name": key.name, "kind": key.kind, "revoked_at": key.revoked_at},
        )
    return key


def authenticate_api_key(raw_key: str) -> UnitApiKey | None:
    """The active key matching `raw_key`, or None. Updates last-used at most once a minute."""
    if not raw_key.startswith(API_KEY_PREFIX + "_"):
        return None
    key = UnitApiKey.objects.select_related("unit", "unit__agency").filter(key_hash=hash_api_key(raw_key)).first()
    if key is None or key.revoked_at is not None:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        UnitApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
