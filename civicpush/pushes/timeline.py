"""Per-process broadcast timelines: the frozen "everyone" and group dispatches of a county, in memory.

A frozen dispatch never changes whom it reached (ADR 0004: visibility is resolved at read time from
`frozen_at` and temporal group membership), so the county-wide part of every citizen's inbox is
the same list for everyone: the visible dispatches (status dispatching/sent) to everyone, and per
target group the group dispatches. Each web process keeps that list in memory (`timeline_for`)
and the per-citizen parts (memberships, personal notices, reads) are read live on every request
(`inbox.py`, one round trip).

Freshness: `InboxTimelineVersion.version` (one row per county) is set to a new random value by
every write that changes which frozen dispatches are visible or what they show, in the same
transaction (`bump`): a freeze (`dispatching.dispatch_one`), a stop (`mark_dispatch_stopped`), a
cancel, and content, target-group or image edits of a push that was already sent (`services`). The
inbox reads the version in its per-request query and rebuilds the process's timeline when it
differs from the one it holds, so a new broadcast or a stop is visible on the very next request:
there is no TTL and no staleness window.

Validity (valid_from/valid_to) is not baked in: it is evaluated against `now` on every read, so a
push expires on time without a bump. Memory: one compact entry per visible broadcast dispatch of
the county (about 20,000 in the bench: a few MB).
"""

from __future__ import annotations

import bisect
import datetime
import secrets
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from .models import (
    PROMOTIONAL_TYPES,
    Dispatch,
    DispatchStatus,
    InboxTimelineVersion,
    Push,
    PushImage,
    PushTargetGroup,
    TargetKind,
    Urgency,
)
from .scheduling import taipei_date

VISIBLE_DISPATCH_STATUSES = (DispatchStatus.DISPATCHING, DispatchStatus.SENT)


def first_line(body: str) -> str:
    for line in body.splitlines():
        if line.strip():
            return line.strip()
    return ""


class Entry:
    """One visible dispatch as the inbox needs it: ordering, visibility and cap fields, the text
    searched and shown, and a per-process cache of its rendered list item (`fragments`)."""

    __slots__ = (
        "body",
        "day",
        "dispatch_id",
        "first_line",
        "fragments",
        "frozen_at",
        "key",
        "pinned",
        "promotional",
        "push_id",
        "push_type",
        "search",
        "subtitle",
        "target_kind",
        "thumbnail",
        "title",
        "title_tag",
        "topic",
        "urgency",
        "valid_from",
        "valid_to",
    )

    def __init__(
        self,
        dispatch_id: int,
        frozen_at: datetime.datetime,
        push_id: int,
        target_kind: str,
        push_type: str,
        urgency: str,
        pinned: bool,
        topic: int | None,
        valid_from: datetime.datetime | None,
        valid_to: datetime.datetime | None,
        title_tag: str,
        title: str,
        subtitle: str,
        body: str,
        thumbnail: str,
    ) -> None:
        self.dispatch_id = dispatch_id
        self.frozen_at = frozen_at
        self.push_id = push_id
        self.target_kind = target_kind
        self.push_type = push_type
        self.urgency = urgency
        self.pinned = bool(pinned)
        self.topic = topic
        self.valid_from = valid_from
        self.valid_to = valid_to
        self.title_tag = title_tag or ""
        self.title = title or ""
        self.subtitle = subtitle or ""
        self.body = body or ""
        self.thumbnail = thumbnail or ""
        self.first_line = first_line(self.body)
        self.key = (frozen_at, dispatch_id)
        self.day = taipei_date(frozen_at)
        self.promotional = (
            push_type in PROMOTIONAL_TYPES and urgency != Urgency.URGENT and target_kind != TargetKind.PERSON
        )
        # What `icontains` on title, title_tag, subtitle and body matches (search is lower-cased too).
        self.search = (self.title.lower(), self.title_tag.lower(), self.subtitle.lower(), self.body.lower())
        self.fragments: dict[tuple[Any, ...], str] = {}

    @property
    def has_validity(self) -> bool:
        return self.valid_from is not None or self.valid_to is not None

    def valid_at(self, now: datetime.datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= now) and (self.valid_to is None or self.valid_to > now)

    def __repr__(self) -> str:
        return f"<Entry d{self.dispatch_id} p{self.push_id} {self.target_kind} {self.push_type} {self.frozen_at}>"


@dataclass
class DayBucket:
    """The county's "everyone" entries of one Asia/Taipei day, ascending by (frozen_at, id)."""

    entries: list[Entry] = field(default_factory=list)
    promos: list[Entry] = field(default_factory=list)
    others: list[Entry] = field(default_factory=list)
    simple: bool = True  # no entry has a validity window (the fast path applies)

    @property
    def first_frozen(self) -> datetime.datetime:
        return self.entries[0].frozen_at


@dataclass
class GroupTimeline:
    entries: list[Entry] = field(default_factory=list)  # ascending by key
    frozen: list[datetime.datetime] = field(default_factory=list)  # entries' frozen_at, for bisect


@dataclass
class CountyTimeline:
    county_id: int
    version: int
    everyone: list[Entry]  # ascending by key
    everyone_frozen: list[datetime.datetime]
    days: dict[datetime.date, DayBucket]
    groups: dict[int, GroupTimeline]
    pinned_everyone: list[Entry]
    pinned_groups: list[tuple[Entry, tuple[int, ...]]]  # (entry, its target group ids)
    built_at: float = 0.0
    # For remembering computed pages (inbox._unchanged_until): every entry's frozen_at, ascending,
    # and every valid_from / valid_to of an entry, ascending (the instants at which time alone changes
    # what an inbox shows).
    all_frozen: list[datetime.datetime] = field(default_factory=list)
    validity_changes: list[datetime.datetime] = field(default_factory=list)


_lock = threading.Lock()
_timelines: dict[int, CountyTimeline] = {}
stats = {"builds": 0}


def _entries_of(county_id: int) -> tuple[list[Entry], dict[int, list[int]]]:
    rows = (
        Dispatch.objects.filter(
            county_id=county_id,
            frozen_at__isnull=False,
            status__in=VISIBLE_DISPATCH_STATUSES,
            target_kind__in=(TargetKind.EVERYONE, TargetKind.GROUPS),
        )
        .order_by("frozen_at", "pk")
        .values_list(
            "pk",
            "frozen_at",
            "push_id",
            "target_kind",
            "push__push_type",
            "push__urgency",
            "push__pinned",
            "push__topic",
            "push__valid_from",
            "push__valid_to",
            "push__title_tag",
            "push__title",
            "push__subtitle",
            "push__body",
        )
    )
    row_list = list(rows)
    push_ids = {r[2] for r in row_list}
    thumbs: dict[int, str] = {}
    for push_id, thumbnail in (
        PushImage.objects.filter(push__county_id=county_id)
        .order_by("push_id", "order", "id")
        .values_list("push_id", "thumbnail")
    ):
        if push_id in push_ids and push_id not in thumbs:
            thumbs[push_id] = thumbnail
    links: dict[int, list[int]] = defaultdict(list)
    for push_id, group_id in PushTargetGroup.objects.filter(
        push__county_id=county_id, push__target_kind=TargetKind.GROUPS
    ).values_list("push_id", "group_id"):
        links[push_id].append(group_id)
    # frozen_at is non-null here (filtered above), which the ORM types cannot express.
    return [Entry(*r, thumbnail=thumbs.get(r[2], "")) for r in row_list], links  # type: ignore[arg-type]


def build(county_id: int, version: int) -> CountyTimeline:
    import time

    entries, links = _entries_of(county_id)
    everyone = [e for e in entries if e.target_kind == TargetKind.EVERYONE]
    days: dict[datetime.date, DayBucket] = {}
    for e in everyone:
        bucket = days.get(e.day)
        if bucket is None:
            bucket = days[e.day] = DayBucket()
        bucket.entries.append(e)
        (bucket.promos if e.promotional else bucket.others).append(e)
        if e.has_validity:
            bucket.simple = False
    groups: dict[int, GroupTimeline] = defaultdict(GroupTimeline)
    pinned_groups = []
    for e in entries:
        if e.target_kind != TargetKind.GROUPS:
            continue
        gids = tuple(sorted(set(links.get(e.push_id, ()))))
        for gid in gids:
            g = groups[gid]
            g.entries.append(e)
            g.frozen.append(e.frozen_at)
        if e.pinned:
            pinned_groups.append((e, gids))
    stats["builds"] += 1
    return CountyTimeline(
        county_id=county_id,
        version=version,
        everyone=everyone,
        everyone_frozen=[e.frozen_at for e in everyone],
        days=days,
        groups=dict(groups),
        pinned_everyone=[e for e in everyone if e.pinned],
        pinned_groups=pinned_groups,
        built_at=time.time(),
        all_frozen=[e.frozen_at for e in entries],
        validity_changes=sorted({m for e in entries for m in (e.valid_from, e.valid_to) if m is not None}),
    )


def timeline_for(county_id: int, version: int) -> CountyTimeline:
    """The process's timeline of the county at `version` (read by the caller in its own query,
    before this one): rebuilt when the version differs from the one held."""
    current = _timelines.get(county_id)
    if current is not None and current.version == version:
        return current
    with _lock:  # one rebuild per process at a time; the others wait for it instead of repeating it
        current = _timelines.get(county_id)
        if current is not None and current.version == version:
            return current
        current = build(county_id, version)
        _timelines[county_id] = current
        return current


def ensure_version(county_id: int) -> int:
    """The county's version, creating its row (with a fresh random value) when it has none yet."""
    row = InboxTimelineVersion.objects.filter(county_id=county_id).values_list("version", flat=True).first()
    if row is not None:
        return int(row)
    try:
        with transaction.atomic():
            return InboxTimelineVersion.objects.create(county_id=county_id, version=_new_version()).version
    except IntegrityError:
        return int(InboxTimelineVersion.objects.get(county_id=county_id).version)


def _new_version() -> int:
    return secrets.randbits(62) + 1


def bump(county_id: int) -> None:
    """Mark the county's timelines out of date (call inside the writing transaction)."""
    version = _new_version()
    if InboxTimelineVersion.objects.filter(county_id=county_id).update(version=version):
        return
    try:
        with transaction.atomic():
            InboxTimelineVersion.objects.create(county_id=county_id, version=version)
    except IntegrityError:
        InboxTimelineVersion.objects.filter(county_id=county_id).update(version=version)


def bump_if_sent(push: Push) -> None:
    """For edits of a push: only a push with a frozen dispatch is in anyone's timeline."""
    if push.first_sent_at is not None or push.dispatches.filter(frozen_at__isnull=False).exists():
        bump(push.county_id)


def clear() -> None:
    """Forget every process timeline (tests)."""
    with _lock:
        _timelines.clear()


# --- reading a timeline ------------------------------------------------------------------------


def group_entries(
    timeline: CountyTimeline,
    memberships: list[tuple[int, datetime.datetime, datetime.datetime | None]],
    lo: datetime.datetime | None,
    hi: datetime.datetime | None,
) -> list[Entry]:
    """The group entries frozen in [lo, hi) that reached a citizen with these memberships (member
    at frozen_at: added_at <= T < removed_at), each dispatch once, unordered."""
    out: list[Entry] = []
    seen: set[int] | None = None
    for gid, added, removed in memberships:
        g = timeline.groups.get(gid)
        if g is None:
            continue
        start = added if lo is None or added > lo else lo
        end = removed if removed is not None and (hi is None or removed < hi) else hi
        i = bisect.bisect_left(g.frozen, start)
        j = len(g.frozen) if end is None else bisect.bisect_left(g.frozen, end)
        if i >= j:
            continue
        if not out:
            out = g.entries[i:j]
            seen = None
            continue
        if seen is None:
            seen = {e.dispatch_id for e in out}
        for e in g.entries[i:j]:
            if e.dispatch_id not in seen:
                seen.add(e.dispatch_id)
                out.append(e)
    return out
