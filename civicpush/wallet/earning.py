"""How citizens earn coins: `award` (the API questionnaires and events call), the sign-up,
profile-completion and referral bonuses, red envelopes (紅包) and manually approved grants.

Every coin is issued through ledger.issue, which names the budget it came from and refuses beyond
the budget's reservation or after its issue deadline. Idempotency keys make every grant once-only.
"""

from __future__ import annotations

import datetime
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.audiences.models import Group
from civicpush.audiences.selectors import current_member_ids
from civicpush.citizens.models import Citizen, CitizenProfile, CitizenStatus
from civicpush.citizens.phone import normalise_mobile
from civicpush.citizens.selectors import active_citizen_by_mobile
from civicpush.coins import ledger
from civicpush.coins.models import Budget, ExpiryPeriod
from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from civicpush.org.models import StaffUser, Unit
from civicpush.org.permissions import require, roles_on
from civicpush.org.roles import Capability, Role

from .models import (
    EarningKind,
    EarningRule,
    GrantStatus,
    ManualGrant,
    RedEnvelope,
    RedEnvelopeClaim,
    Referral,
    ReferralCode,
)

REFERRAL_WINDOW_DAYS = 30  # a new citizen may enter a friend's code within 30 days of signing up
REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def award(
    *,
    key: str,
    budget: Budget,
    citizen: Citizen,
    amount: int,
    period: ExpiryPeriod,
    reason: str,
    actor: Any = None,
    metadata: dict[str, Any] | None = None,
) -> ledger.TransferResult:
    """Issue `amount` new coins from `budget` into the citizen's wallet, once per `key`.

    `reason` is a short code shown to the citizen in plain language (see selectors.reason_texts:
    "survey", "quiz", "event", ...). A retry with the same key returns the first result.
    """
    if citizen is None or citizen.status != CitizenStatus.ACTIVE:
        raise ValidationFailed(_("This citizen's account is not active."), code="citizen_inactive")
    return ledger.issue(
        key=key,
        budget=budget,
        credit=ledger.wallet_of(citizen),
        amount=int(amount),
        period=period,
        reason=reason,
        actor=actor,
        metadata={"reason": reason, **(metadata or {})},
    )


# --- bonuses --------------------------------------------------------------------------------------


def _rule(citizen: Citizen, kind: str) -> EarningRule | None:
    return (
        EarningRule.objects.filter(county_id=citizen.county_id, kind=kind, is_active=True)
        .select_related("budget", "period")
        .first()
    )


def _grant_rule(citizen: Citizen, kind: str, key: str, reason: str) -> ledger.TransferResult | None:
    rule = _rule(citizen, kind)
    if rule is None or rule.amount <= 0:
        return None
    return award(key=key, budget=rule.budget, citizen=citizen, amount=rule.amount, period=rule.period, reason=reason)


def grant_sign_up_bonus(citizen: Citizen) -> ledger.TransferResult | None:
    """The county's sign-up bonus, once per citizen (key signup:<pk>); None when no rule is active."""
    return _grant_rule(citizen, EarningKind.SIGN_UP, f"signup:{citizen.pk}", "signup")


def profile_is_complete(profile: CitizenProfile) -> bool:
    return bool(profile.township_id and profile.birth_year and profile.display_name)


def grant_profile_completion_bonus(citizen: Citizen) -> ledger.TransferResult | None:
    """Once the profile names a township, birth year and display name: the bonus, once (profile:<pk>)."""
    profile = CitizenProfile.objects.filter(citizen=citizen).first()
    if profile is None or not profile_is_complete(profile):
        return None
    return _grant_rule(citizen, EarningKind.PROFILE, f"profile:{citizen.pk}", "profile")


@transaction.atomic
def do_set_earning_rule(
    actor: Any, unit: Unit, kind: str, amount: int, budget: Budget, period: ExpiryPeriod, is_active: bool = True
) -> EarningRule:
    """The county operator sets a bonus (CONFIGURE_COUNTY); its budget must be a reserved unit budget."""
    require(actor, Capability.CONFIGURE_COUNTY, unit)
    if kind not in EarningKind.values:
        raise ValidationFailed(field_errors={"kind": [_("Choose one of the options.")]})
    if int(amount) < 0:
        raise ValidationFailed(field_errors={"amount": [_("Enter a whole number of coins greater than zero.")]})
    if budget.county_id != unit.county_id:
        raise NotFound()
    rule, _created = EarningRule.objects.update_or_create(
        county_id=unit.county_id,
        kind=kind,
        defaults={"amount": int(amount), "budget": budget, "period": period, "is_active": is_active},
    )
    log_action(
        "wallet.earning_rule.set",
        actor=actor,
        obj=rule,
        unit_id=budget.unit_id,
        county_id=unit.county_id,
        data={"kind": kind, "amount": int(amount), "budget": budget.pk, "period": period.pk, "active": is_active},
    )
    return rule


# --- referrals ------------------------------------------------------------------------------------


def referral_code_for(citizen: Citizen) -> str:
    """The citizen's own referral code (made on first use)."""
    existing = ReferralCode.objects.filter(citizen=citizen).values_list("code", flat=True).first()
    if existing:
        return existing
    for _attempt in range(10):
        code = "".join(secrets.choice(REFERRAL_ALPHABET) for _i in range(8))
        try:
            with transaction.atomic():
                row, _created = ReferralCode.objects.get_or_create(citizen=citizen, defaults={"code": code})
            return row.code
        except IntegrityError:
            continue
    raise Conflict()


def do_apply_referral(citizen: Citizen, code: str, *, now: datetime.datetime | None = None) -> Referral:
    """A new citizen enters a friend's code: both get the referral bonus, once (a citizen is referred
    once; keys referral:<referred pk>:new and :referrer)."""
    if citizen is None or not citizen.is_active:
        raise PermissionDenied()
    now = now or timezone.now()
    code = (code or "").strip().upper().replace("-", "").replace(" ", "")
    owner = ReferralCode.objects.filter(code=code).select_related("citizen").first() if code else None
    if owner is None or owner.citizen.status != CitizenStatus.ACTIVE:
        message = _("This referral code is not valid.")
        raise ValidationFailed(message, field_errors={"code": [message]})
    if owner.citizen_id == citizen.pk:
        message = _("You cannot use your own referral code.")
        raise ValidationFailed(message, field_errors={"code": [message]})
    if citizen.created_at < now - datetime.timedelta(days=REFERRAL_WINDOW_DAYS):
        message = _("A referral code can only be entered within %(days)s days of signing up.") % {
            "days": REFERRAL_WINDOW_DAYS
        }
        raise ValidationFailed(message, field_errors={"code": [message]})
    with transaction.atomic():
        try:
            with transaction.atomic():
                referral = Referral.objects.create(referred=citizen, referrer=owner.citizen)
        except IntegrityError as exc:
            raise Conflict(_("You have already entered a referral code."), code="already_referred") from exc
        _grant_rule(citizen, EarningKind.REFERRAL, f"referral:{citizen.pk}:new", "referred")
        _grant_rule(owner.citizen, EarningKind.REFERRAL, f"referral:{citizen.pk}:referrer", "referral")
    return referral


# --- red envelopes --------------------------------------------------------------------------------


def _positive(value: Any, field: str, errors: dict[str, list[Any]]) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0:
        errors[field] = [_("Enter a whole number of coins greater than zero.")]
        return None
    return number


@transaction.atomic
def do_create_red_envelope(
    actor: Any,
    unit: Unit,
    budget: Budget,
    period: ExpiryPeriod,
    group: Group | None,
    total_coins: Any,
    *,
    title: str,
    fixed_amount: Any = None,
    min_amount: Any = None,
    max_amount: Any = None,
    max_claims: Any,
    opens_at: datetime.datetime,
    closes_at: datetime.datetime,
    greeting: str = "",
) -> RedEnvelope:
    """A red-envelope campaign for a group (None: everyone) from `unit`'s reserved budget: a fixed
    amount per claim, or a random amount in [min, max]. MANAGE_BUDGET on the unit."""
    require(actor, Capability.MANAGE_BUDGET, unit)
    errors: dict[str, list[Any]] = {}
    title = (title or "").strip()
    if not title or len(title) > 100:
        errors["title"] = [_("Enter a title of at most 100 characters.")]
    total = _positive(total_coins, "total_coins", errors)
    claims = _positive(max_claims, "max_claims", errors)
    fixed = _positive(fixed_amount, "fixed_amount", errors)
    low = _positive(min_amount, "min_amount", errors)
    high = _positive(max_amount, "max_amount", errors)
    if total is None and "total_coins" not in errors:
        errors["total_coins"] = [_("Enter a whole number of coins greater than zero.")]
    if claims is None and "max_claims" not in errors:
        errors["max_claims"] = [_("Enter a whole number of coins greater than zero.")]
    if fixed is None and (low is None or high is None) and not errors:
        errors["fixed_amount"] = [_("Give a fixed amount per claim, or a lowest and a highest amount.")]
    if fixed is not None and (low is not None or high is not None):
        errors["fixed_amount"] = [_("Give a fixed amount per claim, or a lowest and a highest amount.")]
    if low is not None and high is not None and low > high:
        errors["max_amount"] = [_("The highest amount must not be below the lowest.")]
    if not (opens_at and closes_at and closes_at > opens_at):
        errors["closes_at"] = [_("The envelope must close after it opens.")]
    if budget.unit_id != unit.pk:
        errors["budget"] = [_("Choose a budget of this unit.")]
    elif budget.status != "reserved":
        errors["budget"] = [_("Choose a reserved budget.")]
    if group is not None and group.unit_id != unit.pk:
        from civicpush.audiences.selectors import groups_usable_by

        if not groups_usable_by(unit).filter(pk=group.pk).exists():
            errors["group"] = [_("Choose a group this unit may use.")]
    if errors:
        raise ValidationFailed(field_errors=errors)
    assert total is not None and claims is not None
    envelope = RedEnvelope.objects.create(
        county=unit.county,
        unit=unit,
        budget=budget,
        period=period,
        group=group,
        title=title,
        greeting=(greeting or "").strip()[:200],
        total_coins=total,
        fixed_amount=fixed,
        min_amount=low,
        max_amount=high,
        max_claims=claims,
        opens_at=opens_at,
        closes_at=closes_at,
        created_by=actor,
    )
    log_action(
        "wallet.red_envelope.created",
        actor=actor,
        obj=envelope,
        data={
            "budget": budget.pk,
            "group": group.pk if group else None,
            "total_coins": total,
            "fixed_amount": fixed,
            "min_amount": low,
            "max_amount": high,
            "max_claims": claims,
            "opens_at": opens_at,
            "closes_at": closes_at,
        },
    )
    return envelope


def is_eligible(envelope: RedEnvelope, citizen: Citizen) -> bool:
    if envelope.county_id != citizen.county_id or not citizen.is_active:
        return False
    if envelope.group_id is None:
        return True
    group = Group.objects.get(pk=envelope.group_id)
    return Citizen.objects.filter(pk=citizen.pk, pk__in=current_member_ids(group)).exists()


def _draw(envelope: RedEnvelope) -> int:
    left_coins = envelope.total_coins - envelope.claimed_coins
    if envelope.fixed_amount is not None:
        return envelope.fixed_amount
    assert envelope.min_amount is not None and envelope.max_amount is not None
    low, high = envelope.min_amount, envelope.max_amount
    left_claims = envelope.max_claims - envelope.claims_count
    # Leave at least the minimum for each claim still to come, so the last claimants get something.
    high = min(high, left_coins - low * (left_claims - 1)) if left_claims > 1 else min(high, left_coins)
    if high < low:
        return min(low, left_coins)
    return low + secrets.randbelow(high - low + 1)


def do_claim_red_envelope(
    citizen: Citizen, envelope: RedEnvelope, *, now: datetime.datetime | None = None
) -> RedEnvelopeClaim:
    """First come: a claim takes the envelope's row lock, so claims never pass max_claims or
    total_coins; each citizen claims once (unique constraint). The coins are issued in the same
    transaction, so a refused issue leaves no claim behind."""
    if citizen is None or not citizen.is_active:
        raise PermissionDenied()
    now = now or timezone.now()
    if not is_eligible(envelope, citizen):
        raise NotFound(_("This red envelope is not for you."), code="envelope_not_eligible")
    with transaction.atomic():
        env = RedEnvelope.objects.select_for_update().get(pk=envelope.pk)
        if now < env.opens_at:
            raise Conflict(_("This red envelope is not open yet."), code="envelope_not_open")
        if now >= env.closes_at:
            raise Conflict(_("This red envelope has closed."), code="envelope_closed")
        existing = RedEnvelopeClaim.objects.filter(envelope=env, citizen=citizen).first()
        if existing is not None:
            raise Conflict(_("You have already opened this red envelope."), code="envelope_claimed")
        left_coins = env.total_coins - env.claimed_coins
        if env.claims_count >= env.max_claims or left_coins <= 0:
            raise Conflict(_("Sorry, all the red envelopes have been taken."), code="envelope_empty")
        amount = min(_draw(env), left_coins)
        if amount <= 0:
            raise Conflict(_("Sorry, all the red envelopes have been taken."), code="envelope_empty")
        claim = RedEnvelopeClaim.objects.create(envelope=env, citizen=citizen, amount=amount, created_at=now)
        env.claims_count += 1
        env.claimed_coins += amount
        env.save(update_fields=["claims_count", "claimed_coins"])
        result = award(
            key=f"red_envelope:{env.pk}:{citizen.pk}",
            budget=env.budget,
            citizen=citizen,
            amount=amount,
            period=env.period,
            reason="red_envelope",
            metadata={"red_envelope": env.pk},
        )
        claim.ledger_transfer_id = result.transfer_id
        claim.save(update_fields=["ledger_transfer_id"])
    return claim


def open_envelopes_for(citizen: Citizen, now: datetime.datetime | None = None) -> list[RedEnvelope]:
    """Envelopes open now that the citizen may claim and has not claimed (for the wallet page)."""
    now = now or timezone.now()
    envelopes = RedEnvelope.objects.filter(county_id=citizen.county_id, opens_at__lte=now, closes_at__gt=now).exclude(
        claims__citizen=citizen
    )
    return [
        e
        for e in envelopes
        if e.claims_count < e.max_claims and e.claimed_coins < e.total_coins and is_eligible(e, citizen)
    ]


# --- manual grants --------------------------------------------------------------------------------


@transaction.atomic
def do_propose_grant(
    actor: Any, unit: Unit, budget: Budget, period: ExpiryPeriod, phone_raw: str, amount: Any, reason: str
) -> ManualGrant:
    """A drafter proposes coins for one citizen (by mobile number) with a reason. MANAGE_BUDGET."""
    require(actor, Capability.MANAGE_BUDGET, unit)
    errors: dict[str, list[Any]] = {}
    coins = _positive(amount, "amount", errors)
    if coins is None and "amount" not in errors:
        errors["amount"] = [_("Enter a whole number of coins greater than zero.")]
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        errors["reason"] = [_("Give a reason of at most 200 characters.")]
    if budget.unit_id != unit.pk:
        errors["budget"] = [_("Choose a budget of this unit.")]
    citizen: Citizen | None = None
    try:
        phone = normalise_mobile(phone_raw)
    except ValidationFailed as exc:
        errors["phone"] = list(exc.field_errors.get("phone", [exc.message]))
    else:
        citizen = active_citizen_by_mobile(phone, county_id=unit.county_id)
        if citizen is None:
            errors["phone"] = [_("No CivicPush member has this mobile number.")]
    if errors:
        raise ValidationFailed(field_errors=errors)
    assert citizen is not None and coins is not None
    grant = ManualGrant.objects.create(
        county=unit.county,
        unit=unit,
        budget=budget,
        period=period,
        citizen=citizen,
        amount=coins,
        reason=reason,
        proposed_by=actor,
        proposed_at=timezone.now(),
    )
    log_action(
        "wallet.grant.proposed",
        actor=actor,
        obj=grant,
        object_repr=f"grant {grant.pk}",
        data={"citizen": str(citizen.pseudonym), "amount": coins, "reason": reason, "budget": budget.pk},
    )
    return grant


def _decide_grant(actor: StaffUser, grant: ManualGrant, approve: bool) -> ManualGrant:
    grant = (
        ManualGrant.objects.select_for_update().select_related("unit", "budget", "period", "citizen").get(pk=grant.pk)
    )
    require(actor, Capability.VIEW_UNIT, grant.unit)
    if Role.UNIT_HEAD not in roles_on(actor, grant.unit):  # the unit head (科長/單位主管) signs
        raise PermissionDenied(_("Only the unit head can approve a grant."), code="not_unit_head")
    if grant.proposed_by_id == actor.pk:
        raise PermissionDenied(_("You proposed this grant, so someone else must approve it."), code="own_proposal")
    if grant.status != GrantStatus.PROPOSED:
        raise Conflict(_("This grant has already been decided."), code="grant_decided")
    grant.decided_by = actor
    grant.decided_at = timezone.now()
    if approve:
        result = award(
            key=f"grant:{grant.pk}",
            budget=grant.budget,
            citizen=grant.citizen,
            amount=grant.amount,
            period=grant.period,
            reason="grant",
            actor=actor,
            metadata={"grant": grant.pk},
        )
        grant.ledger_transfer_id = result.transfer_id
        grant.status = GrantStatus.ISSUED
    else:
        grant.status = GrantStatus.REJECTED
    grant.save(update_fields=["decided_by", "decided_at", "status", "ledger_transfer_id"])
    log_action(
        "wallet.grant.approved" if approve else "wallet.grant.rejected",
        actor=actor,
        obj=grant,
        object_repr=f"grant {grant.pk}",
        data={"amount": grant.amount, "transfer": grant.ledger_transfer_id},
    )
    return grant


@transaction.atomic
def do_approve_grant(actor: StaffUser, grant: ManualGrant) -> ManualGrant:
    """The unit head approves (never the proposer); the coins are issued at once from the budget."""
    return _decide_grant(actor, grant, True)


@transaction.atomic
def do_reject_grant(actor: StaffUser, grant: ManualGrant) -> ManualGrant:
    return _decide_grant(actor, grant, False)
