"""The fan-out of a frozen dispatch to devices (and, for personal notices, SMS/e-mail).

Design (docs/adr/0008-delivery.md):

* **Plan.** `plan_fanout` splits the frozen audience's active devices into slices of consecutive
  device ids (`FanoutBatch` rows, one SQL statement with a window function, nothing held in memory)
  and enqueues one batch task per slice — on the `bulk` queue for broadcasts, on `personal` for
  person-targeted pushes, so a notice never waits behind a million-device broadcast.
* **Lease.** A batch task first leases its slice (`lease_token`, `lease_until`, renewed per chunk).
  Only the lease holder works on the slice; a slice whose lease ran out while still pending belonged
  to a worker that died, and `resume_stalled` (beat, and at worker start) enqueues it again.
* **Claim.** The holder inserts one `DeliveryOutcome` per (dispatch, device) with status CLAIMED —
  `INSERT … SELECT … ON CONFLICT DO NOTHING`, the database-unique (dispatch, device) pair — before
  any request leaves. A device is therefore sent at most once per dispatch by all workers together,
  except for *in-doubt* rows (below).
* **Send and record.** Chunks of `CHUNK` outcomes are encrypted, sent, and their results committed
  (DELIVERED / GONE / FAILED / SKIPPED) before the next chunk goes out.
* **Exactly once at the boundary.** A crash between a push service's 201 and our commit leaves rows
  CLAIMED. The next lease holder finds them (claimed before its lease began) and cannot know whether
  the push service got them: it sends them again (never lost), with the same RFC 8030 Topic (a
  queued copy is replaced at the push service) and the same notification tag (the push id, so the
  device shows one notification). At most one chunk per crash is in doubt; `FanoutBatch.resent`
  counts them. The outcome table still ends with exactly one row per (dispatch, device).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import random
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from civicpush.audiences import selectors as audience_selectors
from civicpush.citizens.models import Citizen, CitizenStatus
from civicpush.pushes import dispatching
from civicpush.pushes.models import Dispatch, DispatchStatus, Push, PushType, TargetKind, Urgency

from .models import (
    BatchStatus,
    Channel,
    ChannelPreference,
    DeliveryOutcome,
    Device,
    Fanout,
    FanoutBatch,
    FanoutStatus,
    OutcomeStatus,
)
from .providers.base import Nudge, SendResult, Target, Verdict
from .providers.registry import AdapterUnavailable, get_adapter

log = logging.getLogger(__name__)

BATCH_SIZE = 1000  # devices per batch task
CHUNK = 250  # outcomes sent and committed together (the most that can be in doubt after a crash)
MAX_ATTEMPTS = 5  # per outcome, for 429/5xx/network answers; then FAILED
BACKOFF_BASE = 0.5  # seconds: 0.5, 1, 2, 4 (+ jitter), or Retry-After when longer
MAX_RETRY_AFTER = 30.0


def batch_size() -> int:
    return int(getattr(settings, "DELIVERY_BATCH_SIZE", BATCH_SIZE))


def chunk_size() -> int:
    return int(getattr(settings, "DELIVERY_CHUNK", CHUNK))


def lease_seconds() -> float:
    return float(getattr(settings, "DELIVERY_BATCH_LEASE_SECONDS", 60))


def stall_seconds() -> float:
    return float(getattr(settings, "DELIVERY_STALL_SECONDS", 120))


# ---------------------------------------------------------------- one event loop per process

_loops = threading.local()


def run_async(coro):  # type: ignore[no-untyped-def]
    """Run a coroutine on this thread's long-lived loop, so adapters keep their connections
    between batches (a fresh `asyncio.run` per batch would reconnect every time). One loop per
    thread: threads sending at the same time never share a loop. A thread that is already inside a
    running event loop (e.g. Playwright's sync API in browser tests) runs it on a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return asyncio.run_coroutine_threadsafe(coro, _side_loop()).result()
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loops.loop = asyncio.new_event_loop()
    return loop.run_until_complete(coro)


_side: asyncio.AbstractEventLoop | None = None
_side_lock = threading.Lock()


def _side_loop() -> asyncio.AbstractEventLoop:
    """A long-lived loop on its own daemon thread, for callers already inside a running loop."""
    global _side
    with _side_lock:
        if _side is None or _side.is_closed():
            _side = asyncio.new_event_loop()
            threading.Thread(target=_side.run_forever, name="fanout-side-loop", daemon=True).start()
        return _side


def reset_after_fork() -> None:
    """A forked worker child must not share its parent's loop or sockets."""
    global _loops
    from .providers.registry import reset_adapters

    global _side
    _loops = threading.local()
    _side = None
    reset_adapters()


# ---------------------------------------------------------------- rate limits


class TokenBucket:
    """Per-process rate limit for one provider (requests/second). A provider's project quota is
    shared by all worker processes: settings.DELIVERY_RATE_LIMITS gives the whole quota and
    DELIVERY_WORKER_PROCESSES how many processes share it."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst or max(rate, 1.0)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def wait_time(self, n: int) -> float:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= n
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


_buckets: dict[str, TokenBucket] = {}


def throttle(channel: str, n: int) -> None:
    limits = getattr(settings, "DELIVERY_RATE_LIMITS", {})
    per_minute = limits.get(channel)
    if not per_minute:
        return
    processes = max(int(getattr(settings, "DELIVERY_WORKER_PROCESSES", 1)), 1)
    bucket = _buckets.get(channel)
    if bucket is None:
        bucket = _buckets[channel] = TokenBucket(per_minute / 60.0 / processes)
    pause = bucket.wait_time(n)
    if pause > 0:
        time.sleep(pause)


# ---------------------------------------------------------------- audience


def _push_for(dispatch: Dispatch) -> Push:
    return dispatch.push


def audience_citizens(dispatch: Dispatch, push: Push):  # type: ignore[no-untyped-def]
    """Citizen ids in the frozen audience (a queryset, evaluated inside SQL)."""
    frozen_at = dispatch.frozen_at
    assert frozen_at is not None, "only a frozen dispatch has an audience"
    if push.target_kind == TargetKind.PERSON:
        return Citizen.objects.filter(pk=push.target_citizen_id or 0, status=CitizenStatus.ACTIVE).values("pk")
    if push.target_kind == TargetKind.EVERYONE:
        return Citizen.objects.filter(
            county_id=push.county_id, status=CitizenStatus.ACTIVE, created_at__lte=frozen_at
        ).values("pk")
    group_ids = sorted(push.target_group_links.values_list("group_id", flat=True))
    return audience_selectors.members_at(group_ids, frozen_at)


def audience_devices(dispatch: Dispatch, push: Push):  # type: ignore[no-untyped-def]
    """Active devices of the frozen audience whose owners did not turn app notifications off."""
    app_off = ChannelPreference.objects.filter(app_enabled=False).values("citizen_id")
    return Device.objects.filter(removed_at__isnull=True, citizen_id__in=audience_citizens(dispatch, push)).exclude(
        citizen_id__in=app_off
    )


def _slices(devices, size: int) -> list[tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    """(first id, last id, count) of consecutive slices of `size` device ids, computed in SQL."""
    inner_sql, params = devices.values("id").query.sql_with_params()
    sql = (
        "SELECT MIN(id), MAX(id), COUNT(*) FROM ("
        f" SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / {int(size)} AS bucket FROM ({inner_sql}) AS aud"
        ") AS b GROUP BY bucket ORDER BY 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(a), int(b), int(c)) for a, b, c in cursor.fetchall()]


def wants_other_channels(push: Push) -> bool:
    """Personal notices (incl. system notices) also go by SMS/e-mail when the citizen has no
    active device or chose them."""
    return push.target_kind == TargetKind.PERSON and push.push_type == PushType.NOTICE


def other_channels_for(citizen_id: int, has_device: bool) -> list[tuple[str, str]]:
    """[(channel, address)] for a personal notice. E-mail whenever the citizen turned it on (it is off
    by default, so that is a choice); SMS — on by default as the fallback — only when no active
    device will carry the notice (none registered, or app notifications turned off)."""
    citizen = Citizen.objects.filter(pk=citizen_id).values("phone_e164").first()
    if citizen is None:
        return []
    pref = ChannelPreference.objects.filter(citizen_id=citizen_id).first()
    out: list[tuple[str, str]] = []
    phone = citizen["phone_e164"] or ""
    if phone and not has_device and (pref is None or pref.sms_enabled):
        out.append((Channel.SMS, phone))
    if pref is not None and pref.email_enabled and pref.email:
        out.append((Channel.EMAIL, pref.email))
    return out


# ---------------------------------------------------------------- plan


def queue_kind(push: Push) -> str:
    return "personal" if push.target_kind == TargetKind.PERSON else "bulk"


def plan_fanout(dispatch_id: int) -> list[int]:
    """Create the Fanout row and the batches of a frozen dispatch; returns the batch ids to run.
    Idempotent: a second call (task redelivered) returns the pending batches of the first."""
    dispatch = Dispatch.objects.select_related("push").filter(pk=dispatch_id).first()
    if dispatch is None or dispatch.frozen_at is None:
        return []
    if dispatch.status not in (DispatchStatus.SENT, DispatchStatus.DISPATCHING):
        return []
    push = dispatch.push
    now = timezone.now()
    with transaction.atomic():
        fanout, created = Fanout.objects.select_for_update().get_or_create(
            dispatch=dispatch, defaults={"started_at": now, "updated_at": now}
        )
        if not created:
            return list(
                FanoutBatch.objects.filter(dispatch=dispatch, status=BatchStatus.PENDING).values_list("pk", flat=True)
            )
        Dispatch.objects.filter(pk=dispatch_id, status=DispatchStatus.SENT).update(
            status=DispatchStatus.DISPATCHING, finished_at=None
        )
        slices = _slices(audience_devices(dispatch, push), batch_size())
        if not slices and wants_other_channels(push):
            slices = [(0, 0, 0)]  # no device: one batch for the SMS/e-mail recipients
        batches = FanoutBatch.objects.bulk_create(
            [
                FanoutBatch(dispatch=dispatch, number=i, first_device_id=lo, last_device_id=hi, size=n)
                for i, (lo, hi, n) in enumerate(slices)
            ]
        )
        fanout.total = sum(n for _, _, n in slices)
        fanout.batches_total = len(batches)
        fanout.save(update_fields=["total", "batches_total"])
    if not batches:
        finalize(dispatch_id)
        return []
    return [b.pk for b in batches]


# ---------------------------------------------------------------- batch


@dataclass
class BatchReport:
    claimed: int = 0
    resent: int = 0
    delivered: int = 0
    failed: int = 0
    gone: int = 0
    skipped: int = 0
    stopped: bool = False
    lost_lease: bool = False


def _lease(batch_id: int, now: datetime.datetime) -> str | None:
    token = f"{os.getpid():x}-{secrets.token_hex(6)}"  # the pid shows which worker process held it
    taken = (
        FanoutBatch.objects.filter(pk=batch_id, status=BatchStatus.PENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            lease_token=token, lease_until=now + datetime.timedelta(seconds=lease_seconds()), attempts=F("attempts") + 1
        )
    )
    return token if taken else None


def _renew(batch_id: int, token: str) -> bool:
    until = timezone.now() + datetime.timedelta(seconds=lease_seconds())
    return bool(
        FanoutBatch.objects.filter(pk=batch_id, lease_token=token, status=BatchStatus.PENDING).update(lease_until=until)
    )


def _claim_devices(dispatch: Dispatch, push: Push, batch: FanoutBatch, now: datetime.datetime) -> None:
    devices = audience_devices(dispatch, push).filter(id__gte=batch.first_device_id, id__lte=batch.last_device_id)
    inner_sql, params = devices.values_list("citizen_id", "id", "kind").query.sql_with_params()
    table = DeliveryOutcome._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (dispatch_id, citizen_id, device_id, channel, status, attempts, error, claimed_at)"
            f" SELECT %s, d.citizen_id, d.id, d.kind, %s, 0, '', %s FROM ({inner_sql}) AS d"
            " WHERE true ON CONFLICT DO NOTHING",  # (WHERE: SQLite's INSERT…SELECT…ON CONFLICT parse rule)
            [dispatch.pk, OutcomeStatus.CLAIMED, now, *params],
        )


def _claim_other_channels(dispatch: Dispatch, push: Push, now: datetime.datetime) -> None:
    if not wants_other_channels(push) or push.target_citizen_id is None:
        return
    if not Citizen.objects.filter(pk=push.target_citizen_id, status=CitizenStatus.ACTIVE).exists():
        return
    has_device = audience_devices(dispatch, push).exists()
    rows = [
        DeliveryOutcome(
            dispatch=dispatch,
            citizen_id=push.target_citizen_id,
            device=None,
            channel=channel,
            status=OutcomeStatus.CLAIMED,
            claimed_at=now,
            error="",
        )
        for channel, _address in other_channels_for(push.target_citizen_id, has_device)
    ]
    if rows:
        DeliveryOutcome.objects.bulk_create(rows, ignore_conflicts=True)
        Fanout.objects.filter(dispatch=dispatch).update(total=F("total") + len(rows))


def nudge_for(push: Push) -> Nudge:
    try:
        url = reverse("citizen_web:message", args=[push.pk])
    except NoReverseMatch:
        url = f"/m/{push.pk}/"
    return Nudge(
        push_id=push.pk,
        title=push.title,
        body=push.body,
        url=url,
        urgent=push.urgency == Urgency.URGENT,
        ttl_seconds=86_400 if push.urgency != Urgency.URGENT else 3_600 * 6,
        topic=f"push-{push.pk}",
    )


def _personal_text_nudge(push: Push) -> Nudge:
    """SMS/e-mail carry the notice's own text (they are addressed to one person)."""
    return nudge_for(push)


def _finish(ids: Iterable[int], status: str, error: str = "", now: datetime.datetime | None = None) -> int:
    ids = list(ids)
    if not ids:
        return 0
    if connection.vendor == "postgresql":
        # One array parameter instead of one placeholder per outcome: the ORM's `pk__in` of a chunk
        # cost ~1.5 ms of client-side query building and splitting per statement.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {DeliveryOutcome._meta.db_table} SET status = %s, error = %s, finished_at = %s,"
                " attempts = attempts + 1 WHERE id = ANY(%s) AND status = %s",
                [status, error[:200], now or timezone.now(), ids, OutcomeStatus.CLAIMED],
            )
            return cursor.rowcount
    return DeliveryOutcome.objects.filter(pk__in=ids, status=OutcomeStatus.CLAIMED).update(
        status=status, error=error[:200], finished_at=now or timezone.now(), attempts=F("attempts") + 1
    )


def _send_with_retries(channel: str, targets: list[Target], nudge: Nudge, renew) -> list[tuple[Target, SendResult]]:  # type: ignore[no-untyped-def]
    """Send targets through the channel's adapter; 429/5xx/network answers are retried with
    exponential backoff (or Retry-After when longer) up to MAX_ATTEMPTS, then FAILED."""
    adapter = get_adapter(channel)
    done: list[tuple[Target, SendResult]] = []
    pending = targets
    for attempt in range(1, MAX_ATTEMPTS + 1):
        throttle(channel, len(pending))
        send_sync = getattr(adapter, "send_batch_sync", None)  # SMS/e-mail: in this thread (they use the ORM)
        results = send_sync(pending, nudge) if send_sync is not None else run_async(adapter.send_batch(pending, nudge))
        retry: list[Target] = []
        waits: list[float] = []
        for target, result in zip(pending, results, strict=True):
            if result.verdict == Verdict.RETRY and attempt < MAX_ATTEMPTS:
                retry.append(target)
                if result.retry_after is not None:
                    waits.append(min(result.retry_after, MAX_RETRY_AFTER))
            elif result.verdict == Verdict.RETRY:
                done.append((target, SendResult(Verdict.FAILED, result.status_code, error=f"gave up: {result.error}")))
            else:
                done.append((target, result))
        if not retry:
            break
        pause = max([BACKOFF_BASE * 2 ** (attempt - 1) * (1 + random.random() / 4), *waits])
        time.sleep(pause)
        renew()
        pending = retry
    return done


def _remove_devices(device_ids: list[int], reason: str, now: datetime.datetime) -> None:
    if device_ids:
        Device.objects.filter(pk__in=device_ids, removed_at__isnull=True).update(
            removed_at=now, removed_reason=reason[:64]
        )


def _deliver_chunk(
    rows: list[tuple],  # type: ignore[type-arg]
    dispatch: Dispatch,
    push: Push,
    nudge: Nudge,
    renew,
    report: BatchReport,
) -> None:  # type: ignore[no-untyped-def]
    """rows: (outcome id, device id, citizen id, channel, device kind, address, p256dh, auth, removed_at)."""
    now = timezone.now()
    # The daily promotion cap: a promotional broadcast skips citizens already at their cap today.
    if push.is_promotional:
        from civicpush.pushes.inbox import promotion_allowed_for

        allowed: dict[int, bool] = {}
        for citizen in Citizen.objects.filter(pk__in={r[2] for r in rows}):
            allowed[citizen.pk] = promotion_allowed_for(citizen, dispatch, now=now)
        over = [r[0] for r in rows if not allowed.get(r[2], True)]
        report.skipped += _finish(over, OutcomeStatus.SKIPPED, "daily promotion cap", now)
        rows = [r for r in rows if allowed.get(r[2], True)]
    device_rows = [r for r in rows if r[1] is not None]
    by_channel: dict[str, list[Target]] = defaultdict(list)
    vanished: list[int] = []
    for outcome_id, device_id, _citizen_id, _channel, kind, address, p256dh, auth, removed_at in device_rows:
        if removed_at is not None:  # removed since it was claimed
            vanished.append(outcome_id)
            continue
        by_channel[kind].append(Target(outcome_id, device_id, address, p256dh, auth))
    report.skipped += _finish(vanished, OutcomeStatus.SKIPPED, "device removed", now)
    other_rows = [r for r in rows if r[1] is None]
    if other_rows:
        contacts = dict(other_channels_for(push.target_citizen_id or 0, has_device=False))
        for outcome_id, _device_id, _citizen_id, channel, *_ in other_rows:
            address = contacts.get(channel, "")
            by_channel[channel].append(Target(outcome_id, None, address))
    for channel, targets in by_channel.items():
        channel_nudge = nudge if channel not in (Channel.SMS, Channel.EMAIL) else _personal_text_nudge(push)
        try:
            results = _send_with_retries(channel, targets, channel_nudge, renew)
        except AdapterUnavailable as exc:
            log.warning("delivery: %s; %d outcome(s) of dispatch %s not sent", exc, len(targets), dispatch.pk)
            report.skipped += _finish([t.outcome_id for t in targets], OutcomeStatus.SKIPPED, str(exc))
            continue
        grouped: dict[tuple[str, str], list[int]] = defaultdict(list)
        gone_devices: list[int] = []
        for target, result in results:
            if result.verdict == Verdict.DELIVERED:
                grouped[(OutcomeStatus.DELIVERED, "")].append(target.outcome_id)
            elif result.verdict == Verdict.GONE:
                grouped[(OutcomeStatus.GONE, result.error)].append(target.outcome_id)
                if target.device_id is not None:
                    gone_devices.append(target.device_id)
            else:
                grouped[(OutcomeStatus.FAILED, result.error)].append(target.outcome_id)
        finished = timezone.now()
        with transaction.atomic():
            for (status, error), ids in grouped.items():
                n = _finish(ids, status, error, finished)
                if status == OutcomeStatus.DELIVERED:
                    report.delivered += n
                elif status == OutcomeStatus.GONE:
                    report.gone += n
                else:
                    report.failed += n
            _remove_devices(gone_devices, f"{channel}: gone", finished)


def run_batch(batch_id: int) -> BatchReport:
    """Lease one batch, claim its outcomes, send them chunk by chunk, and record the results."""
    report = BatchReport()
    lease_start = timezone.now()
    token = _lease(batch_id, lease_start)
    if token is None:
        return report  # done, or another live worker holds it
    batch = FanoutBatch.objects.select_related("dispatch__push").get(pk=batch_id)
    dispatch = batch.dispatch
    push = dispatch.push

    def renew() -> None:
        if not _renew(batch_id, token):
            report.lost_lease = True
            raise LeaseLost(batch_id)

    if dispatching.should_stop(dispatch.pk):
        _stop(dispatch.pk)
        report.stopped = True
        return report
    try:
        _claim_devices(dispatch, push, batch, lease_start)
        if batch.number == 0:
            _claim_other_channels(dispatch, push, lease_start)
        in_range = Q(device_id__gte=batch.first_device_id, device_id__lte=batch.last_device_id)
        if batch.number == 0:
            in_range |= Q(device__isnull=True)
        claimed = list(
            DeliveryOutcome.objects.filter(in_range, dispatch=dispatch, status=OutcomeStatus.CLAIMED)
            .annotate(earlier=ExpressionWrapper(Q(claimed_at__lt=lease_start), output_field=BooleanField()))
            .order_by("pk")
            .values_list(
                "pk",
                "device_id",
                "citizen_id",
                "channel",
                "device__kind",
                "device__address",
                "device__p256dh",
                "device__auth",
                "device__removed_at",
                "earlier",
            )
        )
        report.claimed = len(claimed)
        # In doubt: claimed by a worker that died (before this lease), in a chunk it had started sending.
        report.resent = sum(1 for r in claimed if r[9] and r[0] <= batch.sending_upto)
        nudge = nudge_for(push)
        chunk = chunk_size()
        for start in range(0, len(claimed), chunk):
            if start and dispatching.should_stop(dispatch.pk):
                _stop(dispatch.pk)
                report.stopped = True
                break
            rows = [r[:9] for r in claimed[start : start + chunk]]
            if not FanoutBatch.objects.filter(pk=batch_id, lease_token=token, status=BatchStatus.PENDING).update(
                lease_until=timezone.now() + datetime.timedelta(seconds=lease_seconds()), sending_upto=rows[-1][0]
            ):
                raise LeaseLost(batch_id)
            _deliver_chunk(rows, dispatch, push, nudge, renew, report)
    except LeaseLost:
        log.warning("delivery: batch %s lease lost; another worker resumes it", batch_id)
        return report
    now = timezone.now()
    with transaction.atomic():
        if report.stopped:
            FanoutBatch.objects.filter(pk=batch_id, lease_token=token).update(
                status=BatchStatus.STOPPED, finished_at=now, resent=F("resent") + report.resent
            )
        elif not FanoutBatch.objects.filter(pk=batch_id, lease_token=token, status=BatchStatus.PENDING).update(
            status=BatchStatus.DONE, finished_at=now, resent=F("resent") + report.resent
        ):
            return report
        Fanout.objects.filter(dispatch_id=dispatch.pk).update(
            sent=F("sent") + report.delivered,
            failed=F("failed") + report.failed + report.gone + report.skipped,
            batches_done=F("batches_done") + 1,
            updated_at=now,
        )
    if not FanoutBatch.objects.filter(dispatch_id=dispatch.pk, status=BatchStatus.PENDING).exists():
        finalize(dispatch.pk)
    return report


class LeaseLost(Exception):
    pass


def _stop(dispatch_id: int) -> None:
    """Honour a cancel at a batch boundary: the remaining batches are not sent."""
    now = timezone.now()
    FanoutBatch.objects.filter(dispatch_id=dispatch_id, status=BatchStatus.PENDING).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    ).update(status=BatchStatus.STOPPED, finished_at=now)
    dispatching.mark_dispatch_stopped(dispatch_id, now=now)
    finalize(dispatch_id, stopped=True)


def finalize(dispatch_id: int, *, stopped: bool = False) -> bool:
    """Once no batch is pending: exact counts from the outcome rows into Fanout and Push, and the
    dispatch marked sent. Runs its writes once (the RUNNING → DONE/STOPPED transition guards it)."""
    if FanoutBatch.objects.filter(dispatch_id=dispatch_id, status=BatchStatus.PENDING).exists() and not stopped:
        return False
    now = timezone.now()
    counts = dict(
        DeliveryOutcome.objects.filter(dispatch_id=dispatch_id)
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    delivered = counts.get(OutcomeStatus.DELIVERED, 0)
    failed = sum(counts.get(s, 0) for s in (OutcomeStatus.FAILED, OutcomeStatus.GONE, OutcomeStatus.SKIPPED))
    with transaction.atomic():
        won = Fanout.objects.filter(dispatch_id=dispatch_id, status=FanoutStatus.RUNNING).update(
            status=FanoutStatus.STOPPED if stopped else FanoutStatus.DONE,
            sent=delivered,
            failed=failed,
            updated_at=now,
            finished_at=now,
        )
        if not won:
            return False
        dispatch = Dispatch.objects.get(pk=dispatch_id)
        Push.objects.filter(pk=dispatch.push_id).update(
            delivered_count=F("delivered_count") + delivered, failed_count=F("failed_count") + failed
        )
        if not stopped:
            Dispatch.objects.filter(pk=dispatch_id, status=DispatchStatus.DISPATCHING).update(
                status=DispatchStatus.SENT, finished_at=now
            )
    return True


# ---------------------------------------------------------------- resume


def stalled_batches(now: datetime.datetime | None = None) -> list[tuple[int, str]]:
    """Pending batches that need a task again: their lease ran out (the worker died mid-batch), or
    they never started while their fan-out made no progress for DELIVERY_STALL_SECONDS (the task
    message was lost with its worker). Returns (batch id, queue kind)."""
    now = now or timezone.now()
    stale = now - datetime.timedelta(seconds=stall_seconds())
    expired = Q(lease_until__lt=now)
    never_started = Q(lease_until__isnull=True, dispatch__fanout__updated_at__lt=stale)
    rows = list(
        FanoutBatch.objects.filter(status=BatchStatus.PENDING)
        .filter(expired | never_started)
        .values_list("pk", "dispatch__push__target_kind", "dispatch_id")
    )
    # Count the hand-out as progress, so a long queue backlog gets one more copy of its messages
    # per DELIVERY_STALL_SECONDS, not one per sweep.
    Fanout.objects.filter(dispatch_id__in={d for _, _, d in rows}).update(updated_at=now)
    return [(pk, "personal" if kind == TargetKind.PERSON else "bulk") for pk, kind, _ in rows]


def touch(dispatch_id: int) -> None:
    Fanout.objects.filter(dispatch_id=dispatch_id).update(updated_at=timezone.now())
