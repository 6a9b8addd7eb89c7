"""The inbox page served from the process's shell (shell.py) is the page the templates render."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.middleware.csrf import CSRF_TOKEN_LENGTH
from django.test import Client
from django.utils import timezone

from civicpush.citizens.tests.factories import taitung
from civicpush.pushes import timeline
from civicpush.pushes.models import Dispatch, Push, PushType, TargetKind

from .. import inbox_views, shell
from .pushes import client_for, new_citizen, send_push

pytestmark = pytest.mark.django_db
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"')


@pytest.fixture(autouse=True)
def reference_data(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    taitung()
    shell.clear()


def _both(client: Client, monkeypatch: Any, path: str = "/", **extra: Any) -> tuple[str, str]:
    """The page from the shell and rendered by the templates (the flash-message path), CSRF tokens
    normalised (each response masks the secret afresh)."""
    fast = client.get(path, **extra)
    with monkeypatch.context() as m:
        m.setattr(inbox_views, "has_flash_messages", lambda request: True)
        slow = client.get(path, **extra)
    assert fast.status_code == slow.status_code == 200
    pages = []
    for response in (fast, slow):
        html = response.content.decode()
        tokens = _TOKEN.findall(html)
        assert len(tokens) == 2 and len(set(tokens)) == 1 and len(tokens[0]) == CSRF_TOKEN_LENGTH
        pages.append(_TOKEN.sub('name="csrfmiddlewaretoken" value="T"', html))
    return pages[0], pages[1]


def test_the_shell_renders_what_the_templates_render_in_every_state(org: Any, monkeypatch: Any) -> None:
    citizen = new_citizen()
    client = client_for(citizen)
    fast, slow = _both(client, monkeypatch)  # empty inbox
    assert fast == slow and "empty-state" in fast

    push = send_push(org, title="<b>標題</b>", subtitle='a&"b"')
    send_push(org, title="第二則", push_type=PushType.NOTICE)
    for path in (
        "/",
        "/?q=%3Cb%3E%22x%22&type=notice",
        "/?type=event",
        "/?q=標題",
        "/?before=2020-01-01T00:00:00%2B00:00",
    ):
        for language in ("zh-hant", "en"):
            fast, slow = _both(client, monkeypatch, path, HTTP_ACCEPT_LANGUAGE=language)
            assert fast == slow, (path, language)
    fast, _ = _both(client, monkeypatch, "/?q=%3Cb%3E%22x%22&type=notice")
    assert 'name="next" type="hidden" value="/?q=%3Cb%3E%22x%22&amp;type=notice"' in fast
    assert "&lt;b&gt;標題&lt;/b&gt;" in _both(client, monkeypatch)[0]
    assert "(2)" in fast.split("</title>")[0]  # the unread count in the title

    assert client.get(f"/m/{push.pk}/").status_code == 200  # one read: the unread count changes
    fast, slow = _both(client, monkeypatch)
    assert fast == slow and "(1)" in fast.split("</title>")[0]


def test_load_more_and_its_link_come_from_the_shell_escaped(org: Any, monkeypatch: Any) -> None:
    citizen = new_citizen(created_at=timezone.now() - datetime.timedelta(days=30))
    unit, user = org.unit("prevention"), org.user("prevention.drafter")
    start = timezone.now() - datetime.timedelta(days=3)
    for i in range(inbox_views.PAGE_SIZE + 3):
        push = Push.objects.create(
            county=org.county, unit=unit, created_by=user, push_type=PushType.NOTICE, title=f"通知{i}",
            body="內容", target_kind=TargetKind.EVERYONE, status="sent",
        )  # fmt: skip
        at = start + datetime.timedelta(minutes=7 * i)
        Dispatch.objects.create(
            push=push, county=org.county, target_kind=TargetKind.EVERYONE, scheduled_for=at, frozen_at=at, status="sent"
        )
    timeline.bump(org.county.pk)
    client = client_for(citizen)
    fast, slow = _both(client, monkeypatch)
    assert fast == slow
    more = re.search(r'<p class="load-more"><a class="button secondary" href="([^"]+)"', fast)
    assert more and more.group(1).startswith("?before=") and "+" not in more.group(1)


def test_a_flash_message_is_shown_once_on_the_inbox(org: Any) -> None:
    client = client_for(new_citizen())
    client.cookies[CookieStorage.cookie_name] = CookieStorage(None)._encode([Message(constants.SUCCESS, "已儲存")])
    first = client.get("/").content.decode()
    assert "已儲存" in first and 'role="status"' in first
    assert "已儲存" not in client.get("/").content.decode()
