"""Approval chains (the sign-off boxes of 推播審核表): resolution, defaults, and the dispatch-time check.

A chain is an ordered list of roles whose first entry is the drafter (承辦人), who signs by
submitting; each later role is one approval step. Step numbers index into the list (1 = the
first approver), so they match `PushApproval.step`.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from civicpush.core.errors import Conflict
from civicpush.org.models import County, Unit
from civicpush.org.roles import ROLE_CAPABILITIES, Capability, Role

from .models import ApprovalChain, ChainScope, Decision, Push, PushApproval, TargetKind

# Seed 000's form: 承辦人 → 科長 → TTPush專責窗口 → 秘書 → 副局長 → 局長 for pushes to everyone;
# group and personal pushes are signed up to the unit head (seed 000 §5(1): 核章至單位主管).
EVERYONE_CHAIN: list[str] = [
    Role.DRAFTER,
    Role.UNIT_HEAD,
    Role.PUSH_LIAISON,
    Role.SECRETARY,
    Role.DEPUTY_DIRECTOR,
    Role.DIRECTOR,
]
GROUPS_CHAIN: list[str] = [Role.DRAFTER, Role.UNIT_HEAD]
BUILTIN_CHAINS: dict[str, list[str]] = {
    ChainScope.EVERYONE: EVERYONE_CHAIN,
    ChainScope.GROUPS_OR_PERSON: GROUPS_CHAIN,
}


class ChainIncomplete(Conflict):
    code = "chain_incomplete"
    default_message = _("This push does not have all the approvals it needs.")


def scope_for(target_kind: str) -> ChainScope:
    return ChainScope.EVERYONE if target_kind == TargetKind.EVERYONE else ChainScope.GROUPS_OR_PERSON


def approver_roles() -> list[str]:
    """Roles that may sit on an approval step (they hold APPROVE_PUSH)."""
    return [r for r in Role.values if Capability.APPROVE_PUSH in ROLE_CAPABILITIES.get(r, frozenset())]


def resolve_chain(unit: Unit, target_kind: str) -> list[str]:
    """The chain for a push of `unit` to `target_kind`: the unit's own (or its nearest ancestor's)
    > the agency's > the county default > the built-in default."""
    scope = scope_for(target_kind)
    ancestor_ids = [int(p) for p in unit.path.split(".") if p] if unit.path else [unit.pk]
    candidates = list(
        ApprovalChain.objects.filter(county_id=unit.county_id, applies_to=scope).filter(
            Q(unit_id__in=ancestor_ids)
            | Q(unit__isnull=True, agency_id=unit.agency_id)
            | Q(unit__isnull=True, agency__isnull=True)
        )
    )
    by_unit = {c.unit_id: c for c in candidates if c.unit_id is not None}
    for unit_id in reversed(ancestor_ids):  # nearest first
        if unit_id in by_unit:
            return list(by_unit[unit_id].roles)
    for c in candidates:
        if c.unit_id is None and c.agency_id == unit.agency_id:
            return list(c.roles)
    for c in candidates:
        if c.unit_id is None and c.agency_id is None:
            return list(c.roles)
    return list(BUILTIN_CHAINS[scope])


def ensure_default_chains(county: County) -> list[ApprovalChain]:
    """Create the county-default chains (the Fire Bureau's demo practice) when missing. Idempotent."""
    out = []
    for scope, roles in BUILTIN_CHAINS.items():
        chain, _created = ApprovalChain.objects.get_or_create(
            county=county, agency=None, unit=None, applies_to=scope, defaults={"roles": list(roles)}
        )
        out.append(chain)
    return out


def current_approvals(push: Push) -> list[PushApproval]:
    return list(PushApproval.objects.filter(push=push, revision=push.revision, is_current=True).order_by("step", "id"))


def next_step(push: Push, approvals: list[PushApproval] | None = None) -> int | None:
    """The index in `push.chain_roles` awaiting a decision, or None when every step has approved."""
    approvals = current_approvals(push) if approvals is None else approvals
    approved_steps = {a.step for a in approvals if a.decision == Decision.APPROVED}
    for step in range(1, len(push.chain_roles)):
        if step not in approved_steps:
            return step
    return None


def current_step_role(push: Push) -> str | None:
    step = next_step(push)
    return push.chain_roles[step] if step is not None else None


def assert_chain_complete(push: Push) -> None:
    """Invariant 1, checked again right before anything goes out: every step of the snapshotted
    chain, and every role the unit's chain requires *now*, approved this revision, none by the drafter."""
    approvals = current_approvals(push)
    if not push.chain_roles or len(push.chain_roles) < 2:
        raise ChainIncomplete()
    if next_step(push, approvals) is not None:
        raise ChainIncomplete()
    approved = [a for a in approvals if a.decision == Decision.APPROVED]
    if any(a.decision != Decision.APPROVED for a in approvals):
        raise ChainIncomplete()
    if any(a.approver_id == push.created_by_id for a in approved):
        raise ChainIncomplete()
    for step, role in enumerate(push.chain_roles[1:], start=1):
        if not any(a.step == step and a.role == role for a in approved):
            raise ChainIncomplete()
    approved_roles = {a.role for a in approved}
    required_now = resolve_chain(push.unit, push.target_kind)[1:]
    if not set(required_now) <= approved_roles:
        raise ChainIncomplete()
