"""The inbox's WSGI fast path (citizen_web/fastpath.py) answers exactly what Django answers.

Each test calls the WSGI application object the way a server does, once through the fast path and
once with it off (`FastPathApplication.active`), and compares status, headers and body; the only
differences allowed are the CSRF token's per-response mask (the unmasked secret must be the same)
and the cookie expiry times. A spy on the Django application says which path answered.
"""

from __future__ import annotations

import datetime
import difflib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from importlib import import_module
from typing import Any
from urllib.parse import urlparse
from wsgiref.util import setup_testing_defaults

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage, MessageEncoder
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest
from django.middleware.csrf import _get_new_csrf_string, _unmask_cipher_token
from django.urls import clear_script_prefix
from django.utils import timezone

from civicpush.citizens.middleware import CITIZEN_SESSION_KEY, SNAPSHOT_SESSION_KEY, session_snapshot
from civicpush.citizens.models import Citizen, CitizenStatus
from civicpush.citizens.tests.factories import taitung
from civicpush.core.fastpath import FastPathApplication, routes
from civicpush.core.middleware import STAFF_LAST_SEEN_KEY
from civicpush.pushes import services as push_services
from civicpush.pushes.models import PushType, TargetKind

from .. import fastpath, shell
from .pushes import group_of, new_citizen, send_push

# WSGI requests open and close database connections as a server's do (close_old_connections), which
# a test wrapped in a transaction cannot allow.
pytestmark = pytest.mark.django_db(transaction=True)
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')
_EXPIRES = re.compile(r"expires=[^;]+")
_SESSION_ID = re.compile(r"sessionid=[a-z0-9]+")
_CSRF_COOKIE = re.compile(r"csrftoken=[A-Za-z0-9]+")


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes, by_django: bool) -> None:
        self.status, self.headers, self.body, self.by_django = status, headers, body, by_django

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def normalised(self) -> tuple[str, list[tuple[str, str]], str]:
        """The answer without what differs by design: the token's mask (its secret must be the
        cookie's), cookie expiry times, a CSRF secret Django made, and, after a session was
        rewritten, the new session id."""
        body = self.body.decode()
        secret = next(iter(self.cookie("csrftoken")), None)
        for token in _TOKEN.findall(body):
            assert _unmask_cipher_token(token) == secret
        headers = []
        for name, value in self.headers:
            if name == "Set-Cookie":
                value = _SESSION_ID.sub("sessionid=S", _EXPIRES.sub("expires=E", value))
                if secret != _SECRET:  # Django made a new secret (a new one each time)
                    value = _CSRF_COOKIE.sub("csrftoken=C", value)
            elif name == "Content-Length":
                assert int(value) == len(self.body)
                continue  # (the normalised body has its own length)
            headers.append((name, value))
        return self.status, headers, _TOKEN.sub('name="csrfmiddlewaretoken" value="T"', body)

    def cookie(self, name: str) -> list[str]:
        found = []
        for value in self.header("Set-Cookie"):
            key, _sep, rest = value.strip().partition("=")
            if key == name:
                found.append(rest.split(";", 1)[0])
        return found


@pytest.fixture
def app(settings: Any, tmp_path: Any) -> Iterator[Callable[..., Answer]]:
    """`app(environ, fast=True)`: one request through a fresh WSGI application (Django's handler
    loads its middleware, and so reads their settings, when it is made)."""
    settings.MEDIA_ROOT = tmp_path
    taitung()
    shell.clear()

    def call(environ: dict[str, Any], *, fast: bool = True) -> Answer:
        django_app = WSGIHandler()
        called = []

        def spy(env: dict[str, Any], start_response: Any) -> Any:
            called.append(True)
            return django_app(env, start_response)

        application = FastPathApplication(spy)
        application.active = fast
        out: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            out["status"], out["headers"] = status, list(headers)

        chunks = application(dict(environ), start_response)
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()  # (Django's request_finished)
        return Answer(out["status"], out["headers"], body, by_django=bool(called))

    yield call
    clear_script_prefix()


def signed_in(citizen: Citizen, **snapshot: Any) -> str:
    """A session as sign-in makes it (citizens.middleware.store_snapshot), in the configured engine."""
    store = import_module(django_settings.SESSION_ENGINE).SessionStore()
    store[CITIZEN_SESSION_KEY] = citizen.pk
    store[SNAPSHOT_SESSION_KEY] = {**session_snapshot(citizen, django_settings.PRIVACY_NOTICE_VERSION), **snapshot}
    store.create()
    return str(store.session_key)


def environ(
    session_key: str | None = None, *, csrf: str | None = "", cookies: str = "", **extra: Any
) -> dict[str, Any]:
    jar = []
    if session_key:
        jar.append(f"sessionid={session_key}")
    if csrf is not None:
        jar.append(f"csrftoken={csrf or _SECRET}")
    if cookies:
        jar.append(cookies)
    env: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": ""}
    if jar:
        env["HTTP_COOKIE"] = "; ".join(jar)
    env.update(extra)
    setup_testing_defaults(env)
    return env


_SECRET = _get_new_csrf_string()


def same_answer(app: Callable[..., Answer], make: Callable[[], dict[str, Any]], *, fast: bool) -> Answer:
    """Django's answer and the application's (fast path on) for the same request, compared; `fast`:
    whether the fast path must have answered it. `make` builds the request (and its state) anew."""
    with time_machine.travel(timezone.now(), tick=False):  # (relative times: "now", "1 second ago")
        django = app(make(), fast=False)
        answer = app(make(), fast=True)
    assert django.by_django
    assert answer.by_django is not fast
    ours, theirs = answer.normalised(), django.normalised()
    if ours[2] != theirs[2]:
        print("\n".join(difflib.unified_diff(theirs[2].splitlines(), ours[2].splitlines(), lineterm="")))
    assert ours == theirs
    return answer


@pytest.fixture
def inbox_data(org: Any) -> dict[str, Any]:
    """A citizen with an everyday inbox: pushes to everyone (one a pinned notice, one with an image),
    to a group, a personal notice, one read."""
    citizen = new_citizen()
    other = new_citizen()
    group = group_of(org, [citizen, other])
    send_push(org, title="第一則 <b>公告</b>")
    send_push(org, title="置頂", push_type=PushType.NOTICE, pinned=True)
    read = send_push(org, title="已讀", image_alt="圖")
    send_push(org, title="群組", target_kind=TargetKind.GROUPS, target_group_ids=[group.pk])
    push_services.do_record_read(citizen, read)
    return {"citizen": citizen, "other": other}


def test_the_fast_path_answers_the_signed_in_inbox_as_django_does(app: Any, inbox_data: Any) -> None:
    key = signed_in(inbox_data["citizen"])
    answer = same_answer(app, lambda: environ(key), fast=True)
    assert answer.status == "200 OK"
    assert "第一則 &lt;b&gt;公告&lt;/b&gt;" in answer.body.decode() and "置頂" in answer.body.decode()
    assert answer.cookie("csrftoken") == [_SECRET]  # renewed, as get_token marks it
    assert answer.header("Vary") == ["Cookie, Accept-Language"]
    assert answer.header("Cache-Control") == ["private, no-store"]
    assert answer.header("X-Frame-Options") == ["DENY"] and answer.header("Content-Language") == ["zh-hant"]
    again = same_answer(app, lambda: environ(key), fast=True)  # the remembered page
    tokens = {_TOKEN.search(a.body.decode()).group(1) for a in (answer, again)}  # type: ignore[union-attr]
    assert len(tokens) == 2  # a fresh mask on every response (BREACH)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.8"}, "en"),
        ({"HTTP_ACCEPT_LANGUAGE": "zh-TW,zh;q=0.9,en;q=0.5"}, "zh-hant"),
        ({"HTTP_ACCEPT_LANGUAGE": "fr, *"}, "zh-hant"),
        ({"language_cookie": "en", "HTTP_ACCEPT_LANGUAGE": "zh-TW"}, "en"),
        ({"language_cookie": "xx", "HTTP_ACCEPT_LANGUAGE": "en"}, "en"),
    ],
)
def test_the_language_is_the_one_locale_middleware_picks(
    app: Any, inbox_data: Any, extra: dict[str, str], expected: str
) -> None:
    key = signed_in(inbox_data["citizen"])
    extra = dict(extra)
    cookie = extra.pop("language_cookie", "")
    answer = same_answer(
        app, lambda: environ(key, cookies=f"django_language={cookie}" if cookie else "", **extra), fast=True
    )
    assert answer.header("Content-Language") == [expected]


def test_https_script_prefix_and_security_settings_are_honoured(app: Any, inbox_data: Any, settings: Any) -> None:
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.CSRF_COOKIE_SECURE = True
    settings.CSRF_COOKIE_HTTPONLY = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    key = signed_in(inbox_data["citizen"])
    answer = same_answer(app, lambda: environ(key, HTTP_X_FORWARDED_PROTO="https"), fast=True)
    assert answer.header("Strict-Transport-Security") == ["max-age=3600; includeSubDomains"]
    assert "Secure" in answer.header("Set-Cookie")[0]
    plain = same_answer(app, lambda: environ(key, HTTP_X_FORWARDED_PROTO="http"), fast=True)
    assert not plain.header("Strict-Transport-Security")
    prefixed = same_answer(app, lambda: environ(key, SCRIPT_NAME="/civic"), fast=True)
    assert 'href="/civic/me/' in prefixed.body.decode()
    settings.SECURE_SSL_REDIRECT = True
    redirected = same_answer(app, lambda: environ(key), fast=False)
    assert redirected.status.startswith("301")


def test_a_new_push_and_a_read_show_at_once(app: Any, org: Any, inbox_data: Any) -> None:
    citizen = inbox_data["citizen"]
    key = signed_in(citizen)
    before = app(environ(key)).body.decode()
    assert not app(environ(key)).by_django
    push = send_push(org, title="新的一則", push_type=PushType.NOTICE)  # (promotions: 3 a day)
    after = same_answer(app, lambda: environ(key), fast=True).body.decode()
    assert "新的一則" not in before
    assert "新的一則" in after
    push_services.do_record_read(citizen, push)
    read = same_answer(app, lambda: environ(key), fast=True).body.decode()
    assert read != after
    personal = send_push(
        org,
        title="[申辦進度]您的案件已受理",
        push_type=PushType.NOTICE,
        target_kind=TargetKind.PERSON,
        target_person=citizen.phone_e164,
    )
    assert personal.title in same_answer(app, lambda: environ(key), fast=True).body.decode()
    assert personal.title not in app(environ(signed_in(inbox_data["other"]))).body.decode()


def _fresh(citizen: Citizen, **snapshot: Any) -> Callable[[], dict[str, Any]]:
    return lambda: environ(signed_in(citizen, **snapshot))


def test_requests_outside_the_narrow_case_go_to_django(app: Any, inbox_data: Any, settings: Any) -> None:
    citizen = inbox_data["citizen"]
    key = signed_in(citizen)
    welcome = same_answer(app, lambda: environ(None), fast=False)  # nobody signed in
    assert welcome.status == "200 OK" and "signin" in welcome.body.decode()
    same_answer(app, lambda: environ("no-such-session-key"), fast=False)
    same_answer(app, lambda: environ("short"), fast=False)
    same_answer(app, lambda: environ(key, csrf=None), fast=False)  # Django makes the CSRF secret
    same_answer(app, lambda: environ(key, csrf="not-a-secret"), fast=False)  # and replaces a bad one
    masked = "a" * 64  # a masked token as cookie: Django unmasks it and sets the secret
    assert same_answer(app, lambda: environ(key, csrf=masked), fast=False).cookie("csrftoken") != [masked]
    same_answer(app, lambda: environ(key, QUERY_STRING="type=notice"), fast=False)
    same_answer(app, lambda: environ(key, QUERY_STRING="q="), fast=False)
    same_answer(app, lambda: environ(key, HTTP_HOST="evil.example"), fast=False)  # 400
    same_answer(app, lambda: environ(key, cookies="messages=garbage"), fast=False)
    head = same_answer(app, lambda: environ(key, REQUEST_METHOD="HEAD"), fast=False)
    assert head.status.startswith("405")  # (views.home: require_GET)
    # The snapshot is stale (Django checks the database and rewrites the session), for someone else,
    # for a notice no longer current (Django checks, then sends them to /consent/), or for a deleted
    # citizen.
    stale = same_answer(app, _fresh(citizen, checked=int(time.time()) - 61), fast=False)
    assert stale.cookie("sessionid")  # the rewritten snapshot is saved
    same_answer(app, _fresh(citizen, id=inbox_data["other"].pk), fast=False)
    same_answer(app, _fresh(citizen, consent=""), fast=False)
    same_answer(app, _fresh(citizen, status=CitizenStatus.DELETED), fast=False)
    # Settings the fast path does not reproduce: Django answers.
    settings.DEBUG = True
    same_answer(app, lambda: environ(key), fast=False)
    settings.DEBUG = False
    same_answer(app, lambda: environ(key), fast=True)


def test_a_deleted_citizen_is_refused_once_the_snapshot_is_due(app: Any, inbox_data: Any) -> None:
    citizen = inbox_data["citizen"]
    Citizen.objects.filter(pk=citizen.pk).update(status=CitizenStatus.DELETED)
    # Within SNAPSHOT_MAX_AGE a GET may rely on the snapshot (ADR 0006): both paths show the inbox.
    same_answer(app, _fresh(citizen), fast=True)
    due = same_answer(app, _fresh(citizen, checked=int(time.time()) - 60), fast=False)
    assert "signin" in due.body.decode() and "unread" not in due.body.decode()


def test_sessions_with_staff_or_flash_messages_go_to_django(app: Any, org: Any, inbox_data: Any) -> None:
    citizen = inbox_data["citizen"]
    staff = org.user("prevention.drafter")

    def with_staff() -> dict[str, Any]:
        store = import_module(django_settings.SESSION_ENGINE).SessionStore()
        store[CITIZEN_SESSION_KEY] = citizen.pk
        store[SNAPSHOT_SESSION_KEY] = session_snapshot(citizen, django_settings.PRIVACY_NOTICE_VERSION)
        store["_auth_user_id"] = str(staff.pk)
        store["_auth_user_backend"] = django_settings.AUTHENTICATION_BACKENDS[0]
        store["_auth_user_hash"] = staff.get_session_auth_hash()
        store[STAFF_LAST_SEEN_KEY] = time.time()
        store.create()
        return environ(store.session_key)

    assert same_answer(app, with_staff, fast=False).cookie("sessionid")  # the idle clock is written

    def with_session_messages() -> dict[str, Any]:
        store = import_module(django_settings.SESSION_ENGINE).SessionStore()
        store[CITIZEN_SESSION_KEY] = citizen.pk
        store[SNAPSHOT_SESSION_KEY] = session_snapshot(citizen, django_settings.PRIVACY_NOTICE_VERSION)
        store["_messages"] = json.dumps([Message(messages.SUCCESS, "已儲存")], cls=MessageEncoder)
        store.create()
        return environ(store.session_key)

    same_answer(app, with_session_messages, fast=False)
    flash = CookieStorage(HttpRequest())._encode([Message(messages.SUCCESS, "已儲存")])
    key = signed_in(citizen)
    shown = same_answer(app, lambda: environ(key, cookies=f"messages={flash}"), fast=False)
    assert "已儲存" in shown.body.decode()


def test_an_expired_session_goes_to_django(app: Any, inbox_data: Any) -> None:
    citizen = inbox_data["citizen"]

    def expired() -> dict[str, Any]:
        key = signed_in(citizen)
        Session.objects.filter(session_key=key).update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
        store = import_module(django_settings.SESSION_ENGINE).SessionStore(key)
        if hasattr(store, "cache_key"):
            caches[django_settings.SESSION_CACHE_ALIAS].delete(store.cache_key)  # (the cache entry's TTL)
        return environ(key)

    answer = same_answer(app, expired, fast=False)
    assert answer.cookie("sessionid") == ['""']  # Django deletes the cookie of an empty session


def _redis_url() -> str:
    for name in ("CIVICPUSH_TEST_REDIS_URL", "CELERY_BROKER_URL"):
        url = os.environ.get(name, "")
        if urlparse(url).scheme in ("redis", "rediss"):
            return url
    return ""


@pytest.mark.parametrize("cache", ["locmem", "redis"])
def test_cached_db_sessions_are_read_as_the_engine_reads_them(
    app: Any, inbox_data: Any, settings: Any, cache: str
) -> None:
    if cache == "redis":
        url = _redis_url()
        if not url:
            pytest.skip("needs CIVICPUSH_TEST_REDIS_URL or a redis:// CELERY_BROKER_URL")
        backend = {"BACKEND": "civicpush.core.cache.SharedClientRedisCache", "LOCATION": url}
    else:
        backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "fastpath-test"}
    prefix = f"inbox-fastpath-test-{os.getpid()}-{time.monotonic_ns()}"
    settings.CACHES = {"default": {**backend, "KEY_PREFIX": prefix}}
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    citizen = inbox_data["citizen"]
    key = signed_in(citizen)
    same_answer(app, lambda: environ(key), fast=True)
    store = import_module(settings.SESSION_ENGINE).SessionStore(key)
    caches["default"].delete(store.cache_key)  # a cache miss: the engine reads the database again
    same_answer(app, lambda: environ(key), fast=True)
    assert caches["default"].get(store.cache_key) is not None  # and fills the cache, as for Django
    store.delete()  # signed out elsewhere: gone from the cache and the database
    same_answer(app, lambda: environ(key), fast=False)


def test_the_fast_path_is_registered_for_get_slash_only() -> None:
    assert routes()[("GET", "/")] is fastpath.inbox
    assert ("HEAD", "/") not in routes()


def test_a_fast_path_request_has_the_request_context_django_sets(monkeypatch: Any) -> None:
    """FastPathApplication sets what RequestContextMiddleware sets (the client address) around a
    handler, and restores the previous context after it."""
    from civicpush.core import fastpath as core_fastpath
    from civicpush.core import request_context

    seen = []

    def handler(env: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(request_context.current())
        start_response("200 OK", [])
        return [b""]

    monkeypatch.setattr(core_fastpath, "_routes", {("GET", "/x"): handler})
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "REMOTE_ADDR": "198.51.100.9"}
    setup_testing_defaults(env)
    FastPathApplication(lambda e, s: [])(env, lambda *a: None)
    assert seen[0].client_ip == "198.51.100.9" and seen[0].request_id
    assert request_context.current().client_ip is None


def test_an_error_on_the_fast_path_leaves_the_request_to_django(
    app: Any, inbox_data: Any, monkeypatch: Any, caplog: Any
) -> None:
    def broken(snap: Any) -> None:
        raise RuntimeError("session store unavailable")

    monkeypatch.setattr(fastpath, "_SnapshotCitizen", broken)
    key = signed_in(inbox_data["citizen"])
    assert same_answer(app, lambda: environ(key), fast=False).status == "200 OK"
    assert "Django answers this request" in caplog.text


def test_the_fast_path_renders_a_page_not_seen_before_as_django_does(app: Any, inbox_data: Any) -> None:
    """A page neither path has rendered in this process (its shell and remembered page are made
    by the fast path, with the fast path's stand-in request as the template's)."""
    from civicpush.pushes.inbox import clear_memos

    key = signed_in(inbox_data["citizen"])
    with time_machine.travel(timezone.now(), tick=False):
        for language in ("en", "zh-TW"):
            shell.clear()
            clear_memos()
            fast = app(environ(key, HTTP_ACCEPT_LANGUAGE=language), fast=True)
            django = app(environ(key, HTTP_ACCEPT_LANGUAGE=language), fast=False)
            assert not fast.by_django
            assert fast.normalised() == django.normalised()
