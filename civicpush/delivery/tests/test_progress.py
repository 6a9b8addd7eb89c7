"""The console's delivery progress bar: counts, rate and ETA from the Fanout row, the htmx fragment
that polls every 2 s while sending and stops when done, and the push page's unit scope."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from civicpush.console.tests.conftest import PASSWORD
from civicpush.delivery.models import Fanout, FanoutStatus
from civicpush.delivery.selectors import fanout_progress, format_duration, push_fanout_progress
from civicpush.pushes.models import Dispatch, DispatchStatus, Push, PushStatus, TargetKind

pytestmark = pytest.mark.django_db
START = datetime.datetime(2026, 11, 22, 1, 0, tzinfo=datetime.UTC)


def sending_push(org: Any, **fanout: Any) -> tuple[Push, Dispatch]:
    unit = org.unit("prevention")
    push = Push.objects.create(
        county=unit.county,
        unit=unit,
        push_type="promotion",
        title="居家安全宣導",
        body="請測試住警器。",
        target_kind=TargetKind.EVERYONE,
        status=PushStatus.DISPATCHING,
        created_by=org.user("prevention.drafter"),
    )
    dispatch = Dispatch.objects.create(
        push=push,
        county=unit.county,
        target_kind=TargetKind.EVERYONE,
        scheduled_for=START,
        frozen_at=START,
        audience_size=1_000_000,
        status=DispatchStatus.DISPATCHING,
    )
    values = {"total": 1_000_000, "sent": 0, "failed": 0, "started_at": START, "updated_at": START, **fanout}
    Fanout.objects.create(dispatch=dispatch, **values)
    return push, dispatch


def as_staff(username: str) -> Client:
    client = Client()
    assert client.post("/console/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_rate_remaining_and_eta_while_sending(org: Any) -> None:
    _push, dispatch = sending_push(org, sent=396_000, failed=4_000, updated_at=START + datetime.timedelta(seconds=200))
    progress = fanout_progress(dispatch)
    assert progress is not None and progress.running
    assert (progress.sent, progress.failed, progress.remaining, progress.percent) == (396_000, 4_000, 600_000, 40)
    assert progress.rate_per_second == 2000.0
    assert progress.eta_seconds == 300
    assert format_duration(progress.eta_seconds) == "5:00"
    assert format_duration(3_909) == "1:05:09" and format_duration(None) == "—"


def test_no_rate_before_the_first_second_and_final_counts_when_done(org: Any) -> None:
    push, dispatch = sending_push(org, sent=10, updated_at=START + datetime.timedelta(milliseconds=300))
    progress = fanout_progress(dispatch.pk)
    assert progress is not None and progress.rate_per_second is None and progress.eta_seconds is None
    Fanout.objects.filter(pk=dispatch.pk).update(
        status=FanoutStatus.DONE, sent=999_990, failed=10, finished_at=START + datetime.timedelta(seconds=500)
    )
    done = push_fanout_progress(push)
    assert done is not None and not done.running
    assert (done.remaining, done.percent, done.eta_seconds, done.rate_per_second) == (0, 100, None, 2000.0)


def test_a_requested_cancel_shows_as_stopping(org: Any) -> None:
    _push, dispatch = sending_push(org, sent=5, updated_at=START + datetime.timedelta(seconds=5))
    Dispatch.objects.filter(pk=dispatch.pk).update(cancel_requested_at=timezone.now())
    progress = fanout_progress(dispatch)
    assert progress is not None and progress.stopping


def test_the_fragment_polls_every_two_seconds_while_sending_then_stops(org: Any) -> None:
    push, dispatch = sending_push(org, sent=396_000, failed=4_000, updated_at=START + datetime.timedelta(seconds=200))
    client = as_staff("prevention.drafter")
    page = client.get(f"/console/pushes/{push.pk}/").content.decode()
    assert 'id="delivery-progress"' in page and "vendor/htmx.min.js" in page
    fragment = client.get(f"/console/pushes/{push.pk}/?part=progress")
    html = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in html
    assert f'hx-get="/console/pushes/{push.pk}/"' not in html  # the fragment's own URL, with ?part=progress
    assert f'hx-get="/console/pushes/{push.pk}/?part=progress"' in html and 'hx-trigger="every 2s"' in html
    assert 'value="400000"' in html and 'max="1000000"' in html
    assert "396,000" in html and "600,000" in html and "5:00" in html
    assert 'href="#cancel-form"' in html  # the drafter may cancel: it stops the send
    assert 'id="cancel-form"' in page

    Fanout.objects.filter(pk=dispatch.pk).update(
        status=FanoutStatus.DONE, sent=996_000, failed=4_000, finished_at=START + datetime.timedelta(seconds=500)
    )
    Dispatch.objects.filter(pk=dispatch.pk).update(status=DispatchStatus.SENT)
    done = client.get(f"/console/pushes/{push.pk}/?part=progress").content.decode()
    assert "hx-trigger" not in done  # polling ends
    assert "996,000" in done and "8:20" in done


def test_the_progress_is_scoped_like_the_push_page(org: Any) -> None:
    push, _dispatch = sending_push(org, sent=1, updated_at=START + datetime.timedelta(seconds=2))
    other_unit = as_staff("investigation.drafter")
    assert other_unit.get(f"/console/pushes/{push.pk}/?part=progress").status_code == 404
