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

How a page is read (PostgreSQL, 20k pushes x 1M citizens): the county-wide part (every visible
"everyone" dispatch, and the group dispatches per group) is the same for every citizen and is
kept in process memory by `timeline.py`, refreshed when the county's timeline version changes.
The citizen's own part is ONE round trip (`_CITIZEN_SQL`, a UNION ALL with a tag column): the
timeline version and the county's cap, the citizen's memberships (group, added_at, removed_at),
their personal dispatches, and the push ids they have read. Visibility, the cap (over whole
Taipei days, in memory), filters, pinned notices, the page and the unread count are then worked
out in Python from those (`_Reader`), day by day from the newest.

`is_visible_to` and `promotion_allowed_for` (one push, not a page) keep their indexed queries.
"""

from __future__ import annotations

import bisect
import datetime
import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from civicpush.audiences.models import GroupMembership
from civicpush.citizens.models import Citizen

from . import timeline as tl
from .models import (
    PROMOTIONAL_TYPES,
    CountyPushPolicy,
    Dispatch,
    InboxTimelineVersion,
    Push,
    PushImage,
    PushRead,
    PushTargetGroup,
    PushType,
    TargetKind,
    Urgency,
)
from .scheduling import TAIPEI, policy_for, taipei_date, taipei_day_bounds
from .timeline import VISIBLE_DISPATCH_STATUSES, Entry

UNREAD_WINDOW = datetime.timedelta(days=30)
PINNED_MAX = 20
_FIELDS = ("pk", "frozen_at", "push_id", "push__push_type", "push__urgency", "target_kind", "push__pinned")
_KEY = attrgetter("key")
_PUSH_ID = attrgetter("push_id")
_ONE_DAY = datetime.timedelta(days=1)


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


class _PushLoader:
    """Loads the Push rows of a page's entries in one query, on the first `entry.push` access (the
    web inbox never asks: it renders from the timeline entries)."""

    def __init__(self, push_ids: set[int]) -> None:
        self.push_ids = push_ids
        self.pushes: dict[int, Push] | None = None

    def get(self, push_id: int) -> Push:
        if self.pushes is None:
            self.pushes = Push.objects.select_related("unit").prefetch_related("images").in_bulk(self.push_ids)
        return self.pushes[push_id]


@dataclass(slots=True)  # (not frozen: a frozen dataclass's __init__ costs a setattr call per field)
class InboxEntry:
    dispatch_id: int
    frozen_at: datetime.datetime
    is_read: bool
    pinned: bool
    push_id: int
    entry: Entry = field(repr=False, compare=False)
    _loader: _PushLoader = field(repr=False, compare=False)

    @property
    def push(self) -> Push:
        return self._loader.get(self.push_id)


# --- the citizen's part: one round trip -------------------------------------------------------------

_V = InboxTimelineVersion._meta.db_table
_POLICY = CountyPushPolicy._meta.db_table
_M = GroupMembership._meta.db_table
_R = PushRead._meta.db_table
_P = Push._meta.db_table
_D = Dispatch._meta.db_table
_I = PushImage._meta.db_table
# Columns: tag, i1, i2, t1, t2, t3, push_type, urgency, title_tag, title, subtitle, body, pinned,
# topic, thumbnail. The personal branch comes first so that it types every column (PostgreSQL).
_CITIZEN_SQL = f"""
SELECT 'p', d.id, d.push_id, d.frozen_at, p.valid_from, p.valid_to, p.push_type, p.urgency, p.title_tag,
       p.title, p.subtitle, p.body, p.pinned, p.topic,
       (SELECT i.thumbnail FROM {_I} i WHERE i.push_id = p.id ORDER BY i."order", i.id LIMIT 1)
  FROM {_P} p JOIN {_D} d ON d.push_id = p.id
 WHERE p.target_citizen_id = %s AND d.target_kind = '{TargetKind.PERSON.value}' AND d.county_id = %s
   AND d.frozen_at IS NOT NULL AND d.status IN ({", ".join(f"'{s.value}'" for s in VISIBLE_DISPATCH_STATUSES)})
UNION ALL
SELECT 'm', group_id, NULL, added_at, removed_at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM {_M} WHERE citizen_id = %s
UNION ALL
SELECT 'r', push_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM {_R} WHERE citizen_id = %s
UNION ALL
SELECT 'v', (SELECT version FROM {_V} WHERE county_id = %s), (SELECT daily_promotion_cap FROM {_POLICY} WHERE county_id = %s),
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
"""
_DEFAULT_CAP = CountyPushPolicy._meta.get_field("daily_promotion_cap").default


def _dt(value: Any) -> datetime.datetime | None:
    """A timestamp from the raw cursor: aware from PostgreSQL, an ISO string (UTC) from SQLite."""
    if value is None:
        return None
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime.fromisoformat(str(value))
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


@dataclass
class _Citizen:
    created_at: datetime.datetime
    cap: int
    timeline: tl.CountyTimeline
    memberships: list[tuple[int, datetime.datetime, datetime.datetime | None]]
    personal: list[Entry]
    reads: set[int]


def _fetch(citizen: Citizen) -> tuple[Any, ...]:
    """The citizen's rows (`_CITIZEN_SQL`): one round trip. On PostgreSQL the statement is prepared
    once per connection (`_execute_prepared`): it is the same text on every request."""
    county_id = citizen.county_id
    params = [citizen.pk, county_id, citizen.pk, citizen.pk, county_id, county_id]
    db = connections[DEFAULT_DB_ALIAS]  # (`connection` looks this up again on every attribute)
    if PREPARE and db.vendor == "postgresql" and not db.queries_logged and not db.execute_wrappers:
        return _execute_prepared(db, params)  # (query logging and execute wrappers see Django's cursor)
    with db.cursor() as cursor:
        cursor.execute(_CITIZEN_SQL, params)
        return tuple(cursor.fetchall())


PREPARE = True  # prepared statement on PostgreSQL (False: plain execution, e.g. behind a pooler)


def _execute_prepared(db: Any, params: list[Any]) -> tuple[Any, ...]:
    """`_CITIZEN_SQL` as a server-side prepared statement: PostgreSQL parses and plans it once per
    connection instead of on every page. Django's cursors bind on the client and never prepare, so
    this uses a psycopg cursor with server-side binding on Django's connection (its transaction
    state and error handling stay Django's: `wrap_database_errors`, `ensure_connection`)."""
    import psycopg

    db.ensure_connection()
    raw = db.connection
    if raw.prepare_threshold is None:  # Django's default: no automatic preparing; explicit only
        raw.prepare_threshold = _NEVER_AUTOMATIC
    with db.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(_CITIZEN_SQL, params, prepare=True, binary=True)
        return tuple(cursor.fetchall())


_NEVER_AUTOMATIC = 2**31 - 1  # psycopg prepares a query after this many runs: only on request here


def _load(citizen: Citizen, rows: tuple[Any, ...]) -> _Citizen:
    county_id = citizen.county_id
    memberships: list[tuple[int, datetime.datetime, datetime.datetime | None]] = []
    personal: list[Entry] = []
    reads: set[int] = set()
    version: int | None = None
    cap: int | None = None
    sqlite = connection.vendor == "sqlite"
    for row in rows:
        tag = row[0]
        if tag == "r":
            reads.add(row[1])
        elif tag == "m":
            if sqlite:
                memberships.append((row[1], _dt(row[3]), _dt(row[4])))  # type: ignore[arg-type]
            else:
                memberships.append((row[1], row[3], row[4]))
        elif tag == "p":
            frozen, valid_from, valid_to = (_dt(v) for v in row[3:6]) if sqlite else row[3:6]
            personal.append(
                Entry(
                    row[1], frozen, row[2], TargetKind.PERSON, row[6], row[7], bool(row[12]), row[13],  # type: ignore[arg-type]
                    valid_from, valid_to, row[8], row[9], row[10], row[11], row[14],
                )
            )  # fmt: skip
        else:
            version, cap = row[1], row[2]
    if version is None:
        version = tl.ensure_version(county_id)
    return _Citizen(
        created_at=citizen.created_at,
        cap=_DEFAULT_CAP if cap is None else int(cap),
        timeline=tl.timeline_for(county_id, int(version)),
        memberships=memberships,
        personal=personal,
        reads=reads,
    )


# --- working it out in memory ---------------------------------------------------------------------


def _day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=TAIPEI)


class _Reader:
    """Visibility, the daily cap, pages and the unread count for one citizen at `now`."""

    def __init__(self, data: _Citizen, now: datetime.datetime) -> None:
        self.data = data
        self.now = now
        self.timeline = data.timeline
        self.personal_by_day: dict[datetime.date, list[Entry]] = defaultdict(list)
        for e in data.personal:
            self.personal_by_day[e.day].append(e)
        self._days: dict[datetime.date, list[Entry]] = {}
        self.first, self.last = self._span()
        # Group entries of the unread window (and the days after it), fetched at once and bucketed by
        # day; older days (later pages) are looked up one day at a time.
        self._groups_from = taipei_date(now - UNREAD_WINDOW)
        self._group_days: dict[datetime.date, list[Entry]] = defaultdict(list)
        if data.memberships:
            for e in tl.group_entries(self.timeline, data.memberships, _day_start(self._groups_from), None):
                self._group_days[e.day].append(e)

    def _span(self) -> tuple[datetime.date | None, datetime.date | None]:
        """The Taipei days of the oldest and newest dispatch that can reach the citizen."""
        t = self.timeline
        created = self.data.created_at
        times: list[datetime.datetime] = []
        i = bisect.bisect_left(t.everyone_frozen, created)
        if i < len(t.everyone_frozen):
            times += [t.everyone_frozen[i], t.everyone_frozen[-1]]
        for gid, added, removed in self.data.memberships:
            g = t.groups.get(gid)
            if g is None:
                continue
            i = bisect.bisect_left(g.frozen, added)
            j = len(g.frozen) if removed is None else bisect.bisect_left(g.frozen, removed)
            if i < j:
                times += [g.frozen[i], g.frozen[j - 1]]
        times += [e.frozen_at for e in self.data.personal]
        if not times:
            return None, None
        return taipei_date(min(times)), taipei_date(max(times))

    def day(self, day: datetime.date) -> list[Entry]:
        """The entries of one Taipei day the citizen sees, after the cap (unordered)."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        now, cap, created = self.now, self.data.cap, self.data.created_at
        bucket = self.timeline.days.get(day)
        ev_promos: list[Entry] = []
        ev_others: list[Entry] = []
        if bucket is not None:
            if bucket.simple and created <= bucket.first_frozen:
                ev_promos, ev_others = bucket.promos, bucket.others
            else:
                for e in bucket.entries:
                    if e.frozen_at >= created and e.valid_at(now):
                        (ev_promos if e.promotional else ev_others).append(e)
        out = list(ev_others)
        groups: list[Entry] = []
        if day >= self._groups_from:
            groups = self._group_days.get(day, [])
        elif self.data.memberships:
            start = _day_start(day)
            groups = tl.group_entries(self.timeline, self.data.memberships, start, start + _ONE_DAY)
        g_promos = []
        for e in groups:
            if (e.valid_from is None and e.valid_to is None) or e.valid_at(now):
                if e.promotional:
                    g_promos.append(e)
                else:
                    out.append(e)
        if g_promos:  # the first `cap` of the day among both (only the first `cap` of each can be)
            g_promos += ev_promos[:cap]
            g_promos.sort(key=_KEY)
            out += g_promos[:cap]
        else:
            out += ev_promos[:cap]
        for e in self.personal_by_day.get(day, ()):
            if e.valid_at(now):
                out.append(e)
        self._days[day] = out
        return out

    def unread(self) -> int:
        if self.first is None or self.last is None:
            return 0
        since = self.now - UNREAD_WINDOW
        since_day = taipei_date(since)
        day = max(since_day, self.first)
        reads = self.data.reads
        total = 0
        while day <= self.last:
            entries = self.day(day)
            if day == since_day:
                entries = [e for e in entries if e.frozen_at >= since]
            total += len(entries)
            if reads:
                total -= sum(map(reads.__contains__, map(_PUSH_ID, entries)))
            day += _ONE_DAY
        return total

    def unread_frozen(self) -> list[datetime.datetime]:
        """The frozen times of the entries `unread()` counts, ascending. While nothing else changes
        (the rows, the timeline, validity), the count at a later moment t is the number of them at
        or after t - UNREAD_WINDOW: entries only leave the window (`RememberedPage.unread_at`)."""
        if self.first is None or self.last is None:
            return []
        since = self.now - UNREAD_WINDOW
        day = max(taipei_date(since), self.first)
        reads = self.data.reads
        out: list[datetime.datetime] = []
        while day <= self.last:
            out += [e.frozen_at for e in self.day(day) if e.frozen_at >= since and e.push_id not in reads]
            day += _ONE_DAY
        out.sort()
        return out

    def _member_at(self, gids: tuple[int, ...], moment: datetime.datetime) -> bool:
        return any(
            gid in gids and added <= moment and (removed is None or removed > moment)
            for gid, added, removed in self.data.memberships
        )

    def page(
        self,
        *,
        topic: int | None,
        push_type: str | None,
        search: str | None,
        before: datetime.datetime | None,
        limit: int,
    ) -> list[tuple[Entry, bool]]:
        """(entry, pinned) newest first: on the first page, pinned valid notices on top."""
        term = search.strip()[:100].lower() if search else None

        def wanted(e: Entry) -> bool:
            if topic is not None and e.topic != topic:
                return False
            if push_type and e.push_type != push_type:
                return False
            return term is None or any(term in f for f in e.search)

        now = self.now
        pinned: list[Entry] = []
        if before is None:
            created = self.data.created_at
            t = self.timeline
            candidates = [e for e in t.pinned_everyone if e.frozen_at >= created]
            candidates += [e for e, gids in t.pinned_groups if self._member_at(gids, e.frozen_at)]
            candidates += [e for e in self.data.personal if e.pinned]
            pinned = [e for e in candidates if e.push_type == PushType.NOTICE and e.valid_at(now) and wanted(e)]
            pinned.sort(key=_KEY, reverse=True)
            del pinned[PINNED_MAX:]
        pinned_ids = {e.dispatch_id for e in pinned}
        chosen: list[Entry] = []
        if self.first is not None and self.last is not None:
            day = self.last if before is None else min(self.last, taipei_date(before))
            while day >= self.first and len(chosen) < limit:
                entries = [
                    e
                    for e in self.day(day)
                    if (before is None or e.frozen_at < before) and e.dispatch_id not in pinned_ids and wanted(e)
                ]
                if entries:
                    entries.sort(key=_KEY, reverse=True)
                    chosen += entries[: limit - len(chosen)]
                day -= _ONE_DAY
        return [(e, True) for e in pinned] + [(e, False) for e in chosen]


def _entries(reads: set[int], rows: list[tuple[Entry, bool]]) -> list[InboxEntry]:
    loader = _PushLoader({e.push_id for e, _pinned in rows})
    return [
        InboxEntry(
            dispatch_id=e.dispatch_id,
            frozen_at=e.frozen_at,
            is_read=e.push_id in reads,
            pinned=pinned,
            push_id=e.push_id,
            entry=e,
            _loader=loader,
        )
        for e, pinned in rows
    ]


class RememberedPage:
    """A computed page (`page`: (entry, pinned) newest first, pinned on top) and unread count, kept
    by the process while the citizen's rows and the timeline stay the same and `now` stays before
    `until` (see `_unchanged_until`). `unread` is the count at `computed_at`; `unread_at(now)` the
    count later (entries leaving the 30-day window, `unread_frozen`). `rendered` and `texts` are for
    the web view: output derived from this page alone (and the keys it chooses), dropped with it."""

    __slots__ = (
        "computed_at",
        "fingerprint",
        "page",
        "reads",
        "rendered",
        "texts",
        "timeline",
        "unread",
        "unread_frozen",
        "until",
    )

    def __init__(
        self,
        fingerprint: tuple[Any, ...],
        timeline: tl.CountyTimeline,
        computed_at: datetime.datetime,
        until: datetime.datetime,
        page: list[tuple[Entry, bool]],
        unread: int,
        reads: set[int],
        unread_frozen: list[datetime.datetime] | None = None,
    ) -> None:
        self.fingerprint = fingerprint
        self.timeline = timeline
        self.computed_at = computed_at
        self.until = until
        self.page = page
        self.unread = unread
        self.reads = reads
        self.rendered: dict[Any, Any] = {}
        self.texts: Any = None
        self.unread_frozen = unread_frozen or []

    def unread_at(self, now: datetime.datetime) -> int:
        """The unread count at `now` (not before `computed_at`, not after `until`)."""
        frozen = self.unread_frozen
        return len(frozen) - bisect.bisect_left(frozen, now - UNREAD_WINDOW)

    def entries(self) -> list[InboxEntry]:
        return _entries(self.reads, self.page)

    def is_read(self, entry: Entry) -> bool:
        return entry.push_id in self.reads


def _version_in(rows: tuple[Any, ...]) -> int | None:
    for row in reversed(rows):  # (the 'v' row is the last branch of the UNION ALL)
        if row[0] == "v":
            return None if row[1] is None else int(row[1])
    return None


def remembered_page(
    citizen: Citizen,
    *,
    topic: int | None = None,
    push_type: str | None = None,
    search: str | None = None,
    before: datetime.datetime | None = None,
    limit: int = 20,
    now: datetime.datetime | None = None,
    with_unread: bool = True,
) -> RememberedPage | None:
    """The page `inbox_page` answers, as the process's remembered page (None: not an active citizen).
    One round trip to the database on every call: the citizen's rows, which decide whether the
    remembered page still holds."""
    if not citizen.is_active:
        return None
    now = now or timezone.now()
    limit = max(1, min(limit, 100))
    rows = _fetch(citizen)
    # The answer is a function of the citizen's rows, the county's timeline (its version is one of
    # the rows), the query and `now`; it changes with `now` alone only at the instants
    # `_unchanged_until` finds. So a page read again with the same rows before then is the same page.
    memo_key = (citizen.pk, topic, push_type, search, before, limit, with_unread)
    fingerprint = (citizen.county_id, citizen.created_at, rows)
    memo = _memos.get(memo_key)
    if memo is not None and memo.computed_at <= now < memo.until and memo.fingerprint == fingerprint:
        version = _version_in(rows)
        if version is not None and tl.timeline_for(citizen.county_id, version) is memo.timeline:
            return memo
    data = _load(citizen, rows)
    reader = _Reader(data, now)
    page = reader.page(topic=topic, push_type=push_type, search=search, before=before, limit=limit)
    unread_frozen = reader.unread_frozen() if with_unread else []
    memo = RememberedPage(
        fingerprint, data.timeline, now, _unchanged_until(data, now), page, len(unread_frozen), data.reads,
        unread_frozen,
    )  # fmt: skip
    if len(_memos) >= MEMO_MAX:
        _memos.clear()
    _memos[memo_key] = memo
    return memo


def inbox_page(
    citizen: Citizen,
    *,
    topic: int | None = None,
    push_type: str | None = None,
    search: str | None = None,
    before: datetime.datetime | None = None,
    limit: int = 20,
    now: datetime.datetime | None = None,
    with_unread: bool = True,
) -> tuple[list[InboxEntry], int]:
    """`inbox_for` and `unread_count` together, from one round trip to the database."""
    now = now or timezone.now()
    memo = remembered_page(
        citizen, topic=topic, push_type=push_type, search=search, before=before, limit=limit, now=now,
        with_unread=with_unread,
    )  # fmt: skip
    if memo is None:
        return [], 0
    return memo.entries(), memo.unread_at(now)


# Pages kept per process: each holds the citizen's rows (a few kB at most) and, from the web view,
# one rendered page (about 18 kB): at most about 60 MB a process.
MEMO_MAX = 3_000
_memos: dict[tuple[Any, ...], RememberedPage] = {}
_FOREVER = datetime.datetime.max.replace(tzinfo=datetime.UTC)


def _unchanged_until(data: _Citizen, now: datetime.datetime) -> datetime.datetime:
    """The first instant after `now` at which the time alone may change a page computed at `now`
    from `data`: an entry's validity starting or ending (valid_from/valid_to of any entry of the
    county's timeline or of the citizen's personal notices: `valid_at` and so the daily cap, the
    pinned list and the unread count). Conservative: any such instant of any entry the citizen could
    see, not only the ones on the page. Entries leaving the unread window change only the count,
    which `RememberedPage.unread_at` works out for the moment asked (so every remembered page of a
    county does not expire at once each time one of its entries turns 30 days old)."""
    until = _FOREVER
    changes = data.timeline.validity_changes
    i = bisect.bisect_right(changes, now)
    if i < len(changes):
        until = changes[i]
    for e in data.personal:
        for moment in (e.valid_from, e.valid_to):
            if moment is not None and now < moment < until:
                until = moment
    return until


def clear_memos() -> None:
    """Forget the remembered pages (tests)."""
    _memos.clear()


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
    entries, _unread = inbox_page(
        citizen, topic=topic, push_type=push_type, search=search, before=before, limit=limit, now=now,
        with_unread=False,
    )  # fmt: skip
    return entries


def unread_count(citizen: Citizen, *, now: datetime.datetime | None = None) -> int:
    """Entries of the last 30 days (after the daily cap) whose push the citizen has not opened."""
    if not citizen.is_active:
        return 0
    return _Reader(_load(citizen, _fetch(citizen)), now or timezone.now()).unread()


# --- one push: `is_visible_to`, `promotion_allowed_for` (indexed queries) ---------------------------


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


def _rows(qs: QuerySet[Dispatch], limit: int | None, *, ascending: bool = False) -> list[_Row]:
    order = ("frozen_at", "pk") if ascending else ("-frozen_at", "-pk")
    q = qs.order_by(*order).values_list(*_FIELDS)
    if limit is not None:
        q = q[:limit]
    return [_Row(*r) for r in q]


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
