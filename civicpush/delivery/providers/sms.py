"""SMS adapter: personal and case notices, in the style of Taiwan's government 111 short code.

Every message starts with the recipient's last three mobile digits and the sending agency's name —
"(678)臺東縣消防局：…" — so a citizen can tell a genuine government SMS from a scam (the 111
platform's rule since 2025). One SMS holds 70 characters (UCS-2); a longer notice is split into
parts that each carry the same opening and a part marker: "(678)臺東縣消防局：(1/2)…".

The text is the notice's own (`Nudge.title` and `Nudge.body`, which the fan-out fills for SMS);
`Target.address` is the mobile number in E.164. Sending goes through the pluggable gateway in
`civicpush.citizens.sms` (`get_sms_backend("notice")`, settings.SMS_NOTICE_BACKEND), in worker
threads so the fan-out's event loop is never blocked.

At most once: when a later part of a split message fails, the parts already sent are not sent
again — the adapter retries the remaining parts briefly itself and otherwise reports FAILED.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from civicpush.citizens.sms import SmsBackend, SmsRejected, SmsTemporaryError, get_sms_backend, split_sms

from ..models import Channel
from .base import Nudge, SendResult, SyncAdapter, Target, Verdict

logger = logging.getLogger(__name__)

CONCURRENCY = 8  # gateway calls in flight per adapter
PART_RETRIES = 2  # in-place retries of a later part (the earlier ones were sent)
PART_RETRY_MAX_WAIT = 5.0  # seconds


def notice_text(title: str, body: str) -> str:
    """The notice as one text: the title, then the body (unless the body already starts with it)."""
    title, body = (title or "").strip(), (body or "").strip()
    if not title or body.startswith(title):
        return body or title
    if not body:
        return title
    return f"{title}\n{body}"


def sms_prefix(phone_e164: str, sender: str) -> str:
    """The 111-style opening: the recipient's last three digits, then the agency."""
    digits = "".join(ch for ch in phone_e164 if ch.isdigit())
    return f"({digits[-3:]}){sender}："


def format_notice_sms(phone_e164: str, sender: str, title: str, body: str) -> list[str]:
    """The SMS parts for one recipient (one part when it fits 70 characters)."""
    return split_sms(notice_text(title, body), prefix=sms_prefix(phone_e164, sender))


def _default_sender_of(push_id: int) -> str:
    from ..selectors import sender_name

    return sender_name(push_id)


class SmsAdapter(SyncAdapter):
    channel = Channel.SMS

    def __init__(
        self,
        backend: SmsBackend | None = None,
        *,
        sender_of: Callable[[int], str] | None = None,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self._backend = backend
        self._sender_of = sender_of or _default_sender_of
        self._senders: dict[int, str] = {}
        self._concurrency = concurrency

    def _gateway(self) -> SmsBackend:
        if self._backend is None:
            self._backend = get_sms_backend("notice")
        return self._backend

    def send_batch_sync(self, targets: Sequence[Target], nudge: Nudge) -> list[SendResult]:
        """What the fan-out calls, in its own thread: the sender lookup and the demo gateway use the
        database through the caller's connection (no ORM call may run inside an event loop), and
        SMS carries personal notices, a few per dispatch, so one at a time is plenty."""
        if nudge.push_id not in self._senders:
            self._senders[nudge.push_id] = self._sender_of(nudge.push_id)
        sender = self._senders[nudge.push_id]
        return [self._send_one(target, nudge, sender) for target in targets]

    def _send_one(self, target: Target, nudge: Nudge, sender: str) -> SendResult:
        phone = (target.address or "").strip()
        if not phone.startswith("+") or len(phone) < 8:
            return SendResult(Verdict.FAILED, error="no mobile number")
        try:
            parts = format_notice_sms(phone, sender, nudge.title, nudge.body)
        except ValueError:
            return SendResult(Verdict.FAILED, error="the notice is too long for SMS")
        gateway = self._gateway()
        for index, part in enumerate(parts):
            attempts = 0
            while True:
                try:
                    gateway.send(phone, part)
                    break
                except SmsRejected as exc:
                    return SendResult(Verdict.FAILED, error=_partial(index, len(parts), f"rejected: {exc}"))
                except SmsTemporaryError as exc:
                    if index == 0:  # nothing sent yet: the fan-out retries the whole message later
                        return SendResult(Verdict.RETRY, retry_after=exc.retry_after, error=f"gateway busy: {exc}")
                    attempts += 1
                    if attempts > PART_RETRIES:
                        return SendResult(Verdict.FAILED, error=_partial(index, len(parts), f"gateway busy: {exc}"))
                    _sleep(min(exc.retry_after or 1.0, PART_RETRY_MAX_WAIT))
                except Exception as exc:  # an unknown gateway failure
                    logger.warning("SMS gateway failed: %s", exc.__class__.__name__)
                    if index == 0:
                        return SendResult(Verdict.RETRY, error=f"gateway error: {exc.__class__.__name__}")
                    return SendResult(Verdict.FAILED, error=_partial(index, len(parts), exc.__class__.__name__))
        return SendResult(Verdict.DELIVERED)


def _partial(index: int, total: int, reason: str) -> str:
    if total == 1:
        return reason[:200]
    return f"part {index + 1}/{total} not sent ({index} sent): {reason}"[:200]


def _sleep(seconds: float) -> None:
    import time

    time.sleep(seconds)


def make_adapter() -> SmsAdapter:
    return SmsAdapter()
