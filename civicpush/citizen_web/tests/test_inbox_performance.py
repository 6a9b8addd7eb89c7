"""The inbox page's cost does not grow with the pushes, its cached fragments stay escaped and
current, and cached sessions end at sign-out and account deletion."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from civicpush.audiences.models import GroupMembership
from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.citizens.tests.factories import taitung
from civicpush.pushes import timeline
from civicpush.pushes.models import Dispatch, Push, PushTargetGroup, PushType, TargetKind

from .pushes import client_for, group_of, new_citizen, send_push

pytestmark = pytest.mark.django_db
MAX_QUERIES = 2  # the session, the inbox's one round trip (the citizen comes from the session's snapshot)


@pytest.fixture(autouse=True)
def reference_data() -> None:
    taitung()


def _broadcasts(org: Any, groups: list[Any], n: int, start: datetime.datetime) -> None:
    """n sent pushes (everyone and each group in turn), written directly: the services' path is
    the subject of other tests, the number of rows is this one's."""
    unit, user = org.unit("prevention"), org.user("prevention.drafter")
    for i in range(n):
        kind = TargetKind.EVERYONE if i % 3 == 0 else TargetKind.GROUPS
        push = Push.objects.create(
            county=org.county,
            unit=unit,
            created_by=user,
            push_type=[PushType.PROMOTION, PushType.NOTICE, PushType.EVENT][i % 3],
            title=f"推播{i}",
            body="內容",
            target_kind=kind,
            status="sent",
        )
        if kind == TargetKind.GROUPS:
            PushTargetGroup.objects.create(push=push, group=groups[i % len(groups)])
        at = start + datetime.timedelta(minutes=37 * i)
        Dispatch.objects.create(
            push=push, county=org.county, target_kind=kind, scheduled_for=at, frozen_at=at, status="sent"
        )
    timeline.bump(org.county.pk)


def test_the_inbox_page_makes_a_fixed_number_of_queries_whatever_the_number_of_pushes(
    org: Any, django_assert_max_num_queries: Any, django_assert_num_queries: Any
) -> None:
    citizen = new_citizen(created_at=timezone.now() - datetime.timedelta(days=40))
    groups = [group_of(org, [citizen]) for _ in range(4)]
    client = client_for(citizen)
    start = timezone.now() - datetime.timedelta(days=20)
    _broadcasts(org, groups, 6, start)
    assert client.get("/").status_code == 200  # builds the process's timeline
    with django_assert_max_num_queries(MAX_QUERIES):
        few = client.get("/").content.decode()
    assert "推播4" in few  # (推播5 is a fourth promotion that day: capped)

    _broadcasts(org, groups, 120, start + datetime.timedelta(days=5))
    assert client.get("/").status_code == 200
    with django_assert_max_num_queries(MAX_QUERIES):
        many = client.get("/").content.decode()
    assert "推播118" in many
    with django_assert_max_num_queries(MAX_QUERIES):
        client.get("/", {"q": "推播1", "type": "notice"})
    with django_assert_max_num_queries(MAX_QUERIES):
        client.get("/", {"before": (start + datetime.timedelta(days=6)).isoformat()})


def test_list_items_are_escaped_and_follow_the_read_state_and_language(org: Any) -> None:
    citizen = new_citizen()
    push = send_push(org, title="<script>alert(1)</script>", subtitle="a&b", body='第一行 "引號" <i>\n第二行')
    client = client_for(citizen)
    page = client.get("/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a&amp;b" in page
    assert "第一行 &quot;引號&quot; &lt;i&gt;" in page
    assert 'class="inbox-item unread"' in page
    assert client.get(f"/m/{push.pk}/").status_code == 200
    again = client.get("/").content.decode()
    assert 'class="inbox-item"' in again and "unread-dot" not in again  # the cached item, read now
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Promotion" in english


def test_a_member_who_left_keeps_what_reached_them_and_a_joiner_does_not_get_it(org: Any) -> None:
    member, joiner = new_citizen(), new_citizen()
    group = group_of(org, [member])
    sent_at = timezone.now() - datetime.timedelta(hours=2)
    send_push(org, title="群組限定", target_kind=TargetKind.GROUPS, target_group_ids=[group.pk], at=sent_at)
    GroupMembership.objects.filter(group=group, citizen=member).update(removed_at=sent_at + datetime.timedelta(hours=1))
    GroupMembership.objects.create(group=group, citizen=joiner, added_at=sent_at + datetime.timedelta(hours=1))
    assert "群組限定" in client_for(member).get("/").content.decode()
    assert "群組限定" not in client_for(joiner).get("/").content.decode()


@pytest.fixture
def cached_sessions(settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}}


def _replay(session_key: str) -> Client:
    """Another device presenting the same session cookie."""
    other = Client()
    other.cookies["sessionid"] = session_key
    return other


def test_signing_out_ends_a_cached_session(org: Any, cached_sessions: None) -> None:
    client = client_for(new_citizen())
    key = client.cookies["sessionid"].value
    assert client.get("/me/").status_code == 200
    assert client.post("/signout/").status_code == 302
    assert _replay(key).get("/me/")["Location"] == "/signin/"
    assert CITIZEN_SESSION_KEY not in client.session


def test_deleting_the_account_ends_a_cached_session(org: Any, cached_sessions: None) -> None:
    citizen = new_citizen()
    client = client_for(citizen)
    key = client.cookies["sessionid"].value
    assert client.get("/").status_code == 200
    response = client.post("/me/delete/", {"confirm": "刪除"})
    assert response["Location"] == "/goodbye/"
    replayed = _replay(key)
    assert replayed.get("/me/")["Location"] == "/signin/"
    from django.contrib.sessions.backends.cached_db import SessionStore

    assert not SessionStore(session_key=key).exists(key)
