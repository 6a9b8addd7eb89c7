"""The citizen's inbox, resolved at read time: no row per citizen per broadcast.

An inbox entry is a frozen Dispatch (a daily push has one per day). A citizen sees a dispatch when
- personal: they are the push's target citizen;
- everyone: they signed up at or before the dispatch froze (citizen.created_at <= frozen_at);
- groups: they were a member of one of its groups at frozen_at (the temporal predicate
  added_at <= T AND (removed_at IS NULL OR removed_at > T)), so joining later does not reveal it
  and leaving later does not hide it;
and the push is within its validity (valid_from/valid_to) and not stopped.

Daily cap on promotional pushes (CountyPushPolicy.daily_promotion_cap, default 3): of the
promotional pushes (questionnaire/promotion/event, not urgent, not personal) visible to a citizen
on one Asia/Taipei day, only the first N by (frozen_at, dispatch id) are shown. The rule is
deterministic, so the delivery issue MUST apply the same rule (`promotion_allowed_for`) before
sending a device notification, or phones will ring for pushes the inbox hides.

Query shape (PostgreSQL, 20k pushes × 1M citizens): three separate indexed queries, each ordered
by frozen_at and limited, merged in Python (a UNION of limited branches):
- personal: Push.target_citizen index;
- everyone: Dispatch (county, target_kind, frozen_at) index, read backwards;
- groups: driven from the citizen's memberships (GroupMembership (citizen, group) index) →
  PushTargetGroup (group) → Dispatch (push, frozen_at), with the temporal EXISTS on top.
"""

from __future__ import annotations

import datetime
import heapq
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from civicpush.audiences.models import GroupMembership
from civicpush.citizens.models import Citizen

from .models import (
    PROMOTIONAL_TYPES,
    Dispatch,
    DispatchStatus,
    Push,
    PushRead,
    PushTargetGroup,
    PushType,
    TargetKind,
    Urgency,
)
from .scheduling import policy_for, taipei_date, taipei_day_bounds

VISIBLE_DISPATCH_STATUSES = (DispatchStatus.DISPATCHING, DispatchStatus.SENT)
UNREAD_WINDOW = datetime.timedelta(days=30)
_FIELDS = ("pk", "frozen_at", "push_id", "push__push_type", "push__urgency", "target_kind", "push__pinned")


class _Row(NamedTuple):
    dispatch_id: int
    frozen_at: datetime.datetime
    push_id: int
    push_type: str
    urgency: str
    target_kind: str
    pinned: bool

    @property
    def is_promotional(self) -> bool:
        return (
            self.push_type in PROMOTIONAL_TYPES
            and self.urgency != Urgency.URGENT
            and self.target_kind != TargetKind.PERSON
        )


@dataclass(frozen=True)
class InboxEntry:
    dispatch_id: int
    push: Push
    frozen_at: datetime.datetime
    is_read: bool
    pinned: bool


def _branches(citizen: Citizen, now: datetime.datetime) -> list[QuerySet[Dispatch]]:
    base = Dispatch.objects.filter(
        county_id=citizen.county_id, frozen_at__isnull=False, status__in=VISIBLE_DISPATCH_STATUSES
    ).filter(
        Q(push__valid_to__isnull=True) | Q(push__valid_to__gt=now),
        Q(push__valid_from__isnull=True) | Q(push__valid_from__lte=now),
    )
    personal = base.filter(target_kind=TargetKind.PERSON, push__target_citizen_id=citizen.pk)
    everyone = base.filter(target_kind=TargetKind.EVERYONE, frozen_at__gte=citizen.created_at)
    ever_groups = GroupMembership.objects.filter(citizen_id=citizen.pk).values("group_id")
    member_at_freeze = GroupMembership.objects.filter(
        citizen_id=citizen.pk,
        group__push_links__push_id=OuterRef("push_id"),
        added_at__lte=OuterRef("frozen_at"),
    ).filter(Q(removed_at__isnull=True) | Q(removed_at__gt=OuterRef("frozen_at")))
    groups = base.filter(
        target_kind=TargetKind.GROUPS,
        push_id__in=PushTargetGroup.objects.filter(group_id__in=ever_groups).values("push_id"),
    ).filter(Exists(member_at_freeze))
    return [personal, everyone, groups]


def _filtered(
    qs: QuerySet[Dispatch], topic: int | None, push_type: str | None, search: str | None
) -> QuerySet[Dispatch]:
    if topic is not None:
        qs = qs.filter(push__topic=topic)
    if push_type:
        qs = qs.filter(push__push_type=push_type)
    if search:
        term = search.strip()[:100]
        qs = qs.filter(
            Q(push__title__icontains=term)
            | Q(push__title_tag__icontains=term)
            | Q(push__subtitle__icontains=term)
            | Q(push__body__icontains=term)
        )
    return qs


def _rows(qs: QuerySet[Dispatch], limit: int | None, *, ascending: bool = False) -> list[_Row]:
    order = ("frozen_at", "pk") if ascending else ("-frozen_at", "-pk")
    q = qs.order_by(*order).values_list(*_FIELDS)
    if limit is not None:
        q = q[:limit]
    return [_Row(*r) for r in q]


def _merge(parts: list[list[_Row]], limit: int | None) -> list[_Row]:
    merged = list(heapq.merge(*parts, key=lambda r: (r.frozen_at, r.dispatch_id), reverse=True))
    return merged if limit is None else merged[:limit]


def _before(cursor: tuple[datetime.datetime, int] | None) -> Q:
    if cursor is None:
        return Q()
    t, i = cursor
    return Q(frozen_at__lt=t) | Q(frozen_at=t, pk__lt=i)


def _allowed_promotions(
    citizen: Citizen, now: datetime.datetime, first: datetime.datetime, last: _Row, cap: int
) -> set[int]:
    """Dispatch ids of the promotional entries within the cap, for the Taipei days from `first`'s
    day up to `last` (inclusive): the first `cap` of each day by (frozen_at, id), unfiltered."""
    day_start, _end = taipei_day_bounds(first)
    upto = Q(frozen_at__lt=last.frozen_at) | Q(frozen_at=last.frozen_at, pk__lte=last.dispatch_id)
    promo = Q(push__push_type__in=list(PROMOTIONAL_TYPES)) & ~Q(push__urgency=Urgency.URGENT)
    parts = []
    for qs in _branches(citizen, now)[1:]:  # personal pushes are never counted
        parts.append(_rows(qs.filter(promo, upto, frozen_at__gte=day_start), None, ascending=True))
    ordered = heapq.merge(*parts, key=lambda r: (r.frozen_at, r.dispatch_id))
    per_day: dict[datetime.date, int] = defaultdict(int)
    allowed: set[int] = set()
    for row in ordered:
        day = taipei_date(row.frozen_at)
        if per_day[day] < cap:
            allowed.add(row.dispatch_id)
        per_day[day] += 1
    return allowed


def _cap_in_memory(rows: list[_Row], cap: int) -> set[int]:
    """`_allowed_promotions` over rows already fetched: they must hold every visible row from the
    start of the oldest row's Taipei day onwards, unfiltered (personal rows are never promotional)."""
    per_day: dict[datetime.date, int] = defaultdict(int)
    allowed: set[int] = set()
    for row in sorted((r for r in rows if r.is_promotional), key=lambda r: (r.frozen_at, r.dispatch_id)):
        day = taipei_date(row.frozen_at)
        if per_day[day] < cap:
            allowed.add(row.dispatch_id)
        per_day[day] += 1
    return allowed


def _apply_cap(citizen: Citizen, now: datetime.datetime, rows: list[_Row], cap: int) -> list[_Row]:
    promos = [r for r in rows if r.is_promotional]
    if not promos:
        return rows
    oldest = min(promos, key=lambda r: (r.frozen_at, r.dispatch_id))
    newest = max(promos, key=lambda r: (r.frozen_at, r.dispatch_id))
    allowed = _allowed_promotions(citizen, now, oldest.frozen_at, newest, cap)
    return [r for r in rows if not r.is_promotional or r.dispatch_id in allowed]


def inbox_for(
    citizen: Citizen,
    *,
    topic: int | None = None,
    push_type: str | None = None,
    search: str | None = None,
    before: datetime.datetime | None = None,
    limit: int = 20,
    now: datetime.datetime | None = None,
) -> list[InboxEntry]:
    """The citizen's inbox, newest first by frozen time; on the first page (no `before`), pinned
    valid notices come first (on top of `limit`). Next page: pass the last entry's frozen_at."""
    if not citizen.is_active:
        return []
    now = now or timezone.now()
    limit = max(1, min(limit, 100))
    cap = policy_for(citizen.county_id).daily_promotion_cap
    branches = [_filtered(b, topic, push_type, search) for b in _branches(citizen, now)]

    pinned: list[_Row] = []
    if before is None:
        pinned = _merge([_rows(b.filter(push__pinned=True, push__push_type=PushType.NOTICE), 20) for b in branches], 20)
    pinned_ids = {r.dispatch_id for r in pinned}

    chosen: list[_Row] = []
    cursor: tuple[datetime.datetime, int] | None = None
    start = Q(frozen_at__lt=before) if before is not None else Q()
    batch = max(2 * limit, 20)
    while len(chosen) < limit:
        window = start & _before(cursor)
        rows = _merge([_rows(b.filter(window), batch) for b in branches], batch)
        if not rows:
            break
        kept = [r for r in _apply_cap(citizen, now, rows, cap) if r.dispatch_id not in pinned_ids]
        chosen.extend(kept[: limit - len(chosen)])
        if len(rows) < batch:
            break
        cursor = (rows[-1].frozen_at, rows[-1].dispatch_id)
    return _entries(citizen, pinned + chosen, pinned_ids)


def _entries(citizen: Citizen, rows: list[_Row], pinned_ids: set[int]) -> list[InboxEntry]:
    push_ids = {r.push_id for r in rows}
    pushes = Push.objects.select_related("unit").prefetch_related("images").in_bulk(push_ids)
    read = set(PushRead.objects.filter(citizen=citizen, push_id__in=push_ids).values_list("push_id", flat=True))
    return [
        InboxEntry(
            dispatch_id=r.dispatch_id,
            push=pushes[r.push_id],
            frozen_at=r.frozen_at,
            is_read=r.push_id in read,
            pinned=r.dispatch_id in pinned_ids,
        )
        for r in rows
    ]


def unread_count(citizen: Citizen, *, now: datetime.datetime | None = None) -> int:
    """Entries of the last 30 days (after the daily cap) whose push the citizen has not opened."""
    if not citizen.is_active:
        return 0
    now = now or timezone.now()
    cap = policy_for(citizen.county_id).daily_promotion_cap
    since = now - UNREAD_WINDOW
    # Every row from the start of the Taipei day containing `since` is fetched once (no filters), so
    # the daily cap can be counted from these rows themselves (`_cap_in_memory`) instead of querying
    # the promotional rows a second time: the same rule as `_allowed_promotions`, half the queries.
    day_start, _end = taipei_day_bounds(since)
    rows = _merge([_rows(b.filter(frozen_at__gte=day_start), None) for b in _branches(citizen, now)], None)
    allowed = _cap_in_memory(rows, cap)
    rows = [r for r in rows if r.frozen_at >= since and (not r.is_promotional or r.dispatch_id in allowed)]
    read = set(
        PushRead.objects.filter(citizen=citizen, push_id__in={r.push_id for r in rows}).values_list(
            "push_id", flat=True
        )
    )
    return sum(1 for r in rows if r.push_id not in read)


def is_visible_to(citizen: Citizen, push: Push, *, now: datetime.datetime | None = None) -> bool:
    """Whether any dispatch of `push` reached the citizen (the daily cap aside)."""
    if not citizen.is_active or citizen.county_id != push.county_id:
        return False
    now = now or timezone.now()
    return any(b.filter(push_id=push.pk).exists() for b in _branches(citizen, now))


def promotion_allowed_for(citizen: Citizen, dispatch: Dispatch, *, now: datetime.datetime | None = None) -> bool:
    """For the delivery fan-out: whether this dispatch is within the citizen's daily promotional cap
    (always True for notices, urgent and personal pushes). The same rule as the inbox."""
    now = now or timezone.now()
    push = dispatch.push
    if not push.is_promotional or dispatch.frozen_at is None:
        return True
    row = _Row(
        dispatch.pk, dispatch.frozen_at, push.pk, push.push_type, push.urgency, dispatch.target_kind, push.pinned
    )
    cap = policy_for(citizen.county_id).daily_promotion_cap
    return dispatch.pk in _allowed_promotions(citizen, now, dispatch.frozen_at, row, cap)
