"""Builders for questionnaire tests: the seed's quiz on a push, the whole sign-off, sending."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
from civicpush.org.models import Unit
from civicpush.pushes import dispatching
from civicpush.pushes import services as push_services
from civicpush.pushes.chains import ensure_default_chains, next_step
from civicpush.pushes.models import CountyPushPolicy, Push, PushType, ScheduleKind, TargetKind
from civicpush.surveys import services
from civicpush.surveys.models import Survey

DRAFTER = "prevention.drafter"
APPROVERS = {
    "push_liaison": "fire.liaison",
    "secretary": "fire.secretary",
    "deputy_director": "fire.deputy",
    "director": "fire.director",
}
# Seed 000's examples (推播審核表, 問卷內容).
Q1 = {
    "kind": "single",
    "text": "請問下列那一項是安全開車門的行為?",
    "options": ["轉頭開車門往後看", "大聲鳴按喇叭"],
    "correct": "1",
}
Q2 = {
    "kind": "multiple",
    "text": "請問下列何者為台東地名?",
    "options": ["關山鎮", "池上鄉", "富里鄉"],
    "correct": "1、2",
}
Q_SCALE = {"kind": "scale", "text": "您對本次宣導的滿意度?", "coins": 0}
Q_TEXT = {"kind": "text", "text": "其他建議", "coins": 0, "required": False}


def reserved_budget(unit: Unit, reserved: int = 100_000) -> Budget:
    return Budget.objects.create(
        county_id=unit.county_id,
        unit=unit,
        year=timezone.localdate().year,
        requested_amount=reserved,
        reserved_amount=reserved,
        status=BudgetStatus.RESERVED,
        issue_deadline=timezone.localdate() + datetime.timedelta(days=60),
    )


def coin_period(unit: Unit, code: str = "P1", days: int = 300) -> ExpiryPeriod:
    return ExpiryPeriod.objects.create(
        county_id=unit.county_id, code=code, name=code, expires_at=timezone.now() + datetime.timedelta(days=days)
    )


def quiz_push(
    org: Any,
    *,
    quota: int | None = 300,
    questions: list[dict[str, Any]] | None = None,
    body: str | None = None,
    anonymous: bool = False,
    allow_retry: bool = True,
    title: str = "[防火]行車安全小測驗",
    unit_code: str = "prevention",
) -> tuple[Push, Survey]:
    """A draft questionnaire push (to everyone) with the seed's two quiz questions: 20 coins."""
    drafter = org.user(DRAFTER)
    unit = org.unit(unit_code)
    push = push_services.do_create_draft(
        drafter,
        unit,
        push_type=PushType.QUESTIONNAIRE,
        title=title,
        body=body if body is not None else f"答對兩題可獲得金幣20枚(限制前{quota}位用戶領取)",
        planned_date=timezone.localdate(),
        target_kind=TargetKind.EVERYONE,
    )
    now = timezone.now()
    survey = services.do_configure_survey(
        drafter,
        push,
        opens_at=now - datetime.timedelta(hours=1),
        closes_at=now + datetime.timedelta(days=7),
        quota=quota,
        anonymous=anonymous,
        allow_retry=allow_retry,
    )
    for q in questions if questions is not None else [Q1, Q2]:
        services.do_add_question(drafter, survey, q)
    push.refresh_from_db()
    survey.refresh_from_db()
    return push, survey


def approve(org: Any, push: Push) -> Push:
    """Submit and sign every step of the chain."""
    ensure_default_chains(push.county)
    push_services.do_submit(org.user(DRAFTER), push)
    push.refresh_from_db()
    while (step := next_step(push)) is not None:
        role = push.chain_roles[step]
        push_services.do_decide(org.user(APPROVERS.get(role, f"{push.unit.code}.head")), push, "approved")
        push.refresh_from_db()
    return push


def send(org: Any, push: Push) -> Push:
    """Schedule now and dispatch (no quiet hours), so that citizens who signed up earlier see it."""
    at = timezone.now() - datetime.timedelta(minutes=5)
    midnight = datetime.time(0, 0)
    CountyPushPolicy.objects.update_or_create(
        county=push.county, defaults={"quiet_start": midnight, "quiet_end": midnight}
    )
    push_services.do_schedule(org.user(DRAFTER), push, ScheduleKind.NOW, now=at)
    dispatching.dispatch_due(at)
    push.refresh_from_db()
    return push


def right_answers(survey: Survey) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for q in services.questions_of(survey):
        if q.kind in ("single", "multiple"):
            correct = [str(c.pk) for c in q.choices.all() if c.is_correct] or [str(q.choices.all()[0].pk)]
            out[f"q{q.pk}"] = correct
        elif q.kind in ("scale", "rating"):
            out[f"q{q.pk}"] = ["5"]
        else:
            out[f"q{q.pk}"] = ["很好"]
    return out


def wrong_answers(survey: Survey) -> dict[str, list[str]]:
    out = right_answers(survey)
    for q in services.questions_of(survey):
        if q.kind == "single" and any(c.is_correct for c in q.choices.all()):
            out[f"q{q.pk}"] = [str(c.pk) for c in q.choices.all() if not c.is_correct][:1]
    return out


def with_profile(citizen: Any, **fields: Any) -> Any:
    """Give a signed-up citizen a profile (township, birth_year, gender …), as the profile form does."""
    from civicpush.citizens.models import CitizenProfile, ConsentRecord

    consent = ConsentRecord.objects.filter(citizen=citizen).latest("accepted_at")
    CitizenProfile.objects.update_or_create(citizen=citizen, defaults={"consent": consent, **fields})
    return citizen
