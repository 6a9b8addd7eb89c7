"""Staff roles and what each may do. Roles are held per scope: a unit (and its sub-units),
a whole agency, or the whole county."""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    DRAFTER = "drafter", _("Drafter (承辦人)")
    UNIT_HEAD = "unit_head", _("Unit head (科長/單位主管)")
    PUSH_LIAISON = "push_liaison", _("Push liaison (TTPush 專責窗口)")
    SECRETARY = "secretary", _("Secretary (秘書)")
    DEPUTY_DIRECTOR = "deputy_director", _("Deputy director (副局長)")
    DIRECTOR = "director", _("Director (局長)")
    UNIT_ACCOUNT_MANAGER = "unit_account_manager", _("Unit account manager (專責人員)")
    ACCOUNTING = "accounting", _("Accounting (會計)")
    COUNTY_OPERATOR = "county_operator", _("County operator (平台管理)")
    SYSTEM_ADMIN = "system_admin", _("System administrator")


class Capability(StrEnum):
    VIEW_UNIT = "unit.view"
    MANAGE_STAFF = "unit.manage_staff"
    MANAGE_API_KEYS = "unit.manage_api_keys"
    VIEW_AUDIT = "audit.view"
    DRAFT_PUSH = "push.draft"
    APPROVE_PUSH = "push.approve"
    MANAGE_GROUPS = "group.manage"
    MANAGE_BUDGET = "coins.budget"
    APPROVE_BUDGET = "coins.approve_budget"
    CONFIGURE_COUNTY = "county.configure"


C = Capability
ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.DRAFTER: frozenset({C.VIEW_UNIT, C.DRAFT_PUSH, C.MANAGE_GROUPS, C.MANAGE_BUDGET}),
    Role.UNIT_HEAD: frozenset({C.VIEW_UNIT, C.DRAFT_PUSH, C.MANAGE_GROUPS, C.APPROVE_PUSH, C.MANAGE_BUDGET}),
    Role.PUSH_LIAISON: frozenset({C.VIEW_UNIT, C.APPROVE_PUSH}),
    Role.SECRETARY: frozenset({C.VIEW_UNIT, C.APPROVE_PUSH}),
    Role.DEPUTY_DIRECTOR: frozenset({C.VIEW_UNIT, C.APPROVE_PUSH}),
    Role.DIRECTOR: frozenset({C.VIEW_UNIT, C.APPROVE_PUSH}),
    Role.UNIT_ACCOUNT_MANAGER: frozenset({C.VIEW_UNIT, C.MANAGE_STAFF, C.MANAGE_API_KEYS, C.VIEW_AUDIT}),
    Role.ACCOUNTING: frozenset({C.VIEW_UNIT, C.APPROVE_BUDGET}),
    Role.COUNTY_OPERATOR: frozenset({C.VIEW_UNIT, C.VIEW_AUDIT, C.CONFIGURE_COUNTY, C.MANAGE_API_KEYS, C.APPROVE_PUSH}),
    Role.SYSTEM_ADMIN: frozenset({C.VIEW_UNIT, C.MANAGE_STAFF, C.MANAGE_API_KEYS, C.VIEW_AUDIT, C.CONFIGURE_COUNTY}),
}

# Roles that only make sense county-wide (no unit or agency scope).
COUNTY_WIDE_ROLES = frozenset({Role.COUNTY_OPERATOR, Role.SYSTEM_ADMIN})
