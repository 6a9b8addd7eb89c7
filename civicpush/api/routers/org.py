"""Organisation endpoints: who am I, which units can I see, who works in a unit."""

from typing import Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Schema

from civicpush.org import selectors as org_selectors
from civicpush.org.models import RoleAssignment, Unit
from civicpush.org.roles import Capability, Role

from ..auth import ApiPrincipal, principal_of
from ..problems import problem_responses

router = Router(tags=["organisation"])


# --- schemas ------------------------------------------------------------------------------------


class RoleOut(Schema):
    role: str
    label: str
    scope: Literal["unit", "agency", "county"]
    unit_id: int | None
    unit_name: str | None
    agency_id: int | None
    agency_name: str | None
    county_id: int


class StaffMeOut(Schema):
    principal: Literal["staff"] = "staff"
    username: str
    display_name: str
    roles: list[RoleOut]


class KeyUnitOut(Schema):
    id: int
    name: str


class KeyOut(Schema):
    name: str
    kind: Literal["test", "live"]
    prefix: str


class KeyMeOut(Schema):
    principal: Literal["api_key"] = "api_key"
    unit: KeyUnitOut
    key: KeyOut


class AgencyOut(Schema):
    id: int
    code: str
    name: str
    name_en: str


class UnitOut(Schema):
    id: int
    code: str
    name: str
    name_en: str
    kind: Literal["staff", "business"]
    agency: AgencyOut
    parent_id: int | None
    depth: int


class StaffRoleOut(Schema):
    role: str
    label: str


class UnitStaffOut(Schema):
    username: str
    display_name: str
    roles: list[StaffRoleOut]
    # Only for staff callers; API keys never receive staff contact details.
    email: str | None = None
    office_phone: str | None = None


# --- helpers ------------------------------------------------------------------------------------


def _role_label(role: str) -> str:
    return str(Role(role).label) if role in Role.values else role


def _role_out(a: RoleAssignment) -> RoleOut:
    scope: Literal["unit", "agency", "county"] = (
        "unit" if a.unit_id is not None else "agency" if a.agency_id is not None else "county"
    )
    return RoleOut(
        role=a.role,
        label=_role_label(a.role),
        scope=scope,
        unit_id=a.unit_id,
        unit_name=a.unit.name if a.unit is not None else None,
        agency_id=a.agency_id,
        agency_name=a.agency.name if a.agency is not None else None,
        county_id=a.county_id,
    )


def _unit_out(unit: Unit) -> UnitOut:
    return UnitOut(
        id=unit.pk,
        code=unit.code,
        name=unit.name,
        name_en=unit.name_en,
        kind=unit.kind,  # type: ignore[arg-type]
        agency=AgencyOut(id=unit.agency.pk, code=unit.agency.code, name=unit.agency.name, name_en=unit.agency.name_en),
        parent_id=unit.parent_id,
        depth=unit.depth,
    )


def _unit_role_assignments(principal: ApiPrincipal, unit: Unit) -> QuerySet[RoleAssignment]:
    """Role assignments held directly on `unit` (VIEW_UNIT required; NotFound when not visible).

    Staff go through org.selectors; a key is authorised by its scope, then reads the same rows.
    """
    if principal.staff_user is not None:
        return org_selectors.unit_staff(principal.staff_user, unit)
    principal.require(Capability.VIEW_UNIT, unit)
    return RoleAssignment.objects.filter(unit=unit).select_related("user").order_by("user__username", "role")


# --- endpoints ----------------------------------------------------------------------------------


@router.get("/me", response={200: StaffMeOut | KeyMeOut, **problem_responses(401)}, summary="The caller")
def me(request: HttpRequest) -> StaffMeOut | KeyMeOut:
    """Who is calling: a staff member with their roles and scopes, or a unit API key."""
    principal = principal_of(request)
    if principal.api_key is not None:
        key = principal.api_key
        return KeyMeOut(
            unit=KeyUnitOut(id=key.unit.pk, name=key.unit.name),
            key=KeyOut(name=key.name, kind=key.kind, prefix=key.prefix),  # type: ignore[arg-type]
        )
    user = principal.staff_user
    assert user is not None
    assignments = (
        RoleAssignment.objects.filter(user=user)
        .select_related("unit", "agency")
        .order_by("county_id", "agency_id", "unit__path", "role")
    )
    return StaffMeOut(
        username=user.get_username(),
        display_name=user.display_name or user.get_username(),
        roles=[_role_out(a) for a in assignments],
    )


@router.get("/units", response={200: list[UnitOut], **problem_responses(401)}, summary="Visible units")
def list_units(request: HttpRequest) -> list[UnitOut]:
    """Every unit the caller may see, in tree order (a key: its unit and that unit's sub-units)."""
    principal = principal_of(request)
    if principal.staff_user is not None:
        units = org_selectors.visible_units(principal.staff_user)
    else:
        units = principal.units_with(Capability.VIEW_UNIT).select_related("agency").order_by("path")
    return [_unit_out(u) for u in units]


@router.get("/units/{unit_id}", response={200: UnitOut, **problem_responses(400, 401, 404)}, summary="One unit")
def get_unit(request: HttpRequest, unit_id: int) -> UnitOut:
    """One unit; 404 when it does not exist or the caller may not see it."""
    return _unit_out(principal_of(request).visible_unit(unit_id))


@router.get(
    "/units/{unit_id}/staff",
    response={200: list[UnitStaffOut], **problem_responses(400, 401, 404)},
    exclude_none=True,
    summary="Staff of a unit",
)
def unit_staff(request: HttpRequest, unit_id: int) -> list[UnitStaffOut]:
    """Role assignments held directly on the unit, one entry per person. Needs VIEW_UNIT on it.
    E-mail and office phone are included for staff callers only."""
    principal = principal_of(request)
    unit = principal.visible_unit(unit_id)
    people: dict[int, UnitStaffOut] = {}
    for a in _unit_role_assignments(principal, unit):
        entry = people.get(a.user_id)
        if entry is None:
            entry = people[a.user_id] = UnitStaffOut(
                username=a.user.get_username(),
                display_name=a.user.display_name or a.user.get_username(),
                roles=[],
                email=(a.user.email or "") if principal.is_staff else None,
                office_phone=(a.user.office_phone or "") if principal.is_staff else None,
            )
        entry.roles.append(StaffRoleOut(role=a.role, label=_role_label(a.role)))
    return list(people.values())
