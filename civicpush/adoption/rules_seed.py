"""The rules shipped with an agency: seed 000 §8 (in force) and examples in the style of seed 004
(bands on counts, hours and rates; shipped *not* in force — the administration section decides)."""

from __future__ import annotations

from decimal import Decimal

from civicpush.org.models import Agency

from .models import AwardRule, Fact, Outcome, Recipient

SEED_000 = "臺東縣消防局TTPush雲端推播系統執行計畫 第8點"
SEED_004 = "消防專業人員平時考核獎懲標準表（範例）"

# (name, fact, threshold, upper, at_most, recipient, outcome, basis, in force)
DEFAULT_RULES: list[tuple[str, str, str, str | None, bool, str, str, str, bool]] = [
    (
        "單位同仁下載使用達成率達90%",
        Fact.UNIT_STAFF_RATE,
        "90",
        None,
        False,
        Recipient.DRAFTER,
        Outcome.COMMENDATION_1,
        SEED_000 + "(1)",
        True,
    ),
    (
        "志工團體下載使用達成率達90%（承辦人）",
        Fact.VOLUNTEER_GROUP_RATE,
        "90",
        None,
        False,
        Recipient.DRAFTER,
        Outcome.COMMENDATION_2,
        SEED_000 + "(2)",
        True,
    ),
    (
        "志工團體下載使用達成率達90%（單位主管）",
        Fact.VOLUNTEER_GROUP_RATE,
        "90",
        None,
        False,
        Recipient.UNIT_HEAD,
        Outcome.COMMENDATION_1,
        SEED_000 + "(2)",
        True,
    ),
    (
        "推播未經單位主管審核即發布",
        Fact.PUSH_WITHOUT_SIGNOFF,
        "1",
        None,
        False,
        Recipient.PUSH_DRAFTER,
        Outcome.REVIEW,
        SEED_000 + "(4)",
        True,
    ),
    (
        "案件如期辦結率達90%以上",
        Fact.CASES_ON_TIME_RATE,
        "90",
        None,
        False,
        Recipient.DRAFTER,
        Outcome.COMMENDATION_2,
        SEED_004,
        False,
    ),
    (
        "案件如期辦結率達70%以上，未滿90%",
        Fact.CASES_ON_TIME_RATE,
        "70",
        "90",
        False,
        Recipient.DRAFTER,
        Outcome.COMMENDATION_1,
        SEED_004,
        False,
    ),
    (
        "期間辦結案件達100件以上",
        Fact.CASES_CLOSED,
        "100",
        None,
        False,
        Recipient.DRAFTER,
        Outcome.COMMENDATION_1,
        SEED_004,
        False,
    ),
    (
        "收件後平均24小時內回報進度",
        Fact.CASE_FIRST_RESPONSE_HOURS,
        "24",
        None,
        True,
        Recipient.DRAFTER,
        Outcome.COMMENDATION_1,
        SEED_004,
        False,
    ),
]


def ensure_default_rules(agency: Agency) -> int:
    """Create the default rules of an agency that has none; returns how many were created."""
    if AwardRule.objects.filter(agency=agency).exists():
        return 0
    AwardRule.objects.bulk_create(
        AwardRule(
            agency=agency,
            name=name,
            fact=fact,
            threshold=Decimal(low),
            upper=Decimal(high) if high else None,
            at_most=at_most,
            recipient=recipient,
            outcome=outcome,
            basis=basis,
            is_active=active,
            sort_order=i,
        )
        for i, (name, fact, low, high, at_most, recipient, outcome, basis, active) in enumerate(DEFAULT_RULES)
    )
    return len(DEFAULT_RULES)
