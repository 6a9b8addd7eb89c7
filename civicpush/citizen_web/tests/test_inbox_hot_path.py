"""What the inbox's hot path must keep: CSRF protection of the page's forms with the fast token
masking, the staff idle timeout with the citizen shortcut in its middleware, and the shared-client
Redis cache backend behind cached sessions."""

from __future__ import annotations

import os
import re
import time
from typing import Any
from urllib.parse import urlparse

import pytest
from django.contrib.sessions.backends.cached_db import SessionStore
from django.core.cache import caches
from django.middleware.csrf import CSRF_TOKEN_LENGTH, _unmask_cipher_token
from django.test import Client

from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.citizens.tests.factories import taitung
from civicpush.core.middleware import STAFF_LAST_SEEN_KEY

from .. import shell
from .pushes import client_for, new_citizen, send_push

pytestmark = pytest.mark.django_db
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"')


@pytest.fixture(autouse=True)
def reference_data(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    taitung()
    shell.clear()


def test_the_inbox_forms_carry_a_fresh_mask_of_the_cookie_secret_and_post_only_with_it(org: Any) -> None:
    citizen = new_citizen()
    client = Client(enforce_csrf_checks=True)
    session = client.session
    session[CITIZEN_SESSION_KEY] = citizen.pk
    session.save()
    first = client.get("/")  # no CSRF cookie yet: Django makes the secret and sets the cookie
    secret = first.cookies["csrftoken"].value
    tokens = []
    for _ in range(3):
        page = client.get("/")
        assert page.status_code == 200
        assert page.cookies["csrftoken"].value == secret  # the cookie is renewed, the secret kept
        found = set(_TOKEN.findall(page.content.decode()))
        assert len(found) == 1  # one token for the sign-out and language forms
        tokens.append(found.pop())
    assert len(set(tokens)) == 3  # masked afresh on every response (BREACH)
    assert all(len(t) == CSRF_TOKEN_LENGTH and _unmask_cipher_token(t) == secret for t in tokens)

    assert client.post("/signout/").status_code == 403
    assert client.post("/signout/", {"csrfmiddlewaretoken": tokens[0][:-1] + "A"}).status_code == 403
    assert client.post("/signout/", {"csrfmiddlewaretoken": tokens[0]}).status_code == 302
    assert CITIZEN_SESSION_KEY not in client.session


def test_a_malformed_csrf_cookie_is_replaced_as_django_does(org: Any) -> None:
    client = client_for(new_citizen())
    client.cookies["csrftoken"] = "not-a-secret"
    page = client.get("/")
    secret = page.cookies["csrftoken"].value
    assert secret != "not-a-secret" and len(secret) == CSRF_TOKEN_LENGTH // 2
    token = _TOKEN.search(page.content.decode())
    assert token and _unmask_cipher_token(token.group(1)) == secret


def test_a_staff_session_still_ends_after_the_idle_time(org: Any, settings: Any) -> None:
    settings.STAFF_IDLE_TIMEOUT_SECONDS = 60
    client = Client()
    client.force_login(org.user("prevention.drafter"))
    assert client.get("/console/").status_code == 200
    session = client.session
    session[STAFF_LAST_SEEN_KEY] = time.time() - 120
    session.save()
    response = client.get("/console/")
    assert response.status_code == 302 and "/console/login/" in response["Location"]


def _redis_url() -> str:
    for name in ("CIVICPUSH_TEST_REDIS_URL", "CELERY_BROKER_URL"):
        url = os.environ.get(name, "")
        if urlparse(url).scheme in ("redis", "rediss"):
            return url
    return ""


@pytest.fixture
def shared_redis_cache(settings: Any) -> Any:
    url = _redis_url()
    if not url:
        pytest.skip("needs CIVICPUSH_TEST_REDIS_URL or a redis:// CELERY_BROKER_URL")
    prefix = f"inbox-hot-path-test-{os.getpid()}-{time.monotonic_ns()}"
    settings.CACHES = {
        "default": {"BACKEND": "civicpush.core.cache.SharedClientRedisCache", "LOCATION": url, "KEY_PREFIX": prefix}
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    return caches["default"]


def test_the_shared_client_cache_behaves_as_djangos_and_reuses_its_client(shared_redis_cache: Any) -> None:
    cache = shared_redis_cache
    assert cache.get("missing") is None and cache.get("missing", 7) == 7
    cache.set("a", {"x": [1, "二"]}, 30)
    cache.set("n", 5, 30)
    assert cache.get("a") == {"x": [1, "二"]} and cache.incr("n") == 6
    assert cache.get_many(["a", "n", "missing"]) == {"a": {"x": [1, "二"]}, "n": 6}
    cache.delete("a")
    assert cache.get("a") is None
    backend = cache._cache
    assert backend.get_client() is backend.get_client()
    pool = backend._get_connection_pool(False)
    conn = pool.get_connection()
    conn.disconnect()  # a dropped connection: the next GET reconnects (or goes through the client)
    pool.release(conn)
    cache.set("b", "值", 30)
    assert cache.get("b") == "值"


def test_cached_sessions_through_the_shared_client_end_at_sign_out(org: Any, shared_redis_cache: Any) -> None:
    client = client_for(new_citizen())
    key = client.cookies["sessionid"].value
    assert client.get("/").status_code == 200
    assert shared_redis_cache.get(SessionStore(session_key=key).cache_key) is not None  # served from Redis
    assert client.post("/signout/").status_code == 302
    replay = Client()
    replay.cookies["sessionid"] = key
    assert replay.get("/me/")["Location"] == "/signin/"


def test_a_remembered_rendered_page_follows_reads_and_new_pushes(org: Any) -> None:
    citizen = new_citizen()
    client = client_for(citizen)
    first = send_push(org, title="第一則")

    def page() -> str:
        return _TOKEN.sub("T", client.get("/").content.decode())

    before = page()
    assert page() == before  # the same page again (the remembered one), a fresh token aside
    assert "第一則" in before and "unread-dot" in before
    assert client.get(f"/m/{first.pk}/").status_code == 200  # opening it records the read
    after_read = page()
    assert after_read != before and "unread-dot" not in after_read
    send_push(org, title="第二則")
    assert "第二則" in page()


@pytest.mark.parametrize("language", ["zh-hant", "en"])
def test_the_kept_relative_times_are_what_inbox_time_says(language: str) -> None:
    import datetime

    import time_machine
    from django.utils import translation

    from civicpush.citizen_web.inbox_views import _relative_text
    from civicpush.citizen_web.templatetags.citizen_inbox import inbox_time

    # 00:00:00.25 in Taipei: every delta below stays on that Taipei day, as `_time_text` asks for it
    value = datetime.datetime(2026, 11, 21, 16, 0, 0, 250_000, tzinfo=datetime.UTC)
    with translation.override(language):
        for seconds in (0, 1, 2, 59, 60, 61, 119, 120, 3599, 3600, 3601, 7300, 86_399, -30):
            with time_machine.travel(value + datetime.timedelta(seconds=seconds), tick=False):
                assert _relative_text(value, language) == inbox_time(value), seconds
                assert _relative_text(value, language) == inbox_time(value), seconds  # (kept)


@pytest.mark.parametrize("language", ["zh-hant", "en"])
def test_kept_time_texts_are_the_ones_computed_afresh(language: str) -> None:
    import datetime

    import time_machine
    from django.utils import translation

    from civicpush.citizen_web.inbox_views import TAIPEI, _time_text, _time_texts_of
    from civicpush.pushes.inbox import RememberedPage
    from civicpush.pushes.timeline import Entry

    start = datetime.datetime(2026, 11, 21, 15, 0, 0, 300_000, tzinfo=datetime.UTC)  # 23:00 in Taipei
    ago = (0, 1, 59, 61, 600, 3599, 3601, 7 * 3600, 86_400, 3 * 86_400, 400 * 86_400)
    page = [
        (Entry(i, start - datetime.timedelta(seconds=s), i, "everyone", "notice", "normal", False, None,
               None, None, "", f"t{i}", "", "", ""), False)
        for i, s in enumerate(ago)
    ]  # fmt: skip
    memo = RememberedPage((), None, start, start, page, 0, set())  # type: ignore[arg-type]
    computed = kept = 0
    with translation.override(language):
        # Every half second for 2 minutes, then every 7 s to past Taipei midnight (an hour later).
        moments = [start + datetime.timedelta(seconds=x / 2) for x in range(240)]
        moments += [start + datetime.timedelta(seconds=120 + 7 * x) for x in range(600)]
        for moment in moments:
            with time_machine.travel(moment, tick=False):
                before = memo.texts
                texts = _time_texts_of(memo, language, moment)
                today = moment.astimezone(TAIPEI).date()
                assert texts == tuple(_time_text(e, today, language) for e, _p in page), moment
                computed, kept = (computed + 1, kept) if memo.texts is not before else (computed, kept + 1)
    assert kept > computed > 50  # kept between changes, computed again at each change
