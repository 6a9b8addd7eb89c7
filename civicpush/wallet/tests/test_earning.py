"""Earning: bonuses once, referral once, manual grants never self-approved, red envelopes first come."""

from __future__ import annotations

import contextlib
import datetime
from typing import Any

import pytest
from django.utils import timezone

from civicpush.citizens import services as citizen_services
from civicpush.coins.models import Transfer
from civicpush.core.errors import Conflict, PermissionDenied, ValidationFailed
from civicpush.wallet import earning, selectors
from civicpush.wallet.models import GrantStatus, RedEnvelopeClaim

from .helpers import all_rules, citizen, period, reserved_budget

pytestmark = pytest.mark.django_db


@pytest.fixture
def funds(org: Any) -> Any:
    unit = org.unit("prevention")
    budget = reserved_budget(unit, reserved=1_000_000)
    per = period(unit, "late", days=300)
    return budget, per


def test_the_sign_up_bonus_is_given_once(org: Any, funds: Any, django_capture_on_commit_callbacks: Any) -> None:
    all_rules(*funds)
    with django_capture_on_commit_callbacks(execute=True):
        person = citizen()
    assert selectors.wallet_balance(person) == 100
    again = earning.grant_sign_up_bonus(person)
    assert again is not None and again.replayed
    assert selectors.wallet_balance(person) == 100
    assert Transfer.objects.filter(key=f"signup:{person.pk}").count() == 1


def test_the_profile_bonus_comes_once_when_the_profile_is_complete(
    org: Any, funds: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from civicpush.citizens.models import Township

    all_rules(*funds)
    person = citizen()
    township = Township.objects.first()
    with django_capture_on_commit_callbacks(execute=True):
        citizen_services.do_update_profile(person, display_name="小明")
    assert selectors.wallet_balance(person) == 0
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            citizen_services.do_update_profile(person, display_name="小明", township_id=township.pk, birth_year=1990)
    assert selectors.wallet_balance(person) == 50


def test_no_rule_means_no_bonus(org: Any) -> None:
    assert earning.grant_sign_up_bonus(citizen()) is None


def test_a_referral_rewards_both_once(org: Any, funds: Any) -> None:
    all_rules(*funds)
    friend, newcomer = citizen(), citizen()
    code = earning.referral_code_for(friend)
    assert earning.referral_code_for(friend) == code
    earning.do_apply_referral(newcomer, code.lower())
    with pytest.raises(Conflict):
        earning.do_apply_referral(newcomer, code)
    with pytest.raises(ValidationFailed):
        earning.do_apply_referral(friend, code)  # one's own code
    assert selectors.wallet_balance(friend) == 30
    assert selectors.wallet_balance(newcomer) == 30


def test_a_manual_grant_is_never_approved_by_its_proposer(org: Any, funds: Any) -> None:
    budget, per = funds
    person = citizen("+886912777888")
    drafter, head = org.user("prevention.drafter"), org.user("prevention.head")
    grant = earning.do_propose_grant(drafter, org.unit("prevention"), budget, per, "0912-777-888", "200", "協助救災")
    with pytest.raises(PermissionDenied):
        earning.do_approve_grant(drafter, grant)
    own = earning.do_propose_grant(head, org.unit("prevention"), budget, per, "0912777888", 100, "志工服務")
    with pytest.raises(PermissionDenied):
        earning.do_approve_grant(head, own)
    grant = earning.do_approve_grant(head, grant)
    assert grant.status == GrantStatus.ISSUED
    assert selectors.wallet_balance(person) == 200
    with pytest.raises(Conflict):
        earning.do_approve_grant(head, grant)
    assert selectors.wallet_balance(person) == 200


def _envelope(org: Any, funds: Any, **kw: Any) -> Any:
    budget, per = funds
    now = timezone.now()
    values: dict[str, Any] = {
        "title": "新春紅包",
        "max_claims": 3,
        "opens_at": now - datetime.timedelta(minutes=1),
        "closes_at": now + datetime.timedelta(days=3),
    }
    values.update(kw)
    total = values.pop("total_coins", 300)
    return earning.do_create_red_envelope(
        org.user("prevention.drafter"), org.unit("prevention"), budget, per, None, total, **values
    )


def test_a_red_envelope_pays_each_citizen_once_up_to_its_claims(org: Any, funds: Any) -> None:
    envelope = _envelope(org, funds, fixed_amount=100)
    people = [citizen() for _ in range(4)]
    for p in people[:3]:
        assert earning.do_claim_red_envelope(p, envelope).amount == 100
    with pytest.raises(Conflict):
        earning.do_claim_red_envelope(people[0], envelope)
    with pytest.raises(Conflict):
        earning.do_claim_red_envelope(people[3], envelope)
    assert [selectors.wallet_balance(p) for p in people] == [100, 100, 100, 0]
    assert earning.open_envelopes_for(people[3]) == []


def test_random_red_envelopes_never_pay_more_than_the_total(org: Any, funds: Any) -> None:
    envelope = _envelope(org, funds, total_coins=100, min_amount=10, max_amount=60, max_claims=5)
    people = [citizen() for _ in range(6)]
    paid = []
    for p in people:
        with contextlib.suppress(Conflict):
            paid.append(earning.do_claim_red_envelope(p, envelope).amount)
    assert sum(paid) <= 100 and len(paid) <= 5
    assert all(a >= 1 for a in paid)
    assert RedEnvelopeClaim.objects.count() == len(paid)
