"""`GET /` for a signed-in citizen, answered before Django (core.fastpath; ADR 0014, "Inbox").

The citizen's inbox is the most requested page. Django's path for it is its twelve middleware,
URL resolution and `views.home` → `inbox_views.inbox`, which, for a repeat visit, serves the page
that `inbox_views.prefilled_page` keeps with the citizen's remembered page (pushes.inbox) and fills
in the CSRF token. This handler answers the same request from the WSGI environ: it does what each
middleware does for this request and then calls the same `prefilled_page` and `shell.finish`, so the
body is the one Django sends (up to the CSRF token's per-response mask) with the same status and
headers (tests/test_inbox_fastpath.py compares both paths).

It answers only the narrow common case and returns None (Django answers) for anything else:
- settings as this module reproduces them (`_Config`: the project's MIDDLEWARE list, DEBUG off, a
  session engine whose own `load()` it calls, no ATOMIC_REQUESTS, `/` routed to `views.home` …);
- no query string (filters, search and later pages stay with Django); a Host that
  `ALLOWED_HOSTS` allows (else Django's 400); not a request SECURE_SSL_REDIRECT would redirect;
- a session cookie naming a session that the configured engine loads (its own `load()`: cache,
  database and expiry exactly as Django reads them) and that holds the citizen snapshot
  (citizens.middleware) for the same citizen, checked less than SNAPSHOT_MAX_AGE seconds ago, for
  an active citizen who accepted the current privacy notice: the cases in which CitizenMiddleware
  serves a GET from the snapshot without a query and without writing the session. A stale,
  missing or mismatched snapshot, a deleted citizen or a missing consent go to Django, which checks
  the database, rewrites the session or redirects;
- no staff sign-in in the session (StaffIdleTimeoutMiddleware would load the user and write the
  session) and no flash messages (session or cookie: rendering consumes them);
- a well-formed CSRF cookie (the 32-character secret; otherwise Django makes, unmasks or replaces it).

What Django does for such a request and this handler therefore does too: the language as
LocaleMiddleware picks it (`get_language_from_request`: cookie, Accept-Language, LANGUAGE_CODE) and
activates it; the script prefix (set_script_prefix); the CSRF cookie renewed (`get_token` marks it
for update on every page that shows a token); `Vary: Cookie, Accept-Language` (the session was read);
Content-Language; Cache-Control `private, no-store` (views._private); CivicPush-Offline; the
security headers of SecurityMiddleware and XFrameOptionsMiddleware. The page records nothing per
request (reads are recorded when a message is opened, on /m/<id>/, which stays with Django).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import get_script_name, get_str_from_wsgi
from django.core.signals import setting_changed
from django.http import HttpResponse
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.urls import resolve, set_script_prefix
from django.urls.exceptions import Resolver404
from django.utils import translation
from django.utils.encoding import escape_uri_path
from django.utils.translation import trans_real

from civicpush.citizens.middleware import CITIZEN_SESSION_KEY, SNAPSHOT_MAX_AGE, SNAPSHOT_SESSION_KEY
from civicpush.citizens.models import CitizenStatus
from civicpush.core import fastpath

logger = logging.getLogger(__name__)

# The middleware whose effects on `GET /` this handler reproduces; any other list: Django answers.
EXPECTED_MIDDLEWARE = fastpath.REPRODUCED_MIDDLEWARE
# Session engines whose SessionStore.load() is all SessionMiddleware does to read a session.
SESSION_ENGINES = frozenset(
    {
        "django.contrib.sessions.backends.cached_db",
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cache",
    }
)
_MESSAGE_STORAGE = "django.contrib.messages.storage.fallback.FallbackStorage"
_MESSAGES_COOKIE = "messages"  # CookieStorage.cookie_name
_MESSAGES_SESSION_KEY = "_messages"  # SessionStorage.session_key
_STAFF_SESSION_KEY = "_auth_user_id"  # django.contrib.auth.SESSION_KEY
_CSRF_CHARS = frozenset(CSRF_ALLOWED_CHARS)
_ACTIVE = CitizenStatus.ACTIVE.value
_PLACEHOLDER = "CivicPushCsrfSecretPlaceholder00"  # (as long as a secret; letters and digits only)


@dataclass(frozen=True)
class _Config:
    """What the handler needs from settings, read once (and again after a setting changes)."""

    session_store: Any
    session_cookie: str
    csrf_cookie: str
    language_cookie: str
    notice_version: str
    allowed_hosts: tuple[str, ...]
    use_x_forwarded_host: bool
    proxy_ssl_header: tuple[str, str] | None
    ssl_redirect: bool
    content_type: str
    head: tuple[tuple[str, str], ...]  # headers before Content-Length
    tail_secure: tuple[tuple[str, str], ...]  # after Content-Language, on https
    tail_plain: tuple[tuple[str, str], ...]  # after Content-Language, on http
    csrf_cookie_args: dict[str, Any]


def _build_config() -> _Config | None:
    """None when the settings are not the ones this handler reproduces (Django answers)."""
    from . import views

    if (
        settings.DEBUG
        or tuple(settings.MIDDLEWARE) != EXPECTED_MIDDLEWARE
        or settings.SESSION_ENGINE not in SESSION_ENGINES
        or settings.SESSION_SAVE_EVERY_REQUEST
        or settings.CSRF_USE_SESSIONS
        or settings.MESSAGE_STORAGE != _MESSAGE_STORAGE
        or settings.DEFAULT_CHARSET.lower() != "utf-8"
        or settings.DISALLOWED_USER_AGENTS
        or settings.PREPEND_WWW
        or any(db.get("ATOMIC_REQUESTS") for db in settings.DATABASES.values())
        or getattr(settings, "WHITENOISE_INDEX_FILE", False)  # (WhiteNoise could serve "/" itself)
    ):
        return None
    try:
        match = resolve("/", settings.ROOT_URLCONF)
    except Resolver404:
        return None
    if match.func is not views.home or trans_real.get_language_from_path("/") is not None:
        return None
    from django.conf.urls.i18n import is_language_prefix_patterns_used

    if is_language_prefix_patterns_used(settings.ROOT_URLCONF)[0]:
        return None
    # views.home → _private(inbox_views.inbox(...)): the view's own headers, in Django's order, then
    # XFrameOptionsMiddleware; CsrfViewMiddleware then LocaleMiddleware patch Vary (SessionMiddleware
    # finds Cookie there already); CommonMiddleware adds Content-Length, LocaleMiddleware
    # Content-Language, SecurityMiddleware its headers.
    probe = HttpResponse()
    probe["CivicPush-Offline"] = "keep"
    views._private(probe)
    head = [("Content-Type", probe["Content-Type"]), ("CivicPush-Offline", "keep")]
    head.append(("Cache-Control", probe["Cache-Control"]))
    head.append(("X-Frame-Options", settings.X_FRAME_OPTIONS.upper()))
    head.append(("Vary", "Cookie, Accept-Language"))
    tail: list[tuple[str, str]] = []
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        tail.append(("X-Content-Type-Options", "nosniff"))
    policy = settings.SECURE_REFERRER_POLICY
    if policy:
        value = ",".join([v.strip() for v in policy.split(",")] if isinstance(policy, str) else policy)
        tail.append(("Referrer-Policy", value))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        tail.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    secure_tail = list(tail)
    if settings.SECURE_HSTS_SECONDS:
        sts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            sts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            sts += "; preload"
        secure_tail.insert(0, ("Strict-Transport-Security", sts))
    allowed = list(settings.ALLOWED_HOSTS)
    proxy = settings.SECURE_PROXY_SSL_HEADER
    return _Config(
        session_store=import_module(settings.SESSION_ENGINE).SessionStore,
        session_cookie=settings.SESSION_COOKIE_NAME,
        csrf_cookie=settings.CSRF_COOKIE_NAME,
        language_cookie=settings.LANGUAGE_COOKIE_NAME,
        notice_version=settings.PRIVACY_NOTICE_VERSION,
        allowed_hosts=tuple(allowed),
        use_x_forwarded_host=settings.USE_X_FORWARDED_HOST,
        proxy_ssl_header=tuple(proxy) if proxy else None,  # type: ignore[arg-type]
        ssl_redirect=settings.SECURE_SSL_REDIRECT,
        content_type=probe["Content-Type"],
        head=tuple(head),
        tail_secure=tuple(secure_tail),
        tail_plain=tuple(tail),
        csrf_cookie_args={
            "max_age": settings.CSRF_COOKIE_AGE,
            "domain": settings.CSRF_COOKIE_DOMAIN,
            "path": settings.CSRF_COOKIE_PATH,
            "secure": settings.CSRF_COOKIE_SECURE,
            "httponly": settings.CSRF_COOKIE_HTTPONLY,
            "samesite": settings.CSRF_COOKIE_SAMESITE,
        },
    )


_UNBUILT: Any = object()
_config: Any = _UNBUILT
_config_lock = threading.Lock()


def _current_config() -> _Config | None:
    global _config
    config = _config
    if config is _UNBUILT:
        with _config_lock:
            if _config is _UNBUILT:
                _config = _build_config()
            config = _config
    return config  # type: ignore[no-any-return]


def _forget_config(**kwargs: Any) -> None:
    global _config
    _config = _UNBUILT
    _cookie_tails.clear()


setting_changed.connect(_forget_config, dispatch_uid="civicpush.citizen_web.fastpath")

# "; expires=…; Max-Age=…; Path=/; SameSite=Lax" of the CSRF cookie as Django's set_cookie writes it
# (`expires` is the current second plus CSRF_COOKIE_AGE), kept for the current second.
_cookie_tails: dict[int, tuple[str, str]] = {}


def _csrf_set_cookie(config: _Config, secret: str) -> str:
    second = int(time.time())
    tail = _cookie_tails.get(second)
    if tail is None:
        probe = HttpResponse()
        probe.set_cookie(config.csrf_cookie, _PLACEHOLDER, **config.csrf_cookie_args)
        text = probe.cookies[config.csrf_cookie].output(header="")  # as WSGIHandler sends it
        head, _sep, rest = text.partition(_PLACEHOLDER)
        tail = (head, rest)
        _cookie_tails.clear()
        _cookie_tails[second] = tail
    return tail[0] + secret + tail[1]


class _Request:
    """What `shell.finish`/`masked_csrf_token` and, for a first rendering of the page's shell in
    this process, the template context processors read of a request."""

    __slots__ = ("COOKIES", "META", "full_path")

    def __init__(self, meta: dict[str, Any], cookies: dict[str, str], full_path: str) -> None:
        self.META = meta
        self.COOKIES = cookies
        self.full_path = full_path

    def get_full_path(self) -> str:
        return self.full_path


class _SnapshotCitizen:
    """The citizen as the session's snapshot has them (what CitizenMiddleware's Citizen carries for a
    GET served from the snapshot, and all `pushes.inbox.remembered_page` reads)."""

    __slots__ = ("county_id", "created_at", "pk", "status")

    def __init__(self, snap: dict[str, Any]) -> None:
        import datetime

        self.pk = snap["id"]
        self.county_id = snap["county_id"]
        self.created_at = datetime.datetime.fromisoformat(snap["created_at"])
        self.status = snap["status"]

    @property
    def is_active(self) -> bool:
        return bool(self.status == _ACTIVE)


def _is_secure(config: _Config, environ: dict[str, Any]) -> bool:
    """HttpRequest.is_secure()."""
    if config.proxy_ssl_header is not None:
        header, secure_value = config.proxy_ssl_header
        value = environ.get(header)
        if value is not None:
            return bool(value.split(",", 1)[0].strip() == secure_value)
    return bool(environ.get("wsgi.url_scheme") == "https")


def inbox(environ: dict[str, Any], start_response: Any) -> Iterable[bytes] | None:
    """The `core.fastpath` handler of `GET /`. Any error (the session store or the database
    unavailable …) is logged and the request goes to Django, which answers it as it does."""
    try:
        return _inbox(environ, start_response)
    except Exception:
        logger.exception("inbox fast path: Django answers this request")
        return None


def _inbox(environ: dict[str, Any], start_response: Any) -> Iterable[bytes] | None:
    config = _current_config()
    if config is None or environ.get("QUERY_STRING"):
        return None
    # CommonMiddleware: request.get_host() (DisallowedHost: Django's 400).
    if config.use_x_forwarded_host and "HTTP_X_FORWARDED_HOST" in environ:
        return None
    host = environ.get("HTTP_HOST")
    if not host:
        return None
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, config.allowed_hosts):
        return None
    secure = _is_secure(config, environ)
    if config.ssl_redirect and not secure:
        return None  # SecurityMiddleware redirects
    cookies = parse_cookie(get_str_from_wsgi(environ, "HTTP_COOKIE", ""))
    session_key = cookies.get(config.session_cookie)
    secret = cookies.get(config.csrf_cookie)
    if (
        not session_key
        or secret is None
        or len(secret) != CSRF_SECRET_LENGTH
        or not _CSRF_CHARS.issuperset(secret)
        or _MESSAGES_COOKIE in cookies
    ):
        return None
    # SessionMiddleware: the session as the configured engine loads it.
    store = config.session_store(session_key)
    if store.session_key is None:
        return None  # not a valid key: Django finds an empty session and deletes the cookie
    session = store.load()
    if not session or _STAFF_SESSION_KEY in session or _MESSAGES_SESSION_KEY in session:
        return None
    # CitizenMiddleware and views.home: a GET served from a current snapshot, consent accepted.
    citizen_id = session.get(CITIZEN_SESSION_KEY)
    snap = session.get(SNAPSHOT_SESSION_KEY)
    if (
        not citizen_id
        or snap is None
        or snap.get("id") != citizen_id
        or time.time() - snap.get("checked", 0) >= SNAPSHOT_MAX_AGE
        or snap.get("consent") != config.notice_version
        or snap.get("status") != _ACTIVE
    ):
        return None
    try:
        citizen = _SnapshotCitizen(snap)
    except (KeyError, TypeError, ValueError):
        return None
    return _answer(config, environ, start_response, cookies, secret, citizen, secure)


def _answer(
    config: _Config,
    environ: dict[str, Any],
    start_response: Any,
    cookies: dict[str, str],
    secret: str,
    citizen: _SnapshotCitizen,
    secure: bool,
) -> Iterable[bytes] | None:
    from . import inbox_views
    from .shell import finish

    # WSGIHandler: the script prefix; LocaleMiddleware: the language (and it stays active, as there).
    script_name = get_script_name(environ)
    set_script_prefix(script_name)
    meta = {"CSRF_COOKIE": secret, "HTTP_ACCEPT_LANGUAGE": environ.get("HTTP_ACCEPT_LANGUAGE", "")}
    request = _Request(meta, cookies, escape_uri_path(script_name.rstrip("/") + "/"))
    translation.activate(translation.get_language_from_request(request))  # type: ignore[arg-type]
    language = translation.get_language()
    page = inbox_views.prefilled_page(request, citizen, inbox_views._NO_QUERY)  # type: ignore[arg-type]
    body = finish(request, page)  # type: ignore[arg-type]
    headers = [*config.head, ("Content-Length", str(len(body))), ("Content-Language", language)]
    headers += config.tail_secure if secure else config.tail_plain
    if not meta.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return None  # (every inbox page has a form, so a token: Vary's order assumes the CSRF cookie)
    headers.append(("Set-Cookie", _csrf_set_cookie(config, secret)))  # CsrfViewMiddleware's renewal
    start_response("200 OK", headers)
    return [body]


def register() -> None:
    fastpath.register("GET", "/", inbox)
