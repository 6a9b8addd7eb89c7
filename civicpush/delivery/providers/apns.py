"""APNs adapter (the iPhone app): token-based authentication over HTTP/2.

Each request is `POST /3/device/<device token>` on one persistent HTTP/2 connection (many
concurrent streams), with
- `authorization: bearer <provider token>`: an ES256 JWT (header kid = the key id, claims iss = the
  team id and iat) signed with the .p8 key. Apple refuses tokens older than an hour and answers
  429 TooManyProviderTokenUpdates to a server that re-signs more often than every 20 minutes, so the
  token is cached per process and renewed after PROVIDER_TOKEN_MAX_AGE (40 minutes);
- `apns-topic` (the app's bundle id), `apns-push-type: alert`, `apns-priority` (10 urgent, 5
  normal), `apns-expiration` (now + the nudge's TTL) and `apns-collapse-id` (the nudge's topic: a
  newer notice replaces an older one on the lock screen).

Responses, per Apple's "Handling notification responses from APNs":
- 200 → DELIVERED;
- 410 (Unregistered, ExpiredToken), 400 BadDeviceToken, 400 DeviceTokenNotForTopic → GONE;
- 403 ExpiredProviderToken → the cached token is dropped (the next request signs a new one), RETRY;
- 429 (TooManyRequests, TooManyProviderTokenUpdates), 500, 503 → RETRY (Retry-After honoured when
  given);
- other 400s, 403 InvalidProviderToken and the rest → FAILED.

Configuration (settings, from the environment): APNS_KEY (the .p8 PEM, or a path to it),
APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC, APNS_BASE_URL (https://api.push.apple.com, or the sandbox;
tests point it at the local fake in civicpush.delivery.fakes.apns, which speaks HTTP/2 without TLS).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jwt
from django.conf import settings

from ..models import Channel
from .base import Nudge, SendResult, Target, Verdict
from .fcm import retry_after_seconds

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.push.apple.com"
PROVIDER_TOKEN_MAX_AGE = 40 * 60  # Apple: reuse for at least 20 and at most 60 minutes
CONCURRENCY = 100  # streams in flight per adapter (APNs allows many per connection)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_COLLAPSE_ID_BYTES = 64

GONE_REASONS = frozenset({"Unregistered", "BadDeviceToken", "DeviceTokenNotForTopic", "ExpiredToken"})


class ApnsConfigurationError(Exception):
    pass


def is_configured() -> bool:
    """Whether this server can send to the iPhone app (key, key id, team id and topic are set)."""
    return all(getattr(settings, name, "") for name in ("APNS_KEY", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC"))


def _load_key(raw: str) -> str:
    raw = (raw or "").strip()
    if not raw:
        raise ApnsConfigurationError("APNs is not configured (CIVICPUSH_APNS_KEY)")
    if "-----BEGIN" in raw:
        return raw.replace("\\n", "\n")
    return Path(raw).read_text(encoding="utf-8")


# --- provider tokens, cached per process ----------------------------------------------------------

_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def clear_token_cache() -> None:
    with _tokens_lock:
        _tokens.clear()


def provider_token(team_id: str, key_id: str, key_pem: str, *, now: float | None = None) -> str:
    """The ES256 provider token for (team, key): the cached one while younger than
    PROVIDER_TOKEN_MAX_AGE, else a newly signed one."""
    now = time.time() if now is None else now
    cache_key = (team_id, key_id)
    with _tokens_lock:
        hit = _tokens.get(cache_key)
        if hit and now - hit[1] < PROVIDER_TOKEN_MAX_AGE:
            return hit[0]
        issued = int(now)
        token = jwt.encode({"iss": team_id, "iat": issued}, key_pem, algorithm="ES256", headers={"kid": key_id})
        _tokens[cache_key] = (token, float(issued))
        return token


def forget_provider_token(team_id: str, key_id: str, token: str) -> None:
    """After ExpiredProviderToken: drop the token (only if it is still the cached one)."""
    with _tokens_lock:
        if _tokens.get((team_id, key_id), ("",))[0] == token:
            del _tokens[(team_id, key_id)]


class ApnsAdapter:
    channel = Channel.APNS

    def __init__(
        self,
        *,
        key_pem: str,
        key_id: str,
        team_id: str,
        topic: str,
        base_url: str = DEFAULT_BASE_URL,
        client: httpx.AsyncClient | None = None,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self._key_pem, self._key_id, self._team_id, self._topic = key_pem, key_id, team_id, topic
        self._base = base_url.rstrip("/")
        cleartext = self._base.startswith("http://")  # the local fake: HTTP/2 with prior knowledge
        self._client = client or httpx.AsyncClient(
            http2=True,
            http1=not cleartext,
            timeout=TIMEOUT,
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
        )
        self._owns_client = client is None
        self._concurrency = concurrency

    def payload(self, nudge: Nudge) -> bytes:
        aps: dict[str, Any] = {"alert": {"title": nudge.title, "body": nudge.body}, "sound": "default"}
        if nudge.image:
            aps["mutable-content"] = 1  # the app's notification service extension attaches the image
        if nudge.topic:
            aps["thread-id"] = nudge.topic[:64]
        data: dict[str, Any] = {"aps": aps, "push_id": nudge.push_id, "url": nudge.url or f"/m/{nudge.push_id}/"}
        if nudge.image:
            data["image"] = nudge.image
        if nudge.icon:
            data["icon"] = nudge.icon
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    def headers(self, nudge: Nudge, token: str) -> dict[str, str]:
        expiration = int(time.time()) + int(nudge.ttl_seconds) if nudge.ttl_seconds > 0 else 0
        headers = {
            "authorization": f"bearer {token}",
            "apns-topic": self._topic,
            "apns-push-type": "alert",
            "apns-priority": "10" if nudge.urgent else "5",
            "apns-expiration": str(expiration),
            "content-type": "application/json",
        }
        if nudge.topic:
            collapse = nudge.topic.encode()[:MAX_COLLAPSE_ID_BYTES].decode("utf-8", "ignore")
            headers["apns-collapse-id"] = collapse
        return headers

    async def send_batch(self, targets: Sequence[Target], nudge: Nudge) -> list[SendResult]:
        payload = self.payload(nudge)
        limit = asyncio.Semaphore(self._concurrency)

        async def one(target: Target) -> SendResult:
            async with limit:
                return await self._send_one(target, nudge, payload)

        return list(await asyncio.gather(*(one(t) for t in targets)))

    async def _send_one(self, target: Target, nudge: Nudge, payload: bytes) -> SendResult:
        token = provider_token(self._team_id, self._key_id, self._key_pem)
        url = f"{self._base}/3/device/{quote(target.address, safe='')}"
        try:
            response = await self._client.post(url, content=payload, headers=self.headers(nudge, token))
        except httpx.HTTPError as exc:
            return SendResult(Verdict.RETRY, error=f"network: {exc.__class__.__name__}")
        result = self.verdict(response)
        if result.error.startswith("403 ExpiredProviderToken"):
            forget_provider_token(self._team_id, self._key_id, token)
        return result

    @staticmethod
    def verdict(response: httpx.Response) -> SendResult:
        status = response.status_code
        if status == 200:
            return SendResult(Verdict.DELIVERED, status_code=200)
        try:
            reason = str(response.json().get("reason", ""))
        except ValueError:
            reason = ""
        error = f"{status} {reason}".strip()
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        if status == 410 or (status == 400 and reason in GONE_REASONS):
            return SendResult(Verdict.GONE, status_code=status, error=error)
        if status == 403 and reason == "ExpiredProviderToken":
            return SendResult(Verdict.RETRY, status_code=status, retry_after=0.0, error=error)
        if status == 429 or status >= 500:
            return SendResult(Verdict.RETRY, status_code=status, retry_after=retry_after, error=error)
        return SendResult(Verdict.FAILED, status_code=status, error=error)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


class _Unconfigured:
    """APNs devices but no key: every send fails (no retries)."""

    channel = Channel.APNS

    async def send_batch(self, targets: Sequence[Target], nudge: Nudge) -> list[SendResult]:
        logger.warning("APNs is not configured: %d iPhone notifications not sent", len(targets))
        return [SendResult(Verdict.FAILED, error="APNs is not configured") for _ in targets]

    async def aclose(self) -> None:
        return None


def make_adapter() -> ApnsAdapter | _Unconfigured:
    if not is_configured():
        return _Unconfigured()
    return ApnsAdapter(
        key_pem=_load_key(settings.APNS_KEY),
        key_id=settings.APNS_KEY_ID,
        team_id=settings.APNS_TEAM_ID,
        topic=settings.APNS_TOPIC,
        base_url=getattr(settings, "APNS_BASE_URL", "") or DEFAULT_BASE_URL,
    )
