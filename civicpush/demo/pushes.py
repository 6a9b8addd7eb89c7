"""Demo groups and pushes, so the console and a demo citizen's inbox look alive after `make run`.

Everything staff do goes through the real services with the demo staff (so chains, audit entries
and sign-off queues are genuine); only the past is arranged: sent pushes are scheduled and frozen
at times in the last ten days, memberships are dated before them, and citizens' reads and clicks
are written in bulk. Deterministic for a given `now`.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from civicpush.audiences import services as group_services
from civicpush.audiences.models import Group, GroupKind, GroupMembership
from civicpush.audiences.selectors import members_at
from civicpush.citizens.models import Citizen, ConsentRecord, Township
from civicpush.citizens.topics import Topic
from civicpush.org.models import County
from civicpush.pushes import dispatching, services
from civicpush.pushes.chains import ensure_default_chains, next_step
from civicpush.pushes.models import (
    Dispatch,
    Push,
    PushClick,
    PushRead,
    PushStatus,
    PushType,
    ScheduleKind,
    TargetKind,
    Urgency,
)
from civicpush.pushes.scheduling import TAIPEI

from .citizens import demo_phones
from .organisation import DemoOrganisation

DEMO_PUSH_SEED = 20261122
AGENCY_APPROVERS = {
    "push_liaison": "fire.liaison",
    "secretary": "fire.secretary",
    "deputy_director": "fire.deputy",
    "director": "fire.director",
}
# The console's sign-off queue is easiest to see as the unit head of 預防科 (a push waits there).
APPROVER_LOGIN = "prevention.head"


@dataclass
class DemoPushSummary:
    groups: int
    pushes: int
    by_status: dict[str, int]
    reads: int
    clicks: int


def demo_pushes_exist(county: County) -> bool:
    return Push.objects.filter(county=county).exists()


@transaction.atomic
def remove_demo_pushes(county: County) -> None:
    """Delete the county's pushes and groups (with dispatches, approvals, reads; the audit log stays)."""
    Push.objects.filter(county=county).delete()
    Group.objects.filter(county=county).update(replaces=None)
    Group.objects.filter(county=county).delete()


def _local(day_offset: int, hour: int, minute: int, now: datetime.datetime) -> datetime.datetime:
    """A moment `day_offset` days from today at hour:minute Asia/Taipei (outside quiet hours)."""
    day = now.astimezone(TAIPEI).date() + datetime.timedelta(days=day_offset)
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=TAIPEI)


def _content(title: str, body: str, *, push_type: str = PushType.PROMOTION, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "push_type": push_type,
        "title": title,
        "body": body,
        "planned_date": timezone.localdate(),
        "contact_name": "王小明",
        "contact_phone": "089-322112#231",
        "contact_email": "prevention@fire.example.gov.tw",
    }
    fields.update(extra)
    return fields


class _Builder:
    def __init__(self, demo: DemoOrganisation, now: datetime.datetime) -> None:
        self.demo = demo
        self.now = now
        self.rng = random.Random(DEMO_PUSH_SEED)

    def drafter(self, unit: str) -> Any:
        return self.demo.user(f"{unit}.drafter")

    def draft(self, unit: str, fields: dict[str, Any]) -> Push:
        return services.do_create_draft(self.drafter(unit), self.demo.unit(unit), **fields)

    def submit(self, push: Push) -> Push:
        return services.do_submit(push.created_by, push)

    def sign(self, push: Push, *, steps: int | None = None) -> Push:
        """Sign `steps` approval steps (all when None), each by the demo holder of the step's role."""
        push.refresh_from_db()
        done = 0
        while (step := next_step(push)) is not None and (steps is None or done < steps):
            role = push.chain_roles[step]
            username = AGENCY_APPROVERS.get(role) or f"{push.unit.code}.head"
            services.do_decide(self.demo.user(username), push, "approved")
            push.refresh_from_db()
            done += 1
        return push

    def send(self, push: Push, at: datetime.datetime) -> Push:
        """Schedule now-as-of `at` and freeze its dispatch at `at` (a send in the past)."""
        services.do_schedule(push.created_by, push, ScheduleKind.NOW, now=at)
        for dispatch_id in Dispatch.objects.filter(push=push, status="pending").values_list("pk", flat=True):
            dispatching.dispatch_one(dispatch_id, now=at)
        push.refresh_from_db()
        # Dates of the paperwork before the send, so the console's lists read naturally.
        Push.objects.filter(pk=push.pk).update(
            created_at=at - datetime.timedelta(days=2),
            submitted_at=at - datetime.timedelta(days=1, hours=3),
            approved_at=at - datetime.timedelta(hours=20),
        )
        steps = list(push.approvals.order_by("step"))
        for i, approval in enumerate(steps, start=1):
            approval.decided_at = at - datetime.timedelta(days=1) + i * datetime.timedelta(minutes=40)
            approval.save(update_fields=["decided_at"])
        return push

    def readers(self, push: Push, share: float, click_share: float, at: datetime.datetime) -> tuple[int, int]:
        """Some of the audience open it within two days (and some click its link)."""
        d = Dispatch.objects.filter(push=push, frozen_at__isnull=False).order_by("frozen_at").first()
        if d is None or d.frozen_at is None:
            return 0, 0
        frozen = d.frozen_at
        if push.target_kind == TargetKind.PERSON:
            audience = [push.target_citizen_id] if push.target_citizen_id else []
        elif push.target_kind == TargetKind.EVERYONE:
            audience = list(
                Citizen.objects.filter(county_id=push.county_id, created_at__lte=frozen)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        else:
            group_ids = list(push.target_group_links.values_list("group_id", flat=True))
            audience = sorted(members_at(group_ids, frozen))
        chosen = [c for c in audience if self.rng.random() < share]
        within = 30 if push.target_kind == TargetKind.PERSON else 2880  # minutes after the send
        reads = [
            PushRead(push=push, citizen_id=c, read_at=frozen + datetime.timedelta(minutes=self.rng.randint(1, within)))
            for c in chosen
        ]
        reads = [r for r in reads if r.read_at <= self.now]
        PushRead.objects.bulk_create(reads, batch_size=500, ignore_conflicts=True)
        clicks = [
            PushClick(push=push, citizen_id=r.citizen_id, clicked_at=r.read_at + datetime.timedelta(seconds=20))
            for r in reads
            if push.link and self.rng.random() < click_share
        ]
        PushClick.objects.bulk_create(clicks, batch_size=500)
        return len(reads), len(clicks)


def _date_citizens_by_consent(county: County) -> None:
    """Demo citizens signed up when they accepted the privacy notice (the generator dates consents in
    the past); without this they would all be newer than every sent push and see none of them."""
    accepted = ConsentRecord.objects.filter(citizen_id=OuterRef("pk")).order_by("accepted_at").values("accepted_at")[:1]
    Citizen.objects.filter(county=county, consents__isnull=False).update(created_at=Subquery(accepted))


@transaction.atomic
def load_demo_pushes(demo: DemoOrganisation, now: datetime.datetime | None = None) -> DemoPushSummary:
    """Groups (static, dynamic, one shared with the whole agency) and ~15 pushes of every type in
    every state: drafts, awaiting sign-off at various steps, returned, approved, scheduled, and sent
    to everyone, to groups and to one person, with reads and clicks. Assumes none exist yet."""
    now = now or timezone.now()
    county = demo.county
    ensure_default_chains(county)
    _date_citizens_by_consent(county)
    b = _Builder(demo, now)

    phones = demo_phones(200)
    citizens = {c.phone_e164: c.pk for c in Citizen.objects.filter(phone_e164__in=phones).only("pk", "phone_e164")}
    ordered = [citizens[p] for p in phones if p in citizens]
    first_citizen = ordered[0] if ordered else None

    # --- groups -------------------------------------------------------------------------------
    admin = demo.unit("admin")
    hq_name = group_services.suggest_group_name(admin, "局本部", now)  # e.g. 消防局局本部1122
    headquarters = group_services.do_create_group(
        demo.user("admin.drafter"),
        admin,
        name=hq_name,
        kind=GroupKind.STATIC,
        description="消防局局本部同仁與眷屬（全局共用）",
    )
    group_services.do_add_members(demo.user("admin.drafter"), headquarters, ordered[:40])
    group_services.do_share_group(demo.user("admin.drafter"), headquarters, [], with_agency=True)

    prevention = demo.unit("prevention")
    volunteers = group_services.do_create_group(
        demo.user("prevention.drafter"),
        prevention,
        name=group_services.suggest_group_name(prevention, "防火宣導志工", now),
        kind=GroupKind.STATIC,
        description="協助居家訪視與住警器宣導的志工",
    )
    group_services.do_add_members(demo.user("prevention.drafter"), volunteers, ordered[0:120:2])
    taitung_city = Township.objects.filter(county=county).order_by("sort_order", "code").first()
    elders = group_services.do_create_group(
        demo.user("prevention.drafter"),
        prevention,
        name=group_services.suggest_group_name(prevention, "臺東市長者", now),
        kind=GroupKind.DYNAMIC,
        description="臺東市 65 歲以上（居家安全訪視對象）",
        filters={"townships": [taitung_city.pk] if taitung_city else [], "age_min": 65},
    )
    ems = demo.unit("ems")
    health = group_services.do_create_group(
        demo.user("ems.drafter"),
        ems,
        name=group_services.suggest_group_name(ems, "關心防疫與健康", now),
        kind=GroupKind.DYNAMIC,
        description="關心防疫、健康的民眾",
        filters={"topics": [Topic.DISEASE_PREVENTION], "age_min": 18},
    )
    # Members joined well before the pushes below were sent.
    GroupMembership.objects.filter(group__in=[headquarters, volunteers]).update(
        added_at=now - datetime.timedelta(days=90)
    )
    groups = [headquarters, volunteers, elders, health]

    # --- sent pushes (the inbox) -------------------------------------------------------------
    reads = clicks = 0

    def sent(unit: str, fields: dict[str, Any], at: datetime.datetime, share: float, click: float = 0.0) -> Push:
        nonlocal reads, clicks
        push = b.sign(b.submit(b.draft(unit, fields)))
        push = b.send(push, at)
        r, c = b.readers(push, share, click, at)
        reads, clicks = reads + r, clicks + c
        return push

    link = "https://www.tungfire.gov.tw/"
    sent(
        "prevention",
        _content(
            "[防火]住警器守護您的家",
            "住宅用火災警報器每月按測試鈕一次，十年更換。獨居長者可申請免費安裝。",
            target_kind=TargetKind.EVERYONE,
            link=link,
        ),
        _local(-9, 10, 0, now),
        0.35,
        0.3,
    )
    sent(
        "disaster",
        _content(
            "[颱風]颱風警報防災準備",
            "颱風接近，請備妥飲水、糧食與手電筒，避免前往海邊與山區。需要協助請撥 119。",
            push_type=PushType.NOTICE,
            target_kind=TargetKind.EVERYONE,
            urgency=Urgency.URGENT,
        ),
        _local(-7, 8, 30, now),
        0.55,
    )
    sent(
        "ems",
        _content(
            "[問卷]救護服務滿意度調查",
            "填寫救護服務滿意度問卷，即贈臺東金幣 20 枚（限前 300 名）。",
            push_type=PushType.QUESTIONNAIRE,
            target_kind=TargetKind.EVERYONE,
            link=link,
            coin_amount=20,
            coin_method="前 300 名完成問卷者",
            questionnaire_text="1. 救護人員到達速度？ 2. 服務態度？",
        ),
        _local(-5, 14, 0, now),
        0.2,
        0.5,
    )
    sent(
        "rescue",
        _content(
            "[活動]消防體驗營報名",
            "寒假消防體驗營開放報名，名額 60 名，歡迎國小學童參加。",
            push_type=PushType.EVENT,
            target_kind=TargetKind.GROUPS,
            target_group_ids=[headquarters.pk],
            link=link,
            takes_registrations=True,
        ),
        _local(-4, 16, 0, now),
        0.5,
        0.4,
    )
    sent(
        "prevention",
        _content(
            "[宣導]志工居家訪視排班",
            "本月居家安全訪視排班已公布，請志工夥伴確認出勤時段。",
            target_kind=TargetKind.GROUPS,
            target_group_ids=[volunteers.pk],
        ),
        _local(-3, 9, 15, now),
        0.6,
    )
    sent(
        "prevention",
        _content(
            "[防火]長者居家用火安全",
            "冬季使用電暖器請遠離窗簾與棉被，外出或就寢前記得關閉電源。",
            target_kind=TargetKind.GROUPS,
            target_group_ids=[elders.pk],
        ),
        _local(-2, 10, 30, now),
        0.3,
    )
    pinned = _content(
        "[公告]119 報案專線說明",
        "遇火災、緊急救護請撥 119；非緊急之蜂類、動物救援請洽各鄉鎮公所。",
        push_type=PushType.NOTICE,
        target_kind=TargetKind.EVERYONE,
        pinned=True,
    )
    sent("command", pinned, _local(-6, 11, 0, now), 0.25)
    if first_citizen is not None:
        person = Citizen.objects.get(pk=first_citizen)
        mobile = "0" + (person.phone_e164 or "").removeprefix("+886")
        sent(
            "investigation",
            _content(
                "[火災證明]申請已受理",
                "您申請的火災證明書已受理，預計 7 個工作天內核發，完成後將另行通知。",
                push_type=PushType.NOTICE,
                target_kind=TargetKind.PERSON,
                target_person=mobile,
            ),
            _local(-1, 15, 20, now),
            1.0,
        )
        # A personal notice not yet opened.
        sent(
            "investigation",
            _content(
                "[火災證明]證明書已核發",
                "您的火災證明書已核發，請攜帶身分證件至本局火調科領取。",
                push_type=PushType.NOTICE,
                target_kind=TargetKind.PERSON,
                target_person=mobile,
            ),
            _local(0, 9, 0, now) if _local(0, 9, 0, now) < now else _local(-1, 17, 0, now),
            0.0,
        )

    # --- pushes on their way (the console) ---------------------------------------------------
    b.draft(
        "prevention",
        _content(
            "[防火]年節用火安全",
            "年節祭祀燃燒金紙請使用金爐，並有人在旁看顧。",
            target_kind=TargetKind.GROUPS,
            target_group_ids=[elders.pk],
        ),
    )
    b.draft(
        "admin",
        _content(
            "[通知]局本部消防演練",
            "下週三上午 10 時於局本部辦理消防演練，請同仁準時參加。",
            push_type=PushType.NOTICE,
            target_kind=TargetKind.GROUPS,
            target_group_ids=[headquarters.pk],
        ),
    )
    # Awaiting prevention.head (the demo approver login: the first step of the queue).
    b.submit(
        b.draft(
            "prevention",
            _content(
                "[防溺]戲水安全宣導",
                "戲水請到有救生員的水域，不熟水性不下水，發現有人溺水請大聲呼救並撥 119。",
                target_kind=TargetKind.EVERYONE,
                link=link,
            ),
        )
    )
    # Signed by the unit head, waiting for the push liaison (fire.liaison's queue).
    b.sign(
        b.submit(
            b.draft(
                "rescue",
                _content(
                    "[活動]119 消防節開放參觀",
                    "119 消防節當天開放消防局參觀，並有消防車體驗與防災闖關活動。",
                    push_type=PushType.EVENT,
                    target_kind=TargetKind.EVERYONE,
                    takes_registrations=True,
                ),
            )
        ),
        steps=1,
    )
    # Three steps signed, waiting for the deputy director.
    b.sign(
        b.submit(
            b.draft(
                "disaster",
                _content(
                    "[問卷]社區防災意識調查",
                    "邀請您填寫社區防災意識問卷，協助本局規劃防災教育。",
                    push_type=PushType.QUESTIONNAIRE,
                    target_kind=TargetKind.EVERYONE,
                    questionnaire_text="1. 家中是否備有防災包？",
                ),
            )
        ),
        steps=3,
    )
    # Returned by the unit head with a reason.
    returned = b.submit(
        b.draft(
            "ems",
            _content(
                "[防疫]流感疫苗接種",
                "流感疫苗開打，請至各衛生所接種。",
                target_kind=TargetKind.GROUPS,
                target_group_ids=[health.pk],
            ),
        )
    )
    services.do_decide(demo.user("ems.head"), returned, "returned", "請補充接種地點與時間。")
    # Approved, waiting to be scheduled.
    b.sign(
        b.submit(
            b.draft(
                "investigation",
                _content(
                    "[宣導]電器火災預防",
                    "延長線勿串接使用，插頭積塵請定期清潔，以免電線走火。",
                    target_kind=TargetKind.GROUPS,
                    target_group_ids=[headquarters.pk],
                ),
            )
        )
    )
    # Approved and scheduled for tomorrow morning.
    tomorrow = b.sign(
        b.submit(
            b.draft(
                "prevention",
                _content(
                    "[防火]住警器補助申請",
                    "本年度住警器補助開放申請，每戶最多 2 顆，請洽各消防分隊。",
                    target_kind=TargetKind.EVERYONE,
                    link=link,
                ),
            )
        )
    )
    services.do_schedule(tomorrow.created_by, tomorrow, ScheduleKind.AT, send_at=_local(1, 9, 0, now), now=now)

    pushes = Push.objects.filter(county=county)
    by_status: dict[str, int] = {}
    for status in pushes.values_list("status", flat=True):
        by_status[status] = by_status.get(status, 0) + 1
    return DemoPushSummary(groups=len(groups), pushes=pushes.count(), by_status=by_status, reads=reads, clicks=clicks)


def status_line(summary: DemoPushSummary) -> str:
    order = [s for s, _label in PushStatus.choices]
    parts = [f"{summary.by_status[s]} {s}" for s in order if summary.by_status.get(s)]
    return (
        f"{summary.groups} groups, {summary.pushes} pushes ({', '.join(parts)}), "
        f"{summary.reads:,} reads, {summary.clicks:,} clicks"
    )
