"""Demo questionnaires for `manage.py load_demo`: the seed's quiz (funded from a demo budget of 預防科,
open now, so a demo citizen can answer it and see the coins), and two runs of a satisfaction survey
without coins (the first closed), answered by demo citizens so the results, cross-tabs and the
trend have something to show (satisfaction 90.8% then 94.4%, as seed 002 reports).

Everything goes through the real services with the demo staff. The demo answers earn no coins, so no
demo citizen gets a wallet (`load_demo --reset` removes citizens, and ledger rows are never deleted).
"""

from __future__ import annotations

import datetime
import random
from typing import Any

from django.utils import timezone

from civicpush.citizens.models import Citizen, CitizenProfile
from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
from civicpush.pushes import dispatching
from civicpush.pushes import services as push_services
from civicpush.pushes.chains import ensure_default_chains, next_step
from civicpush.pushes.models import PushType, ScheduleKind, TargetKind

from . import services
from .models import Survey

QUIZ_TITLE = "[防火]行車安全小測驗"
SURVEY_TITLE = "[服務]防火宣導滿意度調查"
DEMO_SEED = 20261122
APPROVERS = {
    "push_liaison": "fire.liaison",
    "secretary": "fire.secretary",
    "deputy_director": "fire.deputy",
    "director": "fire.director",
}


def demo_surveys_exist(county: Any) -> bool:
    return Survey.objects.filter(county=county, push__title__in=["行車安全小測驗", "防火宣導滿意度調查"]).exists()


def _budget(unit: Any, now: datetime.datetime) -> Budget:
    year = timezone.localtime(now).year
    budget, _created = Budget.objects.get_or_create(
        unit=unit,
        year=year,
        defaults={
            "county": unit.county,
            "requested_amount": 200_000,
            "reserved_amount": 200_000,
            "status": BudgetStatus.RESERVED,
            "issue_deadline": datetime.date(year, 12, 31),
            "note": "示範預算（demo）",
        },
    )
    return budget


def _period(county: Any, now: datetime.datetime) -> ExpiryPeriod:
    year = timezone.localtime(now).year + 1
    period, _created = ExpiryPeriod.objects.get_or_create(
        county=county,
        code=f"demo-{year}",
        defaults={
            "name": f"{year - 1911} 年度金幣（示範）",
            "expires_at": datetime.datetime(year, 12, 31, 23, 59, tzinfo=datetime.UTC),
        },
    )
    return period


def _sign_off_and_send(demo: Any, push: Any, at: datetime.datetime) -> None:
    push_services.do_submit(demo.user("prevention.drafter"), push)
    push.refresh_from_db()
    while (step := next_step(push)) is not None:
        role = push.chain_roles[step]
        push_services.do_decide(demo.user(APPROVERS.get(role, "prevention.head")), push, "approved")
        push.refresh_from_db()
    push_services.do_schedule(demo.user("prevention.drafter"), push, ScheduleKind.NOW, now=at)
    dispatching.dispatch_due(at)


def _draft(demo: Any, title: str, body: str) -> Any:
    return push_services.do_create_draft(
        demo.user("prevention.drafter"),
        demo.unit("prevention"),
        push_type=PushType.QUESTIONNAIRE,
        title=title,
        body=body,
        planned_date=timezone.localdate(),
        target_kind=TargetKind.EVERYONE,
        contact_name="王小明",
        contact_phone="089-322112",
    )


SATISFACTION = [
    {"kind": "scale", "text": "您對本次防火宣導內容的滿意度?", "coins": 0},
    {
        "kind": "single",
        "text": "您是從哪裡得知本次宣導?",
        "options": ["TTPush 推播", "里長廣播", "親友告知"],
        "coins": 0,
    },
    {"kind": "rating", "text": "請為講師的表現評分", "coins": 0},
    {"kind": "text", "text": "其他建議", "coins": 0, "required": False},
]
SUGGESTIONS = ["希望多辦幾場", "資料字體可以再大一點", "講解很清楚，謝謝", "希望有線上課程", "場地停車不便"]


def _answer_all(survey: Survey, citizens: list[Citizen], rate: float, rng: random.Random, now: Any) -> int:
    questions = services.questions_of(survey)
    satisfied = round(len(citizens) * rate)
    scores = [rng.choice([4, 5]) for _ in range(satisfied)] + [
        rng.choice([1, 2, 3]) for _ in range(len(citizens) - satisfied)
    ]
    rng.shuffle(scores)
    for i, (citizen, score) in enumerate(zip(citizens, scores, strict=True)):
        data: dict[str, list[str]] = {}
        for q in questions:
            if q.kind == "scale":
                data[f"q{q.pk}"] = [str(score)]
            elif q.kind == "single":
                choices = list(q.choices.all())
                data[f"q{q.pk}"] = [str(rng.choices(choices, weights=[6, 3, 1])[0].pk)]
            elif q.kind == "rating":
                data[f"q{q.pk}"] = [str(min(5, max(1, score + rng.choice([-1, 0, 0, 1]))))]
            elif rng.random() < 0.25:
                data[f"q{q.pk}"] = [rng.choice(SUGGESTIONS)]
        services.do_answer(citizen, survey, data, f"demo-{survey.pk}-{i:04d}-answer", now=now)
    return len(citizens)


def load_demo_surveys(demo: Any, now: datetime.datetime | None = None) -> str:
    """The demo quiz and satisfaction surveys (assumes none exist yet). Returns a status line."""
    now = now or timezone.now()
    county = demo.county
    ensure_default_chains(county)
    unit = demo.unit("prevention")
    budget = _budget(unit, now)
    period = _period(county, now)
    drafter = demo.user("prevention.drafter")
    sent_at = now - datetime.timedelta(minutes=10)

    # 1. The seed's quiz: 2 questions × 10 coins, first 300 respondents, funded at approval.
    quiz = _draft(demo, QUIZ_TITLE, "答對兩題可獲得金幣20枚(限制前300位用戶領取)，答錯可再試一次。")
    survey = services.do_configure_survey(
        drafter, quiz, opens_at=now - datetime.timedelta(hours=1), closes_at=now + datetime.timedelta(days=14),
        quota=300, budget_id=budget.pk, period_id=period.pk,
    )  # fmt: skip
    services.do_add_question(
        drafter, survey,
        {"kind": "single", "text": "請問下列那一項是安全開車門的行為?", "options": ["轉頭開車門往後看", "大聲鳴按喇叭"],
         "correct": "1"},
    )  # fmt: skip
    services.do_add_question(
        drafter, survey,
        {"kind": "multiple", "text": "請問下列何者為台東地名?", "options": ["關山鎮", "池上鄉", "富里鄉"],
         "correct": "1、2"},
    )  # fmt: skip
    quiz.refresh_from_db()
    _sign_off_and_send(demo, quiz, sent_at)

    # 2. Two runs of a satisfaction survey without coins, answered by demo citizens with a profile.
    rng = random.Random(DEMO_SEED)
    with_profile = CitizenProfile.objects.filter(citizen__county=county, citizen__created_at__lt=sent_at).values_list(
        "citizen_id", flat=True
    )
    ids = sorted(with_profile[:400])
    rng.shuffle(ids)
    people = list(Citizen.objects.filter(pk__in=ids))
    by_id = {c.pk: c for c in people}
    ordered = [by_id[i] for i in ids if i in by_id]
    first = _draft(demo, SURVEY_TITLE, "請花一分鐘填寫本次防火宣導滿意度調查，協助我們改進。")
    run1 = services.do_configure_survey(
        drafter, first, opens_at=now - datetime.timedelta(days=10), closes_at=now + datetime.timedelta(days=1)
    )
    for q in SATISFACTION:
        services.do_add_question(drafter, run1, q)
    first.refresh_from_db()
    _sign_off_and_send(demo, first, sent_at)
    run1.refresh_from_db()
    answered = _answer_all(run1, ordered[:65], 0.908, rng, now)  # 59 of 65 = 90.8%
    services.do_close_survey(None, run1, now=now)

    run2 = services.do_run_again(drafter, run1)
    services.do_configure_survey(
        drafter, run2.push, opens_at=now - datetime.timedelta(hours=2), closes_at=now + datetime.timedelta(days=7)
    )
    run2.refresh_from_db()
    run2.push.refresh_from_db()
    _sign_off_and_send(demo, run2.push, sent_at)
    run2.refresh_from_db()
    answered += _answer_all(run2, ordered[65:137], 0.944, rng, now)  # 68 of 72 = 94.4%
    return (
        f"1 quiz (20 coins, first 300, funded from {unit.name}'s demo budget), "
        f"a satisfaction survey in 2 runs with {answered} answers"
    )
