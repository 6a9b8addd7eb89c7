"""`POST /api/v1/coins/transfers` for unit API keys, answered in front of Django (ADR 0014, "Ledger API").

The narrow case answered here: `Authorization: Bearer cpk_…`, no cookie, no query string, a JSON
body of at most MAX_BODY bytes that `TransferIn` accepts, a key that authenticates and whose unit may
pay from the debit account (the same `authorise` as the django-ninja endpoint in
`api/routers/coins.py`). Every other request — a session, a key only in `X-API-Key`, bad JSON, a
field error, an unknown, revoked or test key, another unit's account, an unknown host, a middleware
configuration this module was not written for — returns None before anything happens, and Django
answers it exactly as before (the body is put back for it).

What the answer shares with the Django path, so that both stay the same:
- authentication: `api.auth.principal_for_key` — the same per-process key cache (30 s; a revocation
  saved in this process is seen at once), the same revocation check and last-used bookkeeping;
- authorisation: `api.routers.coins.authorise` (the key's unit and sub-units, pools and budgets only,
  test keys refused) with the same 60-s account cache;
- validation: a plain copy of the endpoint's `TransferIn` (`_plain_model`); idempotency and every
  ledger rule: `routers.coins.run_transfer`, the process's `TransferBatcher`
  (CIVICPUSH_LEDGER_BATCHING=1) or `ledger.transfer`, exactly as the endpoint calls them;
- the ledger's refusals (idempotency conflict, insufficient funds, same account …) and unexpected
  errors: the API's own exception handlers (`api.problems`) in the request's language;
- the response JSON (`routers.coins.transfer_out`) and the headers Django's middleware adds
  (`_Config.headers`).

The equivalence tests (`coins/tests/test_ledger_api_fastpath.py`) call the WSGI application with the
fast path on and off and compare status, body and headers.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, cast

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port, validate_host
from django.utils import translation
from django.utils.log import log_response
from ninja.responses import NinjaJSONEncoder
from pydantic import BaseModel, ValidationError, create_model

from civicpush.core import fastpath
from civicpush.core.errors import DomainError

from . import ledger

PATH = "/api/v1/coins/transfers"
MAX_BODY = 64 * 1024  # a transfer is ~200 bytes; anything larger goes to Django (and its size limit)

# The middleware this module's headers imitate (`_Config.headers`). Another list — a middleware
# added, removed or reordered — turns the fast path off until this module has been brought in line.
KNOWN_MIDDLEWARE = fastpath.REPRODUCED_MIDDLEWARE


class _Request:
    """The few attributes Django's language negotiation and the API's error handler read."""

    COOKIES: dict[str, str] = {}  # requests with a cookie are left to Django

    def __init__(self, environ: dict[str, Any]) -> None:
        self.META = environ
        self.method = environ.get("REQUEST_METHOD", "POST")
        self.path = self.path_info = environ.get("PATH_INFO", "")


class _Config:
    """What the settings say, read once per process (again after `setting_changed`, i.e. in tests)."""

    def __init__(self) -> None:
        # Settings under which Django's middleware would add or check more than this module does.
        self.matches = (
            tuple(settings.MIDDLEWARE) == KNOWN_MIDDLEWARE
            and not settings.SECURE_SSL_REDIRECT
            and not settings.SECURE_HSTS_SECONDS
            and not settings.USE_X_FORWARDED_HOST
            and not settings.PREPEND_WWW
            and not settings.DISALLOWED_USER_AGENTS
            and not is_language_prefix_patterns_used(settings.ROOT_URLCONF)[0]
        )
        allowed = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        self.allowed_hosts = list(allowed)
        self.hosts: dict[str, bool] = {}  # Host header → allowed, as HttpRequest.get_host() decides
        self.languages: dict[str, str] = {}  # Accept-Language → the language LocaleMiddleware activates
        self.frame_options = ("X-Frame-Options", settings.X_FRAME_OPTIONS.upper())
        security = []  # SecurityMiddleware's headers (it is the last on the way out)
        if settings.SECURE_CONTENT_TYPE_NOSNIFF:
            security.append(("X-Content-Type-Options", "nosniff"))
        policy = settings.SECURE_REFERRER_POLICY
        if policy:
            value = ",".join(v.strip() for v in policy.split(",")) if isinstance(policy, str) else ",".join(policy)
            security.append(("Referrer-Policy", value))
        if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
            security.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
        self.security = security

    def host_allowed(self, environ: dict[str, Any]) -> bool:
        # CommonMiddleware calls request.get_host() on every request (400 when the host is not allowed).
        host = environ.get("HTTP_HOST")
        if not host:
            return False
        known = self.hosts.get(host)
        if known is None:
            domain, _port = split_domain_port(host)
            known = bool(domain) and validate_host(domain, self.allowed_hosts)
            if len(self.hosts) < 100:
                self.hosts[host] = known
        return known

    def language(self, request: _Request) -> str:
        """The language LocaleMiddleware would activate, as `translation.get_language()` names it
        (requests with a cookie, which could name another, never come here)."""
        accept = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
        name = self.languages.get(accept)
        if name is None:
            code = translation.get_language_from_request(cast(HttpRequest, request), check_path=False)
            with translation.override(code):
                name = translation.get_language()
            if len(self.languages) < 100:
                self.languages[accept] = name
        return name

    def headers(self, headers: list[tuple[str, str]], body: bytes, language: str) -> list[tuple[str, str]]:
        """The response headers after Django's middleware, in the order Django sends them: the view's,
        X-Frame-Options (clickjacking), Content-Length (common), Vary and Content-Language (locale;
        session: StaffIdleTimeoutMiddleware reads the session on every request), SecurityMiddleware's."""
        return [
            *headers,
            self.frame_options,
            ("Content-Length", str(len(body))),
            ("Vary", "Accept-Language, Cookie"),
            ("Content-Language", language),
            *self.security,
        ]


_config: _Config | None = None


def config() -> _Config:
    global _config
    if _config is None:
        _config = _Config()
    return _config


@receiver(setting_changed)
def _forget_config(**_kwargs: Any) -> None:
    global _config
    _config = None


def _send(start_response: fastpath.StartResponse, status: int, headers: list[tuple[str, str]], body: bytes,
          language: str) -> list[bytes]:  # fmt: skip
    start_response(f"{status} {HTTPStatus(status).phrase}", config().headers(headers, body, language))
    return [body]


def _send_response(
    start_response: fastpath.StartResponse, response: HttpResponse, language: str, request: _Request
) -> list[bytes]:
    # Django's handler logs every 4xx/5xx answer (django.request: "Conflict: /api/v1/…").
    log_response("%s: %s", response.reason_phrase, request.path, response=response, request=cast(HttpRequest, request))
    return _send(start_response, response.status_code, list(response.items()), response.content, language)


def handle_transfer(environ: dict[str, Any], start_response: fastpath.StartResponse) -> Iterable[bytes] | None:
    if environ.get("HTTP_COOKIE") or environ.get("QUERY_STRING"):
        return None
    # As ninja's HttpBearer: the scheme, one space, the rest is the token.
    scheme, _sep, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip().startswith("cpk_"):
        return None  # no key, another scheme, or a token that is certainly refused: Django answers
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    conf = config()
    if not 0 < length <= MAX_BODY or not conf.matches or not conf.host_allowed(environ):
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)  # Django reads it again if we hand the request over
    if len(body) != length:
        return None
    request = _Request(environ)
    try:
        transfer_request = _prepare(body, token)
        if transfer_request is None:
            return None
        language = conf.language(request)
    except Exception:  # e.g. the database down while a key is looked up: Django answers (and logs) it
        return None
    return _execute(transfer_request, language, request, start_response)


def _plain_model(schema: type[BaseModel]) -> type[BaseModel]:
    """A plain pydantic model with `schema`'s fields (names, types, constraints, defaults). ninja's
    Schema validates through its DjangoGetter wrapper, which for JSON values (never callables,
    managers or files) reads the same values, so whatever this model accepts the schema accepts the
    same way — at a fifth of the cost. Whatever it refuses goes to Django, whose errors are the API's."""
    fields: dict[str, Any] = {name: (field.annotation, field) for name, field in schema.model_fields.items()}
    return create_model(f"Plain{schema.__name__}", **fields)


_transfer_in: type[BaseModel] | None = None


def _prepare(body: bytes, token: str) -> ledger.TransferRequest | None:
    """The ledger request, when everything the endpoint checks before the ledger passes; else None."""
    global _transfer_in
    from civicpush.api.auth import principal_for_key
    from civicpush.api.routers import coins as endpoint

    principal = principal_for_key(token)
    if principal is None:
        return None  # unknown, revoked, malformed, or its unit deactivated: Django answers 401
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if _transfer_in is None:
        _transfer_in = _plain_model(endpoint.TransferIn)
    try:
        checked = _transfer_in.model_validate(data)
    except ValidationError:
        return None
    payload = endpoint.TransferIn.model_construct(**dict(checked))
    try:
        return endpoint.transfer_request(principal, payload)
    except DomainError:
        return None  # a test key, another unit's account, an unknown account: Django answers 403/404


def _execute(
    req: ledger.TransferRequest, language: str, request: _Request, start_response: fastpath.StartResponse
) -> Iterable[bytes]:
    from civicpush.api import problems
    from civicpush.api.routers import coins as endpoint

    try:
        result = endpoint.run_transfer(req)
    except DomainError as exc:  # refused by the ledger: the API's own problem body, in the request's language
        with translation.override(language):
            response = problems.handle_domain_error(cast(HttpRequest, request), exc)
        return _send_response(start_response, response, language, request)
    except Exception as exc:  # as the API's catch-all handler: logged, 500 problem
        with translation.override(language):
            response = problems.handle_unexpected(cast(HttpRequest, request), exc)
        return _send_response(start_response, response, language, request)
    body = json.dumps(endpoint.transfer_out(result), cls=NinjaJSONEncoder).encode()
    headers = [("Content-Type", "application/json")]
    if result.replayed:
        headers.append(("Idempotency-Replayed", "true"))
    return _send(start_response, 200 if result.replayed else 201, headers, body, language)


def register() -> None:
    fastpath.register("POST", PATH, handle_transfer)
