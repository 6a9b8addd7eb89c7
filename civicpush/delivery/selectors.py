"""Delivery reads: a dispatch's fan-out progress (the console's progress bar) and who a push is from.

Authorisation is the caller's: the console reaches these only for a push it fetched through
`pushes.selectors.get_push` (the user's unit scope).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from civicpush.pushes.models import Dispatch, Push

from .models import Fanout, FanoutStatus

# Below this much elapsed time a rate is noise (the first batch is still in flight).
MIN_ELAPSED_FOR_RATE = 1.0


@dataclass(frozen=True)
class FanoutProgress:
    """Where one dispatch's fan-out stands: counts, rate and an estimate of the time left."""

    dispatch_id: int
    status: str  # a FanoutStatus value
    total: int
    sent: int
    failed: int
    remaining: int
    percent: int  # of the total that is done (sent or failed), 0–100
    rate_per_second: float | None  # deliveries (sent + failed) per second so far
    eta_seconds: int | None  # while running, at the rate so far
    started_at: datetime.datetime
    updated_at: datetime.datetime
    finished_at: datetime.datetime | None
    stopping: bool  # a cancel was requested and the fan-out has not stopped yet

    @property
    def running(self) -> bool:
        return self.status == FanoutStatus.RUNNING

    @property
    def status_label(self) -> str:
        return str(FanoutStatus(self.status).label) if self.status in FanoutStatus.values else self.status

    @property
    def done(self) -> int:
        return self.sent + self.failed

    @property
    def elapsed_seconds(self) -> float:
        end = self.finished_at or self.updated_at
        return max((end - self.started_at).total_seconds(), 0.0)


def _progress(fanout: Fanout, *, cancel_requested: bool) -> FanoutProgress:
    done = fanout.sent + fanout.failed
    total = max(fanout.total, done)
    remaining = max(total - done, 0)
    end = fanout.finished_at or fanout.updated_at
    elapsed = (end - fanout.started_at).total_seconds()
    rate = done / elapsed if done and elapsed >= MIN_ELAPSED_FOR_RATE else None
    running = fanout.status == FanoutStatus.RUNNING
    eta = math.ceil(remaining / rate) if running and rate and remaining else (0 if running and not remaining else None)
    percent = 100 if total == 0 and not running else (math.floor(done * 100 / total) if total else 0)
    return FanoutProgress(
        dispatch_id=fanout.dispatch_id,
        status=fanout.status,
        total=total,
        sent=fanout.sent,
        failed=fanout.failed,
        remaining=remaining,
        percent=min(percent, 100),
        rate_per_second=round(rate, 1) if rate is not None else None,
        eta_seconds=eta,
        started_at=fanout.started_at,
        updated_at=fanout.updated_at,
        finished_at=fanout.finished_at,
        stopping=running and cancel_requested,
    )


def fanout_progress(dispatch: Dispatch | int) -> FanoutProgress | None:
    """The progress of the dispatch's fan-out; None when it has not started."""
    dispatch_id = dispatch if isinstance(dispatch, int) else dispatch.pk
    fanout = Fanout.objects.filter(dispatch_id=dispatch_id).select_related("dispatch").first()
    if fanout is None:
        return None
    return _progress(fanout, cancel_requested=fanout.dispatch.cancel_requested_at is not None)


def push_fanout_progress(push: Push) -> FanoutProgress | None:
    """The fan-out to show on a push's page: the one running, else the most recently started."""
    fanouts = Fanout.objects.filter(dispatch__push=push).select_related("dispatch")
    fanout = (
        fanouts.filter(status=FanoutStatus.RUNNING).order_by("-started_at").first()
        or fanouts.order_by("-started_at").first()
    )
    if fanout is None:
        return None
    return _progress(fanout, cancel_requested=fanout.dispatch.cancel_requested_at is not None)


def format_duration(seconds: float | None) -> str:
    """A clock-like duration for the progress bar: 1:05:09, 4:07 or 0:12."""
    if seconds is None:
        return "—"
    whole = max(round(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def sender_name(push_id: int) -> str:
    """Who a push is from, as an SMS or e-mail names the sender: the unit's agency (e.g.
    "臺東縣消防局"), else the county."""
    row = Push.objects.filter(pk=push_id).values_list("unit__agency__name", "county__name").first()
    if row is None:
        return ""
    agency, county = row
    return agency or county or ""
