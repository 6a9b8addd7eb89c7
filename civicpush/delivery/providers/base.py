"""The contract between the fan-out and each channel's adapter.

The fan-out gives an adapter a batch of `Target`s and one `Nudge` (the same for everyone: no personal
data goes into a push payload) and gets back one `SendResult` per target, in order. Adapters are
async (they hold persistent HTTP/1.1 or HTTP/2 connections); SMS and e-mail adapters, which carry a
personal notice's text, receive the text in `Nudge.body` and the recipient in `Target.address`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Sequence
from typing import Protocol


@dataclasses.dataclass(frozen=True, slots=True)
class Nudge:
    """What a notification carries: title, body, the push id (to open it in the inbox), and
    optional icon/image URLs. Serialised it must stay ≤ 4,096 bytes for Web Push."""

    push_id: int
    title: str
    body: str
    url: str = ""
    icon: str = ""
    image: str = ""
    urgent: bool = False
    ttl_seconds: int = 86_400
    topic: str = ""  # RFC 8030 Topic: a newer notice with the same topic replaces an undelivered one


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """One device (or SMS/e-mail recipient). `address` is the endpoint URL, token or phone/e-mail;
    `p256dh`/`auth` only for Web Push. `outcome_id` ties the result back to its DeliveryOutcome."""

    outcome_id: int
    device_id: int | None
    address: str
    p256dh: str = ""
    auth: str = ""


class Verdict(enum.StrEnum):
    DELIVERED = "delivered"  # the provider accepted it
    RETRY = "retry"  # 429 / 5xx / network: try again later (honour retry_after when given)
    GONE = "gone"  # the device no longer exists: remove it (404/410, UNREGISTERED, BadDeviceToken…)
    FAILED = "failed"  # refused for good (e.g. our payload was invalid): do not retry


@dataclasses.dataclass(frozen=True, slots=True)
class SendResult:
    verdict: Verdict
    status_code: int | None = None
    retry_after: float | None = None  # seconds, from Retry-After
    error: str = ""


class ChannelAdapter(Protocol):
    channel: str  # a delivery.models.Channel value

    async def send_batch(self, targets: Sequence[Target], nudge: Nudge) -> list[SendResult]: ...

    async def aclose(self) -> None: ...


class SyncAdapter:
    """Base of adapters whose work is synchronous and touches the ORM (SMS, e-mail): the fan-out
    calls `send_batch_sync` in its own thread; `send_batch` fulfils the async contract by running the
    same work on a worker thread (closing that thread's database connection afterwards)."""

    def send_batch_sync(self, targets: Sequence[Target], nudge: Nudge) -> list[SendResult]:
        raise NotImplementedError

    async def send_batch(self, targets: Sequence[Target], nudge: Nudge) -> list[SendResult]:
        return await asyncio.to_thread(self._in_worker_thread, targets, nudge)

    def _in_worker_thread(self, targets: Sequence[Target], nudge: Nudge) -> list[SendResult]:
        from django.db import connection

        try:
            return self.send_batch_sync(targets, nudge)
        finally:
            connection.close()

    async def aclose(self) -> None:
        return None
