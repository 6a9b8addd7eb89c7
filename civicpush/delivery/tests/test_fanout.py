"""The fan-out against a real local push service (bench/push_sink.py over TCP): every device once,
devices removed on 410, retries on 429/5xx then a terminal failure, cancel at a batch boundary, the
daily promotion cap, SMS/e-mail outcomes for personal notices, final counts, and no personal data in
any payload. Tasks run in-process (the embedded default)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from civicpush.delivery import fanout, tasks
from civicpush.delivery.models import (
    ChannelPreference,
    DeliveryOutcome,
    Device,
    Fanout,
    FanoutBatch,
    FanoutStatus,
    OutcomeStatus,
)
from civicpush.delivery.notices import send_system_notice
from civicpush.pushes.models import Dispatch, DispatchStatus, PushType, TargetKind
from civicpush.pushes.tests.conftest import make_citizen

from .fanout_support import add_webpush_device, frozen_dispatch, start_sink

pytestmark = pytest.mark.django_db


@pytest.fixture
def sink():
    s = start_sink(subscribers=1000, check_every=1)
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch, settings):
    monkeypatch.setattr(fanout, "BACKOFF_BASE", 0.01)
    settings.DELIVERY_BATCH_SIZE = 1000
    settings.DELIVERY_CHUNK = 250


def _run(dispatch: Dispatch) -> None:
    tasks._plan(dispatch.pk, "bulk")


def test_a_broadcast_reaches_every_active_device_once_and_counts_feed_the_push(org, sink):
    citizens = [make_citizen(org.county) for _ in range(6)]
    devices = [add_webpush_device(c, sink.origin, i) for i, c in enumerate(citizens)]
    second = add_webpush_device(citizens[0], sink.origin, 10)  # a citizen with two browsers
    gone = add_webpush_device(citizens[1], sink.origin, 11, prefix="gone")
    removed = add_webpush_device(citizens[2], sink.origin, 12)
    Device.objects.filter(pk=removed.pk).update(removed_at=timezone.now())
    ChannelPreference.objects.create(citizen=citizens[3], app_enabled=False)  # turned app notifications off
    dispatch = frozen_dispatch(org, target_kind=TargetKind.EVERYONE)

    _run(dispatch)

    expected = {d.pk for d in devices if d.citizen_id != citizens[3].pk} | {second.pk}
    delivered = set(
        DeliveryOutcome.objects.filter(dispatch=dispatch, status=OutcomeStatus.DELIVERED).values_list(
            "device_id", flat=True
        )
    )
    assert delivered == expected
    assert sink.distinct == len(expected) and sink.duplicates == 0
    assert sink.check_failures == [] and sink.checked >= len(expected)
    gone_outcome = DeliveryOutcome.objects.get(dispatch=dispatch, device=gone)
    assert gone_outcome.status == OutcomeStatus.GONE
    gone.refresh_from_db()
    assert gone.removed_at is not None and "gone" in gone.removed_reason
    assert not DeliveryOutcome.objects.filter(device=removed).exists()
    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.SENT and dispatch.finished_at is not None
    progress = Fanout.objects.get(dispatch=dispatch)
    assert progress.status == FanoutStatus.DONE
    assert (progress.total, progress.sent, progress.failed) == (len(expected) + 1, len(expected), 1)
    dispatch.push.refresh_from_db()
    assert (dispatch.push.delivered_count, dispatch.push.failed_count) == (len(expected), 1)

    # Running it again (a redelivered task) sends nothing and changes no count.
    _run(dispatch)
    for batch in FanoutBatch.objects.filter(dispatch=dispatch):
        fanout.run_batch(batch.pk)
    assert sink.requests == len(expected) + 1
    dispatch.push.refresh_from_db()
    assert dispatch.push.delivered_count == len(expected)


def test_payload_is_a_nudge_without_personal_data(org, sink):
    citizen = make_citizen(org.county)
    add_webpush_device(citizen, sink.origin, 1)
    dispatch = frozen_dispatch(
        org, target_kind=TargetKind.PERSON, citizen=citizen, push_type=PushType.NOTICE, body="長" * 3000
    )
    phone = citizen.phone_e164 or ""
    assert phone
    sink.forbidden = (phone, phone[-9:])
    tasks._plan(dispatch.pk, "personal")
    assert sink.check_failures == []
    [payload] = sink.payloads
    assert set(payload) <= {"push_id", "title", "body", "url", "tag", "icon", "image"}
    assert payload["push_id"] == dispatch.push_id and payload["url"].endswith(f"/m/{dispatch.push_id}/")
    assert phone not in str(payload)
    assert DeliveryOutcome.objects.get(dispatch=dispatch).status == OutcomeStatus.DELIVERED


def test_429_is_retried_and_5xx_ends_failed_after_backoff(org, sink):
    a, b = make_citizen(org.county), make_citizen(org.county)
    busy = add_webpush_device(a, sink.origin, 1, prefix="busy")
    down = add_webpush_device(b, sink.origin, 2, prefix="down")
    dispatch = frozen_dispatch(org)
    started = timezone.now()
    _run(dispatch)
    assert DeliveryOutcome.objects.get(device=busy).status == OutcomeStatus.DELIVERED
    failed = DeliveryOutcome.objects.get(device=down)
    assert failed.status == OutcomeStatus.FAILED and "503" in failed.error
    assert sink.by_status[503] == fanout.MAX_ATTEMPTS
    assert timezone.now() - started >= datetime.timedelta(seconds=1)  # Retry-After: 1 was honoured
    down.refresh_from_db()
    assert down.removed_at is None  # a server error never removes a device


def test_cancel_stops_at_the_next_batch_boundary(org, sink, settings):
    settings.DELIVERY_BATCH_SIZE = 2
    for i in range(6):
        add_webpush_device(make_citizen(org.county), sink.origin, i)
    dispatch = frozen_dispatch(org)
    batch_ids = fanout.plan_fanout(dispatch.pk)
    assert len(batch_ids) == 3
    fanout.run_batch(batch_ids[0])
    Dispatch.objects.filter(pk=dispatch.pk).update(cancel_requested_at=timezone.now())
    report = fanout.run_batch(batch_ids[1])
    assert report.stopped
    fanout.run_batch(batch_ids[2])
    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.STOPPED
    assert sink.distinct == 2
    assert Fanout.objects.get(dispatch=dispatch).status == FanoutStatus.STOPPED
    dispatch.push.refresh_from_db()
    assert dispatch.push.delivered_count == 2


def test_a_promotion_over_the_daily_cap_is_skipped_for_that_citizen(org, sink):
    long_ago = timezone.now() - datetime.timedelta(days=30)
    capped = make_citizen(org.county, created_at=long_ago)
    add_webpush_device(capped, sink.origin, 1)
    # Three promotional broadcasts earlier today (the default cap is three): the capped citizen was
    # in their audience; the newcomer signed up after them.
    earlier = [frozen_dispatch(org) for _ in range(3)]
    Dispatch.objects.filter(pk__in=[d.pk for d in earlier]).update(
        frozen_at=timezone.now() - datetime.timedelta(minutes=5), status=DispatchStatus.SENT
    )
    newcomer = make_citizen(org.county)
    add_webpush_device(newcomer, sink.origin, 2)
    fourth = frozen_dispatch(org)
    _run(fourth)
    statuses = dict(DeliveryOutcome.objects.filter(dispatch=fourth).values_list("citizen_id", "status"))
    assert statuses == {capped.pk: OutcomeStatus.SKIPPED, newcomer.pk: OutcomeStatus.DELIVERED}
    assert sink.distinct == 1
    # An urgent broadcast is never capped.
    urgent = frozen_dispatch(org, urgent=True)
    _run(urgent)
    assert set(DeliveryOutcome.objects.filter(dispatch=urgent).values_list("status", flat=True)) == {
        OutcomeStatus.DELIVERED
    }


class RecordingAdapter:
    """Stands in for the SMS gateway adapter (tested with its own fake by its own tests)."""

    channel = "sms"

    def __init__(self):
        self.sent = []

    async def send_batch(self, targets, nudge):
        from civicpush.delivery.providers.base import SendResult, Verdict

        self.sent.extend((t.address, nudge.title, nudge.body) for t in targets)
        return [SendResult(Verdict.DELIVERED, 200) for _ in targets]

    async def aclose(self):
        pass


def test_a_system_notice_goes_out_on_commit_and_by_sms_without_a_device(
    org, sink, django_capture_on_commit_callbacks, monkeypatch
):
    from civicpush.delivery.providers import registry

    sms = RecordingAdapter()
    monkeypatch.setitem(registry._adapters, "sms", sms)
    with_device, without = make_citizen(org.county), make_citizen(org.county)
    add_webpush_device(with_device, sink.origin, 1)
    unit = org.unit("rescue")
    with django_capture_on_commit_callbacks(execute=True):
        first = send_system_notice(with_device, unit=unit, kind="t", reference="t:1", title="付款完成", body="已付款。")
    with django_capture_on_commit_callbacks(execute=True):
        second = send_system_notice(without, unit=unit, kind="t", reference="t:2", title="付款完成", body="已付款。")
    assert sink.distinct == 1 and sink.payloads[0]["push_id"] == first.pk
    outcome = DeliveryOutcome.objects.get(dispatch__push=first)
    assert outcome.status == OutcomeStatus.DELIVERED and outcome.channel == "webpush"
    outcome = DeliveryOutcome.objects.get(dispatch__push=second)
    assert outcome.channel == "sms" and outcome.device_id is None and outcome.status == OutcomeStatus.DELIVERED
    assert sms.sent == [(without.phone_e164, "付款完成", "已付款。")]
    assert not any(address == with_device.phone_e164 for address, _, _ in sms.sent)
    assert Dispatch.objects.get(push=second).status == DispatchStatus.SENT


def test_registry_explains_a_missing_adapter():
    from civicpush.delivery.providers.registry import AdapterUnavailable, get_adapter

    with pytest.raises(AdapterUnavailable):
        get_adapter("pigeon")
    assert get_adapter("webpush").channel == "webpush"
