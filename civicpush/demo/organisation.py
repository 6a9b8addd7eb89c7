"""The demo organisation: Taitung County, the Fire Bureau's 12 units of seed 000, one staff member
in each role, the county operator and accounting. Deterministic; used by `load_demo` and by tests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import transaction

from civicpush.citizens.reference_data import TAITUNG_COUNTY_CODE, TAITUNG_COUNTY_NAME
from civicpush.org.models import Agency, County, RoleAssignment, StaffUser, Unit, UnitKind
from civicpush.org.roles import Role

DEFAULT_DEMO_PASSWORD = "civicpush-demo-2026"  # noqa: S105 - demo data only, printed by `make run`

# (code, name, English name, kind). Seed 000 §3: staff units (幕僚單位) push to groups only,
# business units (業務單位) to groups and everyone. Field brigades (外勤大隊) have their pushes made
# by headquarters' business units for now (seed 000 §2), so they are staff units here.
FIRE_BUREAU_UNITS: list[tuple[str, str, str, str]] = [
    ("rescue", "搶救科", "Rescue Section", UnitKind.BUSINESS),
    ("investigation", "火調科", "Fire Investigation Section", UnitKind.BUSINESS),
    ("prevention", "預防科", "Fire Prevention Section", UnitKind.BUSINESS),
    ("disaster", "災管科", "Disaster Management Section", UnitKind.BUSINESS),
    ("ems", "救護科", "Emergency Medical Services Section", UnitKind.BUSINESS),
    ("command", "指揮中心", "Command Center", UnitKind.BUSINESS),
    ("admin", "行政科", "Administration Section", UnitKind.STAFF),
    ("personnel", "人事室", "Personnel Office", UnitKind.STAFF),
    ("taitung-brigade", "臺東大隊", "Taitung Brigade", UnitKind.STAFF),
    ("guanshan-brigade", "關山大隊", "Guanshan Brigade", UnitKind.STAFF),
    ("chenggong-brigade", "成功大隊", "Chenggong Brigade", UnitKind.STAFF),
    ("dawu-brigade", "大武大隊", "Dawu Brigade", UnitKind.STAFF),
]
# Sub-units (分隊) so the tree has depth: (parent code, code, name, English name).
FIRE_BUREAU_SQUADS: list[tuple[str, str, str, str]] = [
    ("taitung-brigade", "taitung-squad", "臺東分隊", "Taitung Squad"),
    ("taitung-brigade", "zhiben-squad", "知本分隊", "Zhiben Squad"),
    ("guanshan-brigade", "chishang-squad", "池上分隊", "Chishang Squad"),
]
UNIT_ROLES = [Role.DRAFTER, Role.UNIT_HEAD, Role.UNIT_ACCOUNT_MANAGER]
AGENCY_ROLES: list[tuple[str, str, str]] = [
    (Role.PUSH_LIAISON, "fire.liaison", "TTPush 專責窗口 林怡君"),
    (Role.SECRETARY, "fire.secretary", "秘書 陳志明"),
    (Role.DEPUTY_DIRECTOR, "fire.deputy", "副局長 王建國"),
    (Role.DIRECTOR, "fire.director", "局長 張文雄"),
    (Role.ACCOUNTING, "fire.accounting", "會計室 李淑芬"),
]
COUNTY_ROLES: list[tuple[str, str, str]] = [
    (Role.COUNTY_OPERATOR, "county.operator", "國際發展及計畫處 黃雅婷"),
    (Role.SYSTEM_ADMIN, "county.admin", "系統管理員"),
]
ROLE_TITLES = {Role.DRAFTER: "承辦人", Role.UNIT_HEAD: "主管", Role.UNIT_ACCOUNT_MANAGER: "專責人員"}
ROLE_USER_SUFFIX = {Role.DRAFTER: "drafter", Role.UNIT_HEAD: "head", Role.UNIT_ACCOUNT_MANAGER: "manager"}


@dataclass
class DemoOrganisation:
    county: County
    agency: Agency
    units: dict[str, Unit] = field(default_factory=dict)  # by code
    staff: dict[str, StaffUser] = field(default_factory=dict)  # by username
    password: str = DEFAULT_DEMO_PASSWORD

    def unit(self, code: str) -> Unit:
        return self.units[code]

    def user(self, username: str) -> StaffUser:
        return self.staff[username]


def demo_password() -> str:
    return os.environ.get("CIVICPUSH_DEMO_PASSWORD", DEFAULT_DEMO_PASSWORD)


def ensure_county() -> County:
    county, _ = County.objects.get_or_create(
        code=TAITUNG_COUNTY_CODE, defaults={"name": TAITUNG_COUNTY_NAME, "name_en": "Taitung County"}
    )
    return county


@transaction.atomic
def create_fire_bureau(password: str | None = None) -> DemoOrganisation:
    """Create (or complete) the demo organisation. Idempotent."""
    password = password or demo_password()
    password_hash = make_password(password)  # one hash for all demo accounts: fast, same password
    county = ensure_county()
    agency, _ = Agency.objects.get_or_create(
        county=county, code="fire", defaults={"name": "臺東縣消防局", "name_en": "Taitung County Fire Bureau"}
    )
    demo = DemoOrganisation(county=county, agency=agency, password=password)
    for code, name, name_en, kind in FIRE_BUREAU_UNITS:
        demo.units[code], _ = Unit.objects.get_or_create(
            agency=agency,
            code=code,
            defaults={"county": county, "name": name, "name_en": name_en, "kind": kind},
        )
    for parent_code, code, name, name_en in FIRE_BUREAU_SQUADS:
        demo.units[code], _ = Unit.objects.get_or_create(
            agency=agency,
            code=code,
            defaults={
                "county": county,
                "parent": demo.units[parent_code],
                "name": name,
                "name_en": name_en,
                "kind": UnitKind.STAFF,
            },
        )

    def staff(username: str, display_name: str) -> StaffUser:
        user, _created = StaffUser.objects.get_or_create(
            username=username,
            defaults={
                "display_name": display_name,
                "county": county,
                "email": f"{username}@fire.example.gov.tw",
                "office_phone": "089-322112",
                "password": password_hash,
            },
        )
        demo.staff[username] = user
        return user

    for code, name, _name_en, _kind in FIRE_BUREAU_UNITS:
        unit = demo.units[code]
        for unit_role in UNIT_ROLES:
            user = staff(f"{code}.{ROLE_USER_SUFFIX[unit_role]}", f"{name}{ROLE_TITLES[unit_role]}")
            RoleAssignment.objects.get_or_create(
                user=user, role=unit_role, unit=unit, defaults={"agency": agency, "county": county}
            )
    for role, username, display_name in AGENCY_ROLES:
        user = staff(username, display_name)
        RoleAssignment.objects.get_or_create(
            user=user, role=role, unit=None, agency=agency, defaults={"county": county}
        )
    for role, username, display_name in COUNTY_ROLES:
        user = staff(username, display_name)
        RoleAssignment.objects.get_or_create(user=user, role=role, unit=None, agency=None, county=county)
    return demo
