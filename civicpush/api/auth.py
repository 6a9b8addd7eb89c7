"""Who is calling the API: a signed-in staff member (session + CSRF) or a unit API key.

Either way the caller becomes an `ApiPrincipal` on `request.auth`, and routers authorise through it
(`principal.require(capability, unit)`), so an endpoint is written once for both kinds of caller.

Scope of an API key (decision): a key acts for its unit *and that unit's sub-units*, exactly as a
role held on a unit does (org.permissions), and only with KEY_CAPABILITIES. A brigade's key
therefore also covers its squads; a section's key covers that section alone. Keys never see other
units, the audit log, staff contact details, or anything county-wide.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, APIKeyHeader, HttpBearer
from ninja.utils import check_csrf

from civicpush.core.errors import NotFound, PermissionDenied
from civicpush.org import permissions
from civicpush.org.models import ApiKeyKind, StaffUser, Unit, UnitApiKey
from civicpush.org.roles import Capability
from civicpush.org.services import API_KEY_PREFIX, authenticate_api_key, hash_api_key

from .problems import CsrfFailed, InvalidApiKey

KEY_CAPABILITIES: frozenset[Capability] = frozenset(
    {Capability.VIEW_UNIT, Capability.DRAFT_PUSH, Capability.MANAGE_GROUPS}
)


@dataclass(frozen=True)
class ApiPrincipal:
    """The authenticated caller: exactly one of `staff_user` or `api_key` is set."""

    staff_user: StaffUser | None = None
    api_key: UnitApiKey | None = None

    def __post_init__(self) -> None:
        if (self.staff_user is None) == (self.api_key is None):
            raise ValueError("An ApiPrincipal is either a staff user or an API key.")

    @property
    def is_staff(self) -> bool:
        return self.staff_user is not None

    @property
    def unit(self) -> Unit | None:
        """The unit a key acts for (None for staff, who act through their roles)."""
        return self.api_key.unit if self.api_key is not None else None

    @property
    def is_test(self) -> bool:
        """Test keys exercise the API without reaching citizens (later routers must honour this)."""
        return self.api_key is not None and self.api_key.kind == ApiKeyKind.TEST

    @property
    def label(self) -> str:
        if self.staff_user is not None:
            return self.staff_user.get_username()
        assert self.api_key is not None
        return f"api-key:{self.api_key.prefix}"

    def _key_covers(self, unit: Unit) -> bool:
        key_unit = self.unit
        return key_unit is not None and unit.county_id == key_unit.county_id and unit.path.startswith(key_unit.path)

    def has_capability(self, capability: Capability, unit: Unit) -> bool:
        if self.staff_user is not None:
            return permissions.has_capability(self.staff_user, capability, unit)
        return capability in KEY_CAPABILITIES and self._key_covers(unit)

    def require(self, capability: Capability, unit: Unit) -> None:
        """Raise unless the caller holds `capability` on `unit`: NotFound when the unit is not even
        visible to them (ids of other units leak nothing), PermissionDenied otherwise."""
        if self.staff_user is not None:
            permissions.require(self.staff_user, capability, unit)
            return
        if self.has_capability(capability, unit):
            return
        if not self.has_capability(Capability.VIEW_UNIT, unit):
            raise NotFound()
        raise PermissionDenied()

    def require_staff(self) -> StaffUser:
        """For staff-only endpoints (e.g. the audit log): keys get 403, not 401."""
        if self.staff_user is None:
            raise PermissionDenied(_("API keys cannot use this endpoint; sign in as staff."))
        return self.staff_user

    def units_with(self, capability: Capability) -> QuerySet[Unit]:
        if self.staff_user is not None:
            return permissions.units_with(self.staff_user, capability)
        key_unit = self.unit
        if key_unit is None or capability not in KEY_CAPABILITIES:
            return Unit.objects.none()
        return Unit.objects.filter(county_id=key_unit.county_id, path__startswith=key_unit.path)

    def visible_unit(self, unit_id: int) -> Unit:
        """The unit with this id if the caller may see it; NotFound otherwise (also when it does not exist)."""
        if self.staff_user is not None:
            return permissions.visible_unit(self.staff_user, unit_id)
        unit = Unit.objects.filter(pk=unit_id).select_related("agency", "county").first()
        if unit is None or not self.has_capability(Capability.VIEW_UNIT, unit):
            raise NotFound()
        return unit


def principal_of(request: HttpRequest) -> ApiPrincipal:
    principal = getattr(request, "auth", None)
    assert isinstance(principal, ApiPrincipal), "route is not behind API authentication"
    return principal


# Valid keys seen by this process: sha256 of the raw key → (key row with its unit, when checked).
# System callers send a request per event (ledger transfers, the issue 5 benchmark): a dict lookup
# instead of a query each time. A revocation or a unit change saved in this process clears the cache
# at once (signals below); one saved in another process reaches this one within KEY_CACHE_SECONDS.
KEY_CACHE_SECONDS = 30.0
_key_cache: dict[str, tuple[UnitApiKey, float]] = {}


def forget_cached_keys(**_kwargs: object) -> None:
    _key_cache.clear()


post_save.connect(forget_cached_keys, sender=UnitApiKey, dispatch_uid="api-auth-forget-keys-on-key")
post_save.connect(forget_cached_keys, sender=Unit, dispatch_uid="api-auth-forget-keys-on-unit")
post_delete.connect(forget_cached_keys, sender=UnitApiKey, dispatch_uid="api-auth-forget-keys-on-key-delete")


def _cached_key(raw: str) -> UnitApiKey | None:
    if not raw.startswith(API_KEY_PREFIX + "_"):
        return None
    digest = hash_api_key(raw)
    now = time.monotonic()
    hit = _key_cache.get(digest)
    key: UnitApiKey | None
    if hit is not None and now - hit[1] < KEY_CACHE_SECONDS:
        key = hit[0]
        if key.last_used_at is None or (timezone.now() - key.last_used_at).total_seconds() > 60:
            key = authenticate_api_key(raw)  # re-read, and records last use (at most once a minute)
        else:
            return key
    else:
        key = authenticate_api_key(raw)
    if key is not None and key.unit.is_active:
        if len(_key_cache) > 10_000:
            _key_cache.clear()
        _key_cache[digest] = (key, now)
    else:
        _key_cache.pop(digest, None)
    return key


def principal_for_key(raw: str) -> ApiPrincipal | None:
    """The principal of a raw key, or None for a key the API refuses (also used by fast paths)."""
    key = _cached_key(raw.strip())
    if key is None or not key.unit.is_active:
        return None
    return ApiPrincipal(api_key=key)


def _principal_for_raw_key(raw: str) -> ApiPrincipal:
    principal = principal_for_key(raw)
    if principal is None:
        # A presented but bad key is an error, never a reason to try the session instead.
        raise InvalidApiKey()
    return principal


class ApiKeyBearer(HttpBearer):
    """`Authorization: Bearer cpk_live_…` (preferred)."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiPrincipal:
        return _principal_for_raw_key(token)


class ApiKeyHeader(APIKeyHeader):
    """`X-API-Key: cpk_live_…` (for clients that cannot set Authorization)."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiPrincipal | None:
        if key is None:
            return None
        return _principal_for_raw_key(key)


class StaffSession(APIKeyCookie):
    """The console's Django session. Unsafe methods need the CSRF token, as in the console itself."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise CsrfFailed()
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiPrincipal | None:
        user = request.user
        if key is None or not user.is_authenticated or not isinstance(user, StaffUser):
            return None
        return ApiPrincipal(staff_user=user)


# Keys first: a key-carrying request must not be refused for a missing CSRF token because the
# client also happens to hold a session cookie.
API_AUTH = [ApiKeyBearer(), ApiKeyHeader(), StaffSession(csrf=True)]
