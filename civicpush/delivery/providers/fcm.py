"""FCM HTTP v1 adapter (the Android app): `POST /v1/projects/{project}/messages:send`, one request
per token over a persistent connection pool, authorised by a service account's OAuth 2.0 token.

OAuth (Google's "service account" flow, RFC 7523): a JWT — iss = the account's e-mail, scope =
firebase.messaging, aud = the key's `token_uri`, one hour — signed RS256 with the account's private
key, exchanged at `token_uri` for an access token. The token is cached per process (per service
account) until TOKEN_REFRESH_MARGIN before it expires, so a fan-out asks once, not per message.

Responses, per Google's FCM v1 error codes (the `FcmError.errorCode` in the body first, the HTTP
status second):
- 200 → DELIVERED;
- 404 UNREGISTERED, 403 SENDER_ID_MISMATCH → GONE (the token is dead or belongs to another sender);
- 400 INVALID_ARGUMENT → FAILED, not GONE: a malformed payload gives the same error for every
  token, and deleting every device over our own bug would be a disaster;
- 429 QUOTA_EXCEEDED / RESOURCE_EXHAUSTED → RETRY, honouring Retry-After;
- 500 INTERNAL, 503 UNAVAILABLE → RETRY (with Retry-After when given);
- 401 with our access token refused → one fresh token and one more try, then RETRY;
- 401 THIRD_PARTY_AUTH_ERROR and other 4xx → FAILED.

Configuration (settings, from the environment): FCM_SERVICE_ACCOUNT (the key's JSON, or a path to
it), FCM_PROJECT_ID (default: the key's project_id), FCM_BASE_URL and FCM_TOKEN_URI (overridable so
tests point at the local fake in civicpush.delivery.fakes.fcm).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import jwt
from django.conf import settings

from ..models import Channel
from .base import Nudge, SendResult, Target, Verdict

logger = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
DEFAULT_BASE_URL = "https://fcm.googleapis.com"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL, not a secret)
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600
TOKEN_REFRESH_MARGIN = 300  # seconds before expiry when a cached access token is renewed
CONCURRENCY = 200  # requests in flight per adapter (FCM's default quota is 600k/minute per project)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)

GONE_CODES = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
RETRY_CODES = frozenset({"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"})


class FcmConfigurationError(Exception):
    pass


def _load_service_account(raw: str) -> dict[str, Any]:
    raw = (raw or "").strip()
    if not raw:
        raise FcmConfigurationError("FCM is not configured (CIVICPUSH_FCM_SERVICE_ACCOUNT)")
    text = raw if raw.startswith("{") else Path(raw).read_text(encoding="utf-8")
    data = json.loads(text)
    for key in ("client_email", "private_key"):
        if not data.get(key):
            raise FcmConfigurationError(f"the FCM service account has no {key}")
    return dict(data)


def is_configured() -> bool:
    """Whether this server can send to the Android app (a service account is set)."""
    return bool(getattr(settings, "FCM_SERVICE_ACCOUNT", ""))


# --- OAuth access tokens, cached per process ------------------------------------------------------

_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def clear_token_cache() -> None:
    with _tokens_lock:
        _tokens.clear()


def _cached_token(key: tuple[str, str]) -> str | None:
    with _tokens_lock:
        hit = _tokens.get(key)
    if hit and hit[1] - TOKEN_REFRESH_MARGIN > time.time():
        return hit[0]
    return None


def _store_token(key: tuple[str, str], token: str, expires_at: float) -> None:
    with _tokens_lock:
        _tokens[key] = (token, expires_at)


def _forget_token(key: tuple[str, str], token: str) -> None:
    with _tokens_lock:
        if _tokens.get(key, ("",))[0] == token:
            del _tokens[key]


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _error_details(response: httpx.Response) -> tuple[str, str, str]:
    """(FcmError.errorCode, google.rpc status, message) from an error body."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return "", "", response.text[:120]
    code = ""
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("errorCode"):
            code = str(detail["errorCode"])
            break
    return code, str(error.get("status", "")), str(error.get("message", ""))[:120]


class FcmAdapter:
    channel = Channel.FCM

    def __init__(
        self,
        *,
        service_account: dict[str, Any],
        project_id: str = "",
        base_url: str = DEFAULT_BASE_URL,
        token_uri: str = "",
        client: httpx.AsyncClient | None = None,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self._account = service_account
        self._project = project_id or str(service_account.get("project_id", ""))
        if not self._project:
            raise FcmConfigurationError("no FCM project id (CIVICPUSH_FCM_PROJECT_ID)")
        self._send_url = f"{base_url.rstrip('/')}/v1/projects/{self._project}/messages:send"
        self._token_uri = token_uri or str(service_account.get("token_uri") or DEFAULT_TOKEN_URI)
        self._token_key = (str(service_account["client_email"]), self._token_uri)
        self._client = client or httpx.AsyncClient(
            http2=base_url.startswith("https://"),  # FCM offers HTTP/2: many streams on few connections
            timeout=TIMEOUT,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._owns_client = client is None
        self._concurrency = concurrency
        self._token_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    # --- OAuth ------------------------------------------------------------------------------------

    def _assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self._account["client_email"],
            "scope": SCOPE,
            "aud": self._token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        headers = {"kid": self._account["private_key_id"]} if self._account.get("private_key_id") else None
        return jwt.encode(claims, self._account["private_key"], algorithm="RS256", headers=headers)

    async def access_token(self) -> str:
        token = _cached_token(self._token_key)
        if token:
            return token
        loop = asyncio.get_running_loop()
        if self._token_lock is None or self._token_lock[0] is not loop:
            self._token_lock = (loop, asyncio.Lock())
        async with self._token_lock[1]:  # one request for the token however many sends wait for it
            token = _cached_token(self._token_key)
            if token:
                return token
            response = await self._client.post(
                self._token_uri,
                data={"grant_type": JWT_BEARER_GRANT, "assertion": self._assertion()},
                headers={"Accept": "application/json"},
            )
            if response.status_code != 200:
                raise FcmAuthError(response.status_code, response.text[:200])
            data = response.json()
            token = str(data["access_token"])
            _store_token(self._token_key, token, time.time() + float(data.get("expires_in", 3600)))
            return token

    # --- sending ----------------------------------------------------------------------------------

    def message(self, token: str, nudge: Nudge) -> dict[str, Any]:
        """The v1 message: a notification (shown by Android) plus string data for the app."""
        notification: dict[str, str] = {"title": nudge.title, "body": nudge.body}
        if nudge.image:
            notification["image"] = nudge.image
        data = {"push_id": str(nudge.push_id), "url": nudge.url or f"/m/{nudge.push_id}/"}
        if nudge.icon:
            data["icon"] = nudge.icon
        android: dict[str, Any] = {
            "priority": "HIGH" if nudge.urgent else "NORMAL",
            "ttl": f"{int(nudge.ttl_seconds)}s",
        }
        if nudge.topic:
            android["collapse_key"] = nudge.topic[:64]
            android["notification"] = {"tag": nudge.topic[:64]}
        return {"message": {"token": token, "notification": notification, "data": data, "android": android}}

    async def send_batch(self, targets: Sequence[Target], nudge: Nudge) -> list[SendResult]:
        limit = asyncio.Semaphore(self._concurrency)

        async def one(target: Target) -> SendResult:
            async with limit:
                return await self._send_one(target, nudge)

        return list(await asyncio.gather(*(one(t) for t in targets)))

    async def _send_one(self, target: Target, nudge: Nudge) -> SendResult:
        body = self.message(target.address, nudge)
        for attempt in range(2):
            try:
                token = await self.access_token()
            except FcmAuthError as exc:
                return SendResult(Verdict.RETRY, status_code=exc.status, error=f"OAuth token refused: {exc}"[:200])
            except httpx.HTTPError as exc:
                return SendResult(Verdict.RETRY, error=f"OAuth token request failed: {exc.__class__.__name__}")
            try:
                response = await self._client.post(
                    self._send_url, json=body, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.HTTPError as exc:
                return SendResult(Verdict.RETRY, error=f"network: {exc.__class__.__name__}")
            if response.status_code == 401 and attempt == 0:
                code, _status, _message = _error_details(response)
                if code != "THIRD_PARTY_AUTH_ERROR":  # our access token: revoked or expired early
                    _forget_token(self._token_key, token)
                    continue
            return self.verdict(response)
        return SendResult(Verdict.RETRY, status_code=401, error="access token refused twice")

    @staticmethod
    def verdict(response: httpx.Response) -> SendResult:
        status = response.status_code
        if status == 200:
            return SendResult(Verdict.DELIVERED, status_code=200)
        code, rpc_status, message = _error_details(response)
        error = f"{status} {code or rpc_status}: {message}".strip()[:200]
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if code in GONE_CODES:
            return SendResult(Verdict.GONE, status_code=status, error=error)
        if code == "INVALID_ARGUMENT" or rpc_status == "INVALID_ARGUMENT":
            return SendResult(Verdict.FAILED, status_code=status, error=error)
        if code in RETRY_CODES or status == 429 or status >= 500:
            return SendResult(Verdict.RETRY, status_code=status, retry_after=retry_after, error=error)
        if status == 401:
            return SendResult(
                Verdict.RETRY if code != "THIRD_PARTY_AUTH_ERROR" else Verdict.FAILED, status_code=status, error=error
            )
        return SendResult(Verdict.FAILED, status_code=status, error=error)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


class FcmAuthError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status} {text}")
        self.status = status


class _Unconfigured:
    """FCM devices but no service account: every send fails (no retries), once logged."""

    channel = Channel.FCM

    async def send_batch(self, targets: Sequence[Target], nudge: Nudge) -> list[SendResult]:
        logger.warning("FCM is not configured: %d Android notifications not sent", len(targets))
        return [SendResult(Verdict.FAILED, error="FCM is not configured") for _ in targets]

    async def aclose(self) -> None:
        return None


def make_adapter() -> FcmAdapter | _Unconfigured:
    if not is_configured():
        return _Unconfigured()
    account = _load_service_account(settings.FCM_SERVICE_ACCOUNT)
    return FcmAdapter(
        service_account=account,
        project_id=getattr(settings, "FCM_PROJECT_ID", ""),
        base_url=getattr(settings, "FCM_BASE_URL", "") or DEFAULT_BASE_URL,
        token_uri=getattr(settings, "FCM_TOKEN_URI", ""),
    )
