"""Signed status callbacks to the agency's system.

Each callback is a POST of a JSON body to the URL set for the API key that opened the case, with

    X-CivicPush-Event: case.event
    X-CivicPush-Delivery: <callback id>            (the same on every retry: deduplicate on it)
    X-CivicPush-Timestamp: <unix seconds>
    X-CivicPush-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

The receiver recomputes the HMAC over the timestamp, a dot and the raw body with its secret,
compares in constant time and refuses timestamps more than 5 minutes old (replays).

Retries: only on 5xx, 429 and network errors (connection refused, timeout), after 1, 5, 30 minutes,
2 and 6 hours; any other answer (2xx delivered; 3xx or another 4xx: the request itself is wrong,
repeating it cannot help) is final. After the sixth failed attempt the callback is failed.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import httpx
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import CallbackEndpoint, CallbackStatus, CaseCallback

RETRY_DELAYS = (60, 300, 1800, 7200, 21600)  # seconds after attempts 1..5
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
TIMEOUT_SECONDS = 5.0
LEASE_SECONDS = 60  # a claimed attempt not finished in this time may be taken again
SIGNATURE_HEADER = "X-CivicPush-Signature"
TIMESTAMP_HEADER = "X-CivicPush-Timestamp"
DELIVERY_HEADER = "X-CivicPush-Delivery"
EVENT_HEADER = "X-CivicPush-Event"


def _fernet() -> Fernet:
    return Fernet(settings.FIELD_ENCRYPTION_KEY.encode())


def new_secret() -> str:
    return "cpwhsec_" + secrets.token_urlsafe(32)


def encrypt_secret(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_of(endpoint: CallbackEndpoint) -> str:
    return _fernet().decrypt(endpoint.secret_encrypted.encode()).decode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over "<timestamp>." + body."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str, *, tolerance: int = 300) -> bool:
    """What a receiver does (also used by the tests): recompute and compare, refuse stale timestamps."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(time.time() - ts) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, ts, body), header)


def is_retryable(status_code: int | None) -> bool:
    """None (a network error), 429 and 5xx are worth retrying; nothing else is."""
    return status_code is None or status_code == 429 or status_code >= 500


def _claim(callback_id: int, now: datetime.datetime) -> CaseCallback | None:
    with transaction.atomic():
        cb = CaseCallback.objects.select_for_update().filter(pk=callback_id, status=CallbackStatus.PENDING).first()
        if cb is None or (cb.next_attempt_at is not None and cb.next_attempt_at > now):
            return None
        cb.attempts += 1
        cb.next_attempt_at = now + datetime.timedelta(seconds=LEASE_SECONDS)
        cb.save(update_fields=["attempts", "next_attempt_at"])
        return cb


def attempt(callback_id: int, now: datetime.datetime | None = None) -> str:
    """Make one delivery attempt if the callback is pending and due; returns its status afterwards."""
    now = now or timezone.now()
    cb = _claim(callback_id, now)
    if cb is None:
        return CaseCallback.objects.filter(pk=callback_id).values_list("status", flat=True).first() or ""
    endpoint = cb.endpoint
    if endpoint is None:  # the key's callback was removed meanwhile
        _finish(cb, CallbackStatus.FAILED, None, "no callback URL any more", now)
        return CallbackStatus.FAILED
    body = json.dumps(cb.payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "CivicPush-Callbacks/1",
        EVENT_HEADER: str(cb.payload.get("type", "case.event")),
        DELIVERY_HEADER: str(cb.pk),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret_of(endpoint), timestamp, body),
    }
    code: int | None = None
    error = ""
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False) as client:
            code = client.post(cb.url, content=body, headers=headers).status_code
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:200]
    if code is not None and 200 <= code < 300:
        _finish(cb, CallbackStatus.DELIVERED, code, "", now)
    elif is_retryable(code) and cb.attempts < MAX_ATTEMPTS:
        delay = RETRY_DELAYS[cb.attempts - 1]
        CaseCallback.objects.filter(pk=cb.pk).update(
            next_attempt_at=now + datetime.timedelta(seconds=delay),
            last_status_code=code,
            last_error=error or f"HTTP {code}",
        )
        return CallbackStatus.PENDING
    else:
        _finish(cb, CallbackStatus.FAILED, code, error or f"HTTP {code}", now)
    return CaseCallback.objects.get(pk=cb.pk).status


def _finish(cb: CaseCallback, status: str, code: int | None, error: str, now: datetime.datetime) -> None:
    CaseCallback.objects.filter(pk=cb.pk).update(
        status=status,
        last_status_code=code,
        last_error=error,
        next_attempt_at=None,
        delivered_at=now if status == CallbackStatus.DELIVERED else None,
    )


def due_callbacks(now: datetime.datetime | None = None, limit: int = 200) -> list[int]:
    now = now or timezone.now()
    return list(
        CaseCallback.objects.filter(status=CallbackStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def payload_for(case: Any, event: Any, notice_status: str) -> dict[str, Any]:
    return {
        "type": "case.event",
        "case": {
            "id": case.pk,
            "external_ref": case.external_ref,
            "case_type": case.case_type.code,
            "status": case.status,
            "due_at": case.due_at.isoformat(),
            "expected_completion": case.expected_completion.isoformat() if case.expected_completion else None,
            "sandbox": case.is_sandbox,
        },
        "event": {
            "id": event.pk,
            "kind": event.kind,
            "source": event.source,
            "client_reference": event.client_reference,
            "occurred_at": event.occurred_at.isoformat(),
            "reason": event.reason,
            "expected_completion": event.expected_completion.isoformat() if event.expected_completion else None,
        },
        # "sent": handed to the citizen's devices (SMS when none); "sandbox": test key, nobody notified.
        "notice": notice_status,
    }
