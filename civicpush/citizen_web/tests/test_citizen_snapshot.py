"""The session's citizen snapshot (citizens.middleware): the inbox needs no citizen or consent query,
and nothing the snapshot says outlives sign-out, deletion, a new privacy notice or its age."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from civicpush.citizens import middleware, services
from civicpush.citizens.middleware import CITIZEN_SESSION_KEY, SNAPSHOT_SESSION_KEY
from civicpush.citizens.models import Citizen, ConsentRecord
from civicpush.citizens.tests.factories import taitung

from .pushes import client_for, new_citizen, send_push

pytestmark = pytest.mark.django_db
_CITIZEN_TABLES = (Citizen._meta.db_table, ConsentRecord._meta.db_table)


@pytest.fixture(autouse=True)
def cached_sessions(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "snap"}}
    taitung()


def _replay(client: Client) -> Client:
    """Another device presenting the same session cookie."""
    other = Client()
    other.cookies["sessionid"] = client.cookies["sessionid"].value
    return other


def _citizen_queries(queries: list[dict[str, Any]]) -> list[str]:
    return [q["sql"] for q in queries if any(t in q["sql"] for t in _CITIZEN_TABLES)]


def test_with_the_session_in_the_cache_the_inbox_is_one_query_and_none_for_the_citizen(org: Any) -> None:
    citizen = new_citizen()
    send_push(org, title="宣導")
    client = client_for(citizen)  # a session from before snapshots: the first request writes one
    assert client.get("/").status_code == 200
    assert client.session[SNAPSHOT_SESSION_KEY]["id"] == citizen.pk
    for path in ("/", "/?type=promotion", "/?q=宣導"):
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(path)
        assert page.status_code == 200 and "宣導" in page.content.decode()
        assert _citizen_queries(ctx.captured_queries) == []
        assert len(ctx.captured_queries) == 1, [q["sql"] for q in ctx.captured_queries]  # the inbox's one


def test_other_pages_load_what_the_snapshot_does_not_hold(org: Any) -> None:
    citizen = new_citizen("+886912345678")
    client = client_for(citizen)
    client.get("/")
    page = client.get("/me/").content.decode()
    assert "0912-345-678" in page  # phone_e164: a deferred field, loaded on use


def test_after_sign_out_the_old_cookie_cannot_read_the_inbox(org: Any) -> None:
    client = client_for(new_citizen())
    assert client.get("/").status_code == 200
    replay = _replay(client)
    assert replay.get("/").status_code == 200
    assert client.post("/signout/").status_code == 302
    page = replay.get("/").content.decode()
    assert "signed-in" not in page and "/signin/" in page  # the welcome page
    assert replay.get("/me/")["Location"] == "/signin/"


def test_after_account_deletion_the_old_cookie_cannot_read_the_inbox(org: Any) -> None:
    send_push(org, title="宣導")
    citizen = new_citizen()
    client = client_for(citizen)
    assert "宣導" in client.get("/").content.decode()
    replay = _replay(client)
    assert client.post("/me/delete/", {"confirm": "刪除"})["Location"] == "/goodbye/"
    page = replay.get("/").content.decode()
    assert "宣導" not in page and "signed-in" not in page
    assert replay.get("/me/")["Location"] == "/signin/"


def test_deletion_from_another_device_ends_this_session_for_writes_at_once_and_reads_when_due(
    org: Any, monkeypatch: Any
) -> None:
    send_push(org, title="宣導")
    citizen = new_citizen()
    phone, laptop = client_for(citizen), client_for(citizen)  # two sessions
    assert "宣導" in phone.get("/").content.decode()
    assert laptop.post("/me/delete/", {"confirm": "刪除"})["Location"] == "/goodbye/"
    assert phone.post("/me/edit/", {"display_name": "x"})["Location"] == "/signin/"  # writes: checked
    phone = _replay(phone)
    now = middleware.time.time()
    monkeypatch.setattr(middleware.time, "time", lambda: now + middleware.SNAPSHOT_MAX_AGE)
    assert "宣導" not in phone.get("/").content.decode()
    assert phone.get("/me/")["Location"] == "/signin/"
    assert CITIZEN_SESSION_KEY not in phone.session


def test_a_new_privacy_notice_sends_the_old_session_to_consent_then_back_to_the_inbox(org: Any, settings: Any) -> None:
    citizen = new_citizen()
    client = client_for(citizen)
    assert client.get("/").status_code == 200
    settings.PRIVACY_NOTICE_VERSION = "2099-01"
    assert client.get("/")["Location"] == "/consent/"
    assert _replay(client).get("/me/")["Location"] == "/consent/"
    assert client.post("/consent/", {"notice_version": "2099-01", "accept": "on"})["Location"] == "/"
    assert client.session[SNAPSHOT_SESSION_KEY]["consent"] == "2099-01"
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/").status_code == 200
    assert _citizen_queries(ctx.captured_queries) == []


def test_consent_given_on_another_device_is_seen_without_a_detour(org: Any, settings: Any) -> None:
    citizen = new_citizen()
    client = client_for(citizen)
    client.get("/")
    settings.PRIVACY_NOTICE_VERSION = "2099-01"
    services.do_record_consent(citizen, notice_version="2099-01", client_ip=None)
    assert client.get("/").status_code == 200  # the stale snapshot is checked before a redirect
