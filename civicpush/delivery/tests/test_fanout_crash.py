"""Kill -9 a worker process mid-send, start another: every device ends with exactly one delivery at
the push service (distinct per device and topic, as a device displays it) and one outcome row; only
the in-doubt chunk may be sent twice. Runs on SQLite and PostgreSQL (the worker is a separate
process sharing the test database; tasks in-process, as on the embedded default)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from civicpush.delivery.models import DeliveryOutcome, Fanout, FanoutBatch, FanoutStatus, OutcomeStatus
from civicpush.pushes.models import DispatchStatus
from civicpush.pushes.tests.conftest import make_citizen

from .fanout_support import REPO, add_webpush_device, frozen_dispatch, start_sink, worker_env

DEVICES = 300
CHUNK = 25
SCRIPT = """
import sys, django
django.setup()
from civicpush.delivery import tasks
if sys.argv[1] == "plan":
    tasks._plan(int(sys.argv[2]), "bulk")
else:
    print("resumed", tasks.resume_fanouts())
"""


def _worker(*args: str) -> subprocess.Popen[bytes]:
    env = worker_env(
        CIVICPUSH_DELIVERY_LEASE_SECONDS="1",
        CIVICPUSH_DELIVERY_STALL_SECONDS="1",
        CIVICPUSH_DELIVERY_BATCH_SIZE="100",
        CIVICPUSH_DELIVERY_CHUNK=str(CHUNK),
        CIVICPUSH_LOG_LEVEL="WARNING",
    )
    return subprocess.Popen([sys.executable, "-c", SCRIPT, *args], cwd=REPO, env=env)


def test_kill_9_mid_send_then_restart_delivers_every_device_exactly_once(transactional_db, org):
    sink = start_sink(subscribers=DEVICES, check_every=7)
    sink.delay = 0.01  # a push service answering in 10 ms, so the kill lands mid-send
    try:
        for i in range(DEVICES):
            add_webpush_device(make_citizen(org.county), sink.origin, i)
        dispatch = frozen_dispatch(org)

        first = _worker("plan", str(dispatch.pk))
        deadline = time.monotonic() + 60
        while sink.accepted < DEVICES * 0.4 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.005)
        assert first.poll() is None, "the worker finished before it could be killed"
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        killed_at = sink.accepted
        assert 0 < killed_at < DEVICES
        assert Fanout.objects.get(dispatch=dispatch).status == FanoutStatus.RUNNING
        assert DeliveryOutcome.objects.filter(dispatch=dispatch, status=OutcomeStatus.CLAIMED).exists() or (
            FanoutBatch.objects.filter(dispatch=dispatch, status="pending").exists()
        )

        time.sleep(1.3)  # the dead worker's lease runs out
        second = _worker("resume")
        assert second.wait(timeout=120) == 0

        assert sink.distinct == DEVICES, sink.stats()
        assert sink.duplicates <= CHUNK  # only the chunk in flight at the kill can be in doubt
        assert sink.check_failures == []
        outcomes = DeliveryOutcome.objects.filter(dispatch=dispatch)
        assert outcomes.count() == DEVICES
        assert set(outcomes.values_list("status", flat=True)) == {OutcomeStatus.DELIVERED}
        assert outcomes.values("device_id").distinct().count() == DEVICES
        resent = sum(FanoutBatch.objects.filter(dispatch=dispatch).values_list("resent", flat=True))
        assert sink.duplicates <= resent <= CHUNK
        progress = Fanout.objects.get(dispatch=dispatch)
        assert progress.status == FanoutStatus.DONE and progress.sent == DEVICES
        dispatch.refresh_from_db()
        dispatch.push.refresh_from_db()
        assert dispatch.status == DispatchStatus.SENT and dispatch.push.delivered_count == DEVICES
    finally:
        sink.stop()
