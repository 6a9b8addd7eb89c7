"""Roster rates and award rules on fixtures that mirror seed 000: staff ≥ 90 % by the deadline →
the drafter 嘉獎一次; a volunteer group ≥ 90 % → the drafter 嘉獎二次 and the unit head 嘉獎一次; a
push published without its completed sign-off → referred (system notices excluded)."""

from __future__ import annotations

import datetime
import io
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from civicpush.adoption import awards, exports, roster
from civicpush.adoption.models import AwardPeriod, Override, RosterEntry, RosterKind
from civicpush.adoption.rules_seed import ensure_default_rules
from civicpush.citizens import services as citizen_services
from civicpush.citizens.models import Citizen
from civicpush.citizens.tests.factories import taitung
from civicpush.core.errors import NotFound, PermissionDenied
from civicpush.core.models import AuditEntry
from civicpush.delivery.notices import send_system_notice
from civicpush.pushes.models import Decision, Push, PushApproval, PushStatus, PushType, TargetKind

pytestmark = pytest.mark.django_db
TAIPEI = datetime.timezone(datetime.timedelta(hours=8))
DEADLINE = datetime.date(2026, 9, 30)  # seed 000: 106年9月底, moved to this year
BEFORE = datetime.datetime(2026, 9, 1, 10, 0, tzinfo=TAIPEI)
_numbers = itertools.count(40_000_000)


def _member(at: datetime.datetime = BEFORE) -> str:
    phone = f"+8869{next(_numbers):08d}"
    citizen = citizen_services.do_sign_up(
        phone, notice_version=settings.PRIVACY_NOTICE_VERSION, client_ip="198.51.100.7"
    )
    Citizen.objects.filter(pk=citizen.pk).update(created_at=at)
    return phone


def _people(unit: Any, kind: str, adopted: int, total: int) -> list[RosterEntry]:
    """`total` people on the sheet, the first `adopted` of whom have a citizen account."""
    out = []
    for i in range(total):
        mobile = _member() if i < adopted else f"+8869{next(_numbers):08d}"
        out.append(
            RosterEntry.objects.create(county=unit.county, unit=unit, kind=kind, name=f"{kind}{i:02d}", mobile=mobile)
        )
    return out


@pytest.fixture
def seed_roster(org: Any) -> Any:
    taitung()
    _people(org.unit("taitung-brigade"), RosterKind.STAFF, 9, 10)  # 90.0 % → award
    _people(org.unit("guanshan-brigade"), RosterKind.STAFF, 8, 10)  # 80.0 % → none
    _people(org.unit("taitung-brigade"), RosterKind.VOLUNTEER_FIRE, 18, 20)  # 90 % → awards
    _people(org.unit("taitung-brigade"), RosterKind.WOMEN_PREVENTION, 7, 8)  # 87.5 % → none
    ensure_default_rules(org.agency)
    return org


def test_roster_counts_each_volunteer_group_separately(seed_roster: Any) -> None:
    org = seed_roster
    sheets = {
        (s.unit.code, s.kind): s for s in roster.sheets([org.unit("taitung-brigade"), org.unit("guanshan-brigade")])
    }
    staff = sheets[("taitung-brigade", RosterKind.STAFF)]
    assert (staff.total, staff.adopted, staff.rate, staff.meets_target) == (10, 9, Decimal("90.0"), True)
    fire = sheets[("taitung-brigade", RosterKind.VOLUNTEER_FIRE)]
    assert (fire.total, fire.adopted, fire.rate) == (20, 18, Decimal("90.0"))
    women = sheets[("taitung-brigade", RosterKind.WOMEN_PREVENTION)]
    assert (women.total, women.adopted, women.rate, women.meets_target) == (8, 7, Decimal("87.5"), False)
    assert sheets[("guanshan-brigade", RosterKind.STAFF)].rate == Decimal("80.0")


def test_manual_override_wins_over_the_mobile_match(seed_roster: Any) -> None:
    org = seed_roster
    drafter = org.user("guanshan-brigade.drafter")
    entry = RosterEntry.objects.filter(unit=org.unit("guanshan-brigade"), kind=RosterKind.STAFF).order_by("name").last()
    roster.do_set_override(drafter, entry, Override.ADOPTED, "使用配偶手機登入")
    sheet = roster.sheets([org.unit("guanshan-brigade")])[0]
    assert (sheet.adopted, sheet.rate) == (9, Decimal("90.0"))
    assert AuditEntry.objects.filter(action="adoption.roster.overridden").count() == 1
    with pytest.raises(NotFound):  # another unit's drafter may not even see it
        roster.do_set_override(org.user("ems.drafter"), entry, Override.NOT_ADOPTED, "x")


def _period(org: Any) -> AwardPeriod:
    return AwardPeriod.objects.create(
        agency=org.agency, name="115年9月底下載使用達成率", starts_on=datetime.date(2026, 7, 1), deadline=DEADLINE
    )


def _outcomes(recs: list[Any]) -> set[tuple[str, str, str, str]]:
    return {(r.unit.code, r.subject, r.recipient_name, r.get_outcome_display()) for r in recs}


def test_seed_award_rules_give_the_seed_recommendations(seed_roster: Any) -> None:
    org = seed_roster
    recs = awards.do_evaluate_period(org.user("admin.drafter"), _period(org))
    assert _outcomes(recs) == {
        ("taitung-brigade", "", "臺東大隊承辦人", "嘉獎一次"),
        ("taitung-brigade", "義消", "臺東大隊承辦人", "嘉獎二次"),
        ("taitung-brigade", "義消", "臺東大隊主管", "嘉獎一次"),
    }


def test_adoption_after_the_deadline_does_not_count(seed_roster: Any) -> None:
    org = seed_roster
    late = RosterEntry.objects.create(
        county=org.county,
        unit=org.unit("guanshan-brigade"),
        kind=RosterKind.STAFF,
        name="晚到",
        mobile=_member(datetime.datetime(2026, 10, 2, tzinfo=TAIPEI)),
    )
    assert late.pk
    recs = awards.do_evaluate_period(org.user("admin.drafter"), _period(org))
    assert not [r for r in recs if r.unit.code == "guanshan-brigade"]
    # Today (after the deadline) the same roster counts the late member.
    assert roster.sheets([org.unit("guanshan-brigade")])[0].adopted == 9


def _sent_push(org: Any, *, approved: bool) -> Push:
    unit = org.unit("prevention")
    push = Push.objects.create(
        county=org.county, unit=unit, push_type=PushType.PROMOTION, title="防火宣導", body="內容",
        target_kind=TargetKind.EVERYONE, status=PushStatus.SENT, created_by=org.user("prevention.drafter"),
        chain_roles=["drafter", "unit_head"], first_sent_at=datetime.datetime(2026, 8, 1, 9, tzinfo=TAIPEI),
    )  # fmt: skip
    if approved:
        PushApproval.objects.create(
            push=push, revision=push.revision, step=1, role="unit_head", approver=org.user("prevention.head"),
            approver_name="預防科主管", decision=Decision.APPROVED, decided_at=push.first_sent_at,
        )  # fmt: skip
    return push


def test_a_push_without_its_sign_off_is_referred_and_system_notices_are_not(seed_roster: Any) -> None:
    org = seed_roster
    unsigned = _sent_push(org, approved=False)
    _sent_push(org, approved=True)
    citizen = Citizen.objects.first()
    notice = send_system_notice(
        citizen, unit=org.unit("prevention"), kind="test", reference="r1", title="繳費成功", body="已收到。"
    )
    Push.objects.filter(pk=notice.pk).update(first_sent_at=datetime.datetime(2026, 8, 2, tzinfo=TAIPEI))

    recs = awards.do_evaluate_period(org.user("admin.drafter"), _period(org))

    referrals = [r for r in recs if r.outcome == "review"]
    assert [(r.push_id, r.recipient_name) for r in referrals] == [(unsigned.pk, "預防科承辦人")]


def test_only_the_administration_section_evaluates(seed_roster: Any) -> None:
    org = seed_roster
    with pytest.raises(PermissionDenied):
        awards.do_evaluate_period(org.user("ems.drafter"), _period(org))


def test_example_rules_on_bands_are_shipped_but_not_in_force(seed_roster: Any) -> None:
    from civicpush.adoption.models import AwardRule

    rules = AwardRule.objects.filter(agency=seed_roster.agency)
    assert rules.filter(is_active=True).count() == 4
    band = rules.get(name="案件如期辦結率達70%以上，未滿90%")
    assert (band.threshold, band.upper, band.is_active) == (Decimal("70"), Decimal("90"), False)
    assert awards._matches(band, Decimal("70")) and awards._matches(band, Decimal("89.9"))
    assert not awards._matches(band, Decimal("90")) and not awards._matches(band, Decimal("69.9"))


def test_exports_in_the_seed_form(seed_roster: Any) -> None:
    org = seed_roster
    sheets = roster.sheets([org.unit("taitung-brigade")])
    book = load_workbook(io.BytesIO(exports.roster_xlsx(sheets)))
    ws = book.worksheets[0]
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0][0] == "下載使用TTPush雲端推播系統人員一覽表"
    assert values[1][0] == "單位：臺東大隊"
    assert values[2] == ["姓名", "是否下載", "姓名", "是否下載"]
    assert ["總數", "已下載數", "達成率", None] in values
    assert [10, 9, "90.0%", None] in values
    assert values[-1][0] == "承辦人：" and values[-1][2] == "單位主管："
    assert book.worksheets[1]["A2"].value == "單位：臺東大隊（義消）"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(exports.roster_pdf(sheets))).pages)
    assert (
        "下載使用TTPush雲端推播系統人員一覽表" in text and "承辦人" in text and "單位主管" in text and "90.0%" in text
    )

    period = _period(org)
    recs = awards.do_evaluate_period(org.user("admin.drafter"), period)
    pdf = PdfReader(io.BytesIO(exports.recommendations_pdf(period, recs)))
    assert "嘉獎二次" in pdf.pages[0].extract_text()
    rows = list(
        load_workbook(io.BytesIO(exports.recommendations_xlsx(period, recs))).active.iter_rows(values_only=True)
    )
    assert rows[1][:3] == ("單位", "事由", "量測值") and len(rows) == 2 + 3 + 2
    assert timezone.now()
