"""Scale-out: two Celery worker processes against the real broker and PostgreSQL share a broadcast
with no duplicate delivery, and a personal notice sent during the broadcast is not held behind it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.db import connection

from civicpush.config.celery import app as celery_app
from civicpush.delivery import tasks
from civicpush.delivery.models import DeliveryOutcome, Fanout, FanoutBatch, FanoutStatus, OutcomeStatus
from civicpush.pushes.models import PushType, TargetKind
from civicpush.pushes.tests.conftest import make_citizen

from .fanout_support import REPO, add_webpush_device, bulk_subscribers, frozen_dispatch, start_sink, worker_env

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (a real broker)"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the workers share the PostgreSQL test database"),
]
DEVICES = 1200


def _start_worker(n: int) -> subprocess.Popen[bytes]:
    # The production settings module: with CELERY_BROKER_URL set, tasks a worker enqueues (the
    # batches) go through the broker (settings_test forces in-process tasks).
    env = worker_env(
        CIVICPUSH_DELIVERY_BATCH_SIZE="100",
        CIVICPUSH_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="civicpush.config.settings",
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "civicpush.config",
            "worker",
            "-Q",
            "personal,default,bulk",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "-n",
            f"fanout{n}-{os.getpid()}@%h",
        ],
        cwd=REPO,
        env=env,
    )


def _wait(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_two_workers_share_a_broadcast_without_duplicates_and_a_notice_does_not_wait(transactional_db, org):
    sink = start_sink(subscribers=DEVICES + 1, check_every=50)
    sink.delay = 0.04  # each bulk batch takes a while, as against a real push service
    celery_app.control.purge()
    workers = [_start_worker(1), _start_worker(2)]
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        bulk_subscribers(org.county, sink.origin, DEVICES)
        broadcast = frozen_dispatch(org)
        person = make_citizen(org.county)  # signed up after the broadcast froze: not in its audience
        personal_device = add_webpush_device(person, sink.origin, DEVICES)
        assert _wait(lambda: len(celery_app.control.ping(timeout=0.5) or []) >= 2, 60), "two workers up"
        tasks.start_fanout(broadcast.pk, personal=False)
        assert _wait(lambda: sink.accepted > DEVICES // 5, 60), sink.stats()

        # The broadcast is under way on both workers: a personal notice now.
        notice = frozen_dispatch(org, target_kind=TargetKind.PERSON, citizen=person, push_type=PushType.NOTICE)
        sent_at = time.monotonic()
        tasks.start_fanout(notice.pk, personal=True)
        index = DEVICES
        assert _wait(lambda: sink.seen_bits[index // 8] & (1 << (index % 8)), 30)
        latency = time.monotonic() - sent_at
        assert sink.accepted < DEVICES  # the broadcast was still sending
        assert latency < 3.0, f"the notice waited {latency:.1f} s behind the broadcast"

        assert _wait(lambda: Fanout.objects.filter(dispatch=broadcast, status=FanoutStatus.DONE).exists(), 120)
        assert sink.distinct == DEVICES + 1 and sink.duplicates == 0, sink.stats()
        assert sink.check_failures == []
        outcomes = DeliveryOutcome.objects.filter(dispatch=broadcast)
        assert outcomes.count() == DEVICES
        assert set(outcomes.values_list("status", flat=True)) == {OutcomeStatus.DELIVERED}
        pids = {
            t.split("-")[0]
            for t in FanoutBatch.objects.filter(dispatch=broadcast).values_list("lease_token", flat=True)
        }
        assert len(pids) == 2, "both worker processes took batches"
        assert DeliveryOutcome.objects.get(dispatch=notice, device=personal_device).status == OutcomeStatus.DELIVERED
    finally:
        celery_app.conf.task_always_eager = previous
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()
        sink.stop()
