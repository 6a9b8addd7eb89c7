"""Remembered inbox pages (`inbox._memos`): a page is reused only while the citizen's rows, the
county's timeline and the time-dependent rules (validity, the unread window) say it is the same;
and the prepared statement on PostgreSQL reads what the plain query reads."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from civicpush.audiences.models import GroupMembership
from civicpush.pushes import inbox, timeline
from civicpush.pushes.inbox import inbox_page
from civicpush.pushes.models import Dispatch, Push, PushRead, PushTargetGroup, PushType, TargetKind
from civicpush.pushes.tests.conftest import make_citizen, make_group

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh() -> None:
    timeline.clear()
    inbox.clear_memos()


def _sent(org: Any, at: datetime.datetime, **fields: Any) -> Push:
    """A sent push with its frozen dispatch, written directly (the services' path is tested elsewhere;
    this is about what the inbox remembers), and the county's timeline marked out of date."""
    groups = fields.pop("groups", [])
    fields.setdefault("target_kind", TargetKind.GROUPS if groups else TargetKind.EVERYONE)
    fields.setdefault("push_type", PushType.NOTICE)
    push = Push.objects.create(
        county=org.county,
        unit=org.unit("prevention"),
        created_by=org.user("prevention.drafter"),
        title=fields.pop("title", "宣導"),
        body="內容",
        status="sent",
        **fields,
    )
    for group in groups:
        PushTargetGroup.objects.create(push=push, group=group)
    Dispatch.objects.create(
        push=push, county=org.county, target_kind=push.target_kind, scheduled_for=at, frozen_at=at, status="sent"
    )
    timeline.bump(org.county.pk)
    return push


class _CountReaders:
    def __init__(self, monkeypatch: Any) -> None:
        self.count = 0
        real = inbox._Reader

        def counting(*args: Any) -> Any:
            self.count += 1
            return real(*args)

        monkeypatch.setattr(inbox, "_Reader", counting)


def test_a_page_read_again_unchanged_is_remembered_and_a_read_changes_it(org: Any, monkeypatch: Any) -> None:
    now = timezone.now()
    citizen = make_citizen(org.county, created_at=now - datetime.timedelta(days=10))
    push = _sent(org, now - datetime.timedelta(hours=2))
    readers = _CountReaders(monkeypatch)
    first, unread = inbox_page(citizen, now=now)
    again, unread_again = inbox_page(citizen, now=now + datetime.timedelta(seconds=5))
    assert readers.count == 1  # the second page came from the memo
    assert [(e.push_id, e.is_read) for e in again] == [(e.push_id, e.is_read) for e in first] == [(push.pk, False)]
    assert unread == unread_again == 1

    PushRead.objects.create(push=push, citizen=citizen, read_at=now)
    entries, unread = inbox_page(citizen, now=now + datetime.timedelta(seconds=6))
    assert readers.count == 2
    assert [(e.push_id, e.is_read) for e in entries] == [(push.pk, True)] and unread == 0


def test_a_new_broadcast_a_new_membership_and_an_edit_change_the_page(org: Any) -> None:
    now = timezone.now()
    citizen = make_citizen(org.county, created_at=now - datetime.timedelta(days=10))
    other = make_citizen(org.county)
    group = make_group(org.unit("prevention"), [other], added_at=now - datetime.timedelta(days=5))
    to_group = _sent(org, now - datetime.timedelta(hours=3), groups=[group], title="群組")
    assert [e.push_id for e in inbox_page(citizen, now=now)[0]] == []

    GroupMembership.objects.create(group=group, citizen=citizen, added_at=now - datetime.timedelta(days=4))
    assert [e.push_id for e in inbox_page(citizen, now=now)[0]] == [to_group.pk]  # (no timeline bump)

    everyone = _sent(org, now - datetime.timedelta(hours=1), title="全體")
    entries, unread = inbox_page(citizen, now=now)
    assert [e.push_id for e in entries] == [everyone.pk, to_group.pk] and unread == 2

    Push.objects.filter(pk=everyone.pk).update(title="改過的標題")
    timeline.bump(org.county.pk)  # (as services do for an edit of a sent push)
    assert inbox_page(citizen, now=now)[0][0].entry.title == "改過的標題"

    Dispatch.objects.filter(push=everyone).update(status="stopped")
    timeline.bump(org.county.pk)
    assert [e.push_id for e in inbox_page(citizen, now=now)[0]] == [to_group.pk]


def test_a_remembered_page_ends_when_a_validity_window_opens_or_closes(org: Any) -> None:
    now = timezone.now()
    citizen = make_citizen(org.county, created_at=now - datetime.timedelta(days=10))
    ending = _sent(org, now - datetime.timedelta(hours=2), valid_to=now + datetime.timedelta(minutes=10))
    starting = _sent(org, now - datetime.timedelta(hours=1), valid_from=now + datetime.timedelta(minutes=20))
    personal = _sent(
        org,
        now - datetime.timedelta(minutes=30),
        target_kind=TargetKind.PERSON,
        target_citizen=citizen,
        valid_to=now + datetime.timedelta(minutes=5),
    )
    assert [e.push_id for e in inbox_page(citizen, now=now)[0]] == [personal.pk, ending.pk]
    later = now + datetime.timedelta(minutes=6)  # the personal notice has expired
    assert [e.push_id for e in inbox_page(citizen, now=later)[0]] == [ending.pk]
    later = now + datetime.timedelta(minutes=11)
    assert [e.push_id for e in inbox_page(citizen, now=later)[0]] == []
    later = now + datetime.timedelta(minutes=21)
    entries, unread = inbox_page(citizen, now=later)
    assert [e.push_id for e in entries] == [starting.pk] and unread == 1
    # An earlier `now` than the remembered page's is worked out again, not served from the memo.
    assert [e.push_id for e in inbox_page(citizen, now=now)[0]] == [personal.pk, ending.pk]


def test_the_unread_count_drops_when_an_entry_leaves_the_window_while_remembered(org: Any) -> None:
    now = timezone.now()
    citizen = make_citizen(org.county, created_at=now - datetime.timedelta(days=60))
    _sent(org, now - inbox.UNREAD_WINDOW + datetime.timedelta(minutes=10))
    _sent(org, now - datetime.timedelta(days=2))
    assert inbox_page(citizen, now=now)[1] == 2
    assert inbox_page(citizen, now=now + datetime.timedelta(minutes=5))[1] == 2
    memo = inbox.remembered_page(citizen, now=now + datetime.timedelta(minutes=5))
    entries, unread = inbox_page(citizen, now=now + datetime.timedelta(minutes=11))
    assert unread == 1 and len(entries) == 2  # still listed, no longer counted
    # The same remembered page (the count is worked out for the moment asked), not a new one.
    assert inbox.remembered_page(citizen, now=now + datetime.timedelta(minutes=11)) is memo
    assert memo is not None and memo.unread_at(now + datetime.timedelta(minutes=9)) == 2


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_the_prepared_statement_reads_what_the_plain_query_reads(org: Any, monkeypatch: Any) -> None:
    now = timezone.now()
    citizen = make_citizen(org.county, created_at=now - datetime.timedelta(days=10))
    group = make_group(org.unit("prevention"), [citizen], added_at=now - datetime.timedelta(days=5))
    push = _sent(org, now - datetime.timedelta(hours=3), groups=[group])
    _sent(org, now - datetime.timedelta(hours=2), target_kind=TargetKind.PERSON, target_citizen=citizen)
    PushRead.objects.create(push=push, citizen=citizen, read_at=now)
    monkeypatch.setattr(inbox, "PREPARE", False)
    plain = sorted(inbox._fetch(citizen), key=repr)
    monkeypatch.setattr(inbox, "PREPARE", True)
    for _ in range(3):  # prepared on the first run, executed by name after
        assert sorted(inbox._fetch(citizen), key=repr) == plain
    assert connection.connection.prepare_threshold is not None
    assert {row[0] for row in plain} == {"p", "m", "r", "v"}
