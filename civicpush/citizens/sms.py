"""Pluggable SMS sending (settings.SMS_BACKEND, a dotted path): a gateway in production, the demo backend here.

Two purposes, each with its own backend setting, because Taiwan's government sends notices from the
111 short code (政府專屬短碼) while one-time codes may go through a commercial gateway:

- `get_sms_backend()` / purpose "otp": settings.SMS_BACKEND (sign-in codes);
- `get_sms_backend("notice")`: settings.SMS_NOTICE_BACKEND (personal and case notices; defaults to
  SMS_BACKEND).

A backend's `send(to_e164, body)` sends one message. It raises `SmsTemporaryError` when the
gateway may accept the message later (busy, timeout: the caller retries) and `SmsRejected` when it
never will (a number it refuses). Splitting a long notice into parts is the caller's: see
`split_sms`.
"""

from __future__ import annotations

import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# One SMS holds 70 UCS-2 characters (Chinese or mixed text); counted in UTF-16 code units, as
# gateways count (an emoji outside the BMP takes two).
SMS_PART_CHARS = 70


class SmsBackend(Protocol):
    def send(self, to_e164: str, body: str) -> None: ...


class SmsError(Exception):
    """The gateway did not take the message."""


class SmsTemporaryError(SmsError):
    """Busy, throttled or unreachable: try again later."""

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SmsRejected(SmsError):
    """Refused for good (e.g. the number cannot receive SMS): do not retry."""


class DemoSmsBackend:
    """Sends nothing: stores the message (shown on /dev/otp/ in DEMO_MODE) and logs it for the developer."""

    def send(self, to_e164: str, body: str) -> None:
        from .models import DemoSmsMessage

        DemoSmsMessage.objects.create(to=to_e164, body=body)
        logger.info("Demo SMS to %s: %s", to_e164, body)


def get_sms_backend(purpose: str = "otp") -> SmsBackend:
    """The backend for `purpose`: "otp" (sign-in codes) or "notice" (personal and case notices)."""
    path = settings.SMS_BACKEND
    if purpose == "notice":
        path = getattr(settings, "SMS_NOTICE_BACKEND", "") or settings.SMS_BACKEND
    backend_class = import_string(path)
    return backend_class()  # type: ignore[no-any-return]


def sms_length(text: str) -> int:
    """Length as an SMS gateway counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


_BREAK_AFTER = set("。，、；：！？!?,.;:)）」』 \n")


def split_sms(text: str, *, prefix: str = "", limit: int = SMS_PART_CHARS) -> list[str]:
    """`prefix + text` as one message when it fits `limit`, else as parts that each start with the
    prefix and a part marker ("(1/2)") and hold at most `limit` characters. Parts break after
    punctuation or a space when one is near the end, and never inside a surrogate pair."""
    text = text.strip()
    if sms_length(prefix + text) <= limit:
        return [prefix + text]
    for count in range(2, 100):
        parts = _fill(text, prefix, limit, count)
        if parts is None:
            break
        if len(parts) == count:
            return [f"{prefix}({i}/{count}){body}" for i, body in enumerate(parts, start=1)]
    raise ValueError("the message is too long to send by SMS")


def _fill(text: str, prefix: str, limit: int, count: int) -> list[str] | None:
    """Greedy parts for `count` total parts (the marker's width depends on it); None if a part
    cannot hold any text."""
    room = limit - sms_length(prefix) - sms_length(f"({count}/{count})")
    if room < 10:
        return None
    parts: list[str] = []
    rest = text
    while rest:
        if sms_length(rest) <= room:
            parts.append(rest)
            break
        cut, used = 0, 0
        for ch in rest:  # as many characters as fit
            width = 2 if ord(ch) > 0xFFFF else 1
            if used + width > room:
                break
            used += width
            cut += 1
        window = max(cut - 12, 1)  # prefer a natural break near the end of the part
        natural = max((i + 1 for i in range(window, cut) if rest[i] in _BREAK_AFTER), default=0)
        cut = natural or cut
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
        if len(parts) > count:
            return parts
    return parts
