"""The platform's overdue notice fires from the clock, once; signed callbacks are retried only on
5xx, 429 and network errors (against a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import datetime
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from civicpush.cases import callbacks, services
from civicpush.cases.models import CallbackStatus, Case, CaseCallback, CaseEvent, NonWorkingDay
from civicpush.cases.tasks import declare_overdue_cases, retry_case_callbacks, send_case_callback
from civicpush.core.models import AuditEntry
from civicpush.delivery.models import SystemNotice
from civicpush.pushes.models import Push

from .helpers import key_client, new_citizen, put_type

pytestmark = pytest.mark.django_db
TAIPEI = datetime.timezone(datetime.timedelta(hours=8))


def _open(kc: Any, ref: str = "A-1", received_at: str | None = None) -> int:
    body = {"case_type": "fire-plan-review", "external_ref": ref, "citizen": "0912000001"}
    if received_at:
        body["received_at"] = received_at
    response = kc.call("post", "/cases", body)
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def test_due_date_counts_working_days_and_county_holidays(org: Any) -> None:
    new_citizen("+886912000001")
    kc = key_client(org)
    put_type(kc, days=3)
    # Received Thursday 2026-12-24; Friday 12-25 is a holiday in the county table (行憲紀念日).
    NonWorkingDay.objects.create(county=org.county, date=datetime.date(2026, 12, 25), name="行憲紀念日")
    with time_machine.travel(datetime.datetime(2026, 12, 24, 10, 0, tzinfo=TAIPEI), tick=False):
        case = Case.objects.get(pk=_open(kc))
    # Working days after receipt: Mon 28, Tue 29, Wed 30 → due at the end of 2026-12-30.
    assert case.due_at.astimezone(TAIPEI) == datetime.datetime(2026, 12, 30, 23, 59, 59, tzinfo=TAIPEI)


def test_overdue_notice_fires_from_the_clock_and_not_twice(org: Any) -> None:
    citizen = new_citizen("+886912000001")
    kc = key_client(org)
    put_type(kc, days=2)
    with time_machine.travel(datetime.datetime(2026, 12, 1, 9, 0, tzinfo=TAIPEI), tick=False):  # a Tuesday
        case_id = _open(kc)
        assert declare_overdue_cases.apply().get() == 0

    # Thursday evening: still within the standard time (Wed, Thu).
    with time_machine.travel(datetime.datetime(2026, 12, 3, 23, 0, tzinfo=TAIPEI), tick=False):
        assert declare_overdue_cases.apply().get() == 0
    assert not CaseEvent.objects.filter(case_id=case_id, kind="overdue").exists()

    # Friday morning: past due. The clock (the beat task) declares it overdue.
    with time_machine.travel(datetime.datetime(2026, 12, 4, 8, 0, tzinfo=TAIPEI), tick=False):
        assert declare_overdue_cases.apply().get() == 1
        assert declare_overdue_cases.apply().get() == 0  # the next run: nothing twice
    with time_machine.travel(datetime.datetime(2026, 12, 10, 8, 0, tzinfo=TAIPEI), tick=False):
        assert declare_overdue_cases.apply().get() == 0

    event = CaseEvent.objects.get(case_id=case_id, kind="overdue")
    assert event.source == "platform" and event.reason == ""
    assert event.expected_completion == datetime.date(2026, 12, 8)  # due Thu 3 + 3 working days (Fri, Mon, Tue)
    notices = Push.objects.filter(target_citizen=citizen, title="案件逾期通知")
    assert notices.count() == 1
    assert "2026-12-08" in notices.get().body
    case = Case.objects.get(pk=case_id)
    assert case.status == "overdue" and case.overdue_at is not None
    # The unit is told: an audit entry under it, which its console lists.
    assert AuditEntry.objects.filter(action="cases.case.overdue", unit_id=case.unit_id).count() == 1


def test_no_platform_overdue_notice_when_the_unit_already_declared_it(org: Any) -> None:
    new_citizen("+886912000001")
    kc = key_client(org)
    put_type(kc, days=2)
    with time_machine.travel(datetime.datetime(2026, 12, 1, 9, 0, tzinfo=TAIPEI), tick=False):
        case_id = _open(kc)
        kc.call(
            "post",
            f"/cases/{case_id}/events",
            {"kind": "overdue", "client_reference": "o", "reason": "待會勘", "expected_completion": "2026-12-15"},
        )
    with time_machine.travel(datetime.datetime(2026, 12, 8, 9, 0, tzinfo=TAIPEI), tick=False):
        assert services.run_overdue_sweep() == 0
    assert CaseEvent.objects.filter(case_id=case_id, kind="overdue").count() == 1


def test_done_cases_are_never_declared_overdue(org: Any) -> None:
    new_citizen("+886912000001")
    kc = key_client(org)
    put_type(kc, days=1)
    with time_machine.travel(datetime.datetime(2026, 12, 1, 9, 0, tzinfo=TAIPEI), tick=False):
        case_id = _open(kc)
        kc.call("post", f"/cases/{case_id}/events", {"kind": "done", "client_reference": "d"})
    with time_machine.travel(datetime.datetime(2026, 12, 20, 9, 0, tzinfo=TAIPEI), tick=False):
        assert services.run_overdue_sweep() == 0
    assert SystemNotice.objects.filter(kind="case_event").count() == 2


# --- callbacks against a real HTTP server -------------------------------------------------------


class Receiver:
    """A tiny HTTP server on 127.0.0.1 answering with the next status of `statuses`, keeping what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/civicpush"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        r = Receiver(statuses)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def _with_callback(org: Any, url: str) -> tuple[Any, str]:
    new_citizen("+886912000001")
    kc = key_client(org)
    put_type(kc)
    response = kc.call("put", "/case-callback", {"url": url})
    assert response.status_code == 200, response.content
    secret = response.json()["secret"]
    assert secret and secret.startswith("cpwhsec_")
    assert kc.call("get", "/case-callback").json()["secret"] is None  # shown once
    return kc, secret


def _open_and_send(kc: Any, django_capture_on_commit_callbacks: Any) -> CaseCallback:
    """Open a case; the first attempt is what runs on commit (send_case_callback). The notice's own
    on-commit fan-out is left out: it is the delivery app's to test."""
    with django_capture_on_commit_callbacks(execute=False) as queued:
        _open(kc)
    assert queued, "the callback is sent on commit"
    callback = CaseCallback.objects.get()
    send_case_callback.apply(args=[callback.pk])
    return callback


def test_callbacks_are_signed_and_delivered(
    org: Any, receiver_factory: Any, django_capture_on_commit_callbacks: Any
) -> None:
    receiver = receiver_factory([200])
    kc, secret = _with_callback(org, receiver.url)

    callback = _open_and_send(kc, django_capture_on_commit_callbacks)

    callback.refresh_from_db()
    assert callback.status == CallbackStatus.DELIVERED and callback.attempts == 1
    headers, body = receiver.requests[0]
    assert callbacks.verify(secret, headers["X-CivicPush-Timestamp"], body, headers["X-CivicPush-Signature"])
    assert not callbacks.verify(
        "cpwhsec_wrong", headers["X-CivicPush-Timestamp"], body, headers["X-CivicPush-Signature"]
    )
    assert not callbacks.verify(secret, headers["X-CivicPush-Timestamp"], body + b" ", headers["X-CivicPush-Signature"])
    assert headers["X-CivicPush-Delivery"] == str(callback.pk)
    payload = json.loads(body)
    assert payload["event"]["kind"] == "received" and payload["notice"] == "sent"
    assert payload["case"]["external_ref"] == "A-1"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_callbacks_are_retried_on_5xx_and_429_with_backoff(
    org: Any, receiver_factory: Any, django_capture_on_commit_callbacks: Any, status: int
) -> None:
    receiver = receiver_factory([status, status, 200])
    kc, _secret = _with_callback(org, receiver.url)
    callback = _open_and_send(kc, django_capture_on_commit_callbacks)
    callback.refresh_from_db()
    assert callback.status == CallbackStatus.PENDING and callback.last_status_code == status
    first_retry = callback.next_attempt_at
    assert first_retry is not None

    now = timezone.now()
    assert callbacks.attempt(callback.pk, now=now) == CallbackStatus.PENDING  # not due yet: nothing sent
    assert len(receiver.requests) == 1
    assert callbacks.attempt(callback.pk, now=first_retry + datetime.timedelta(seconds=1)) == CallbackStatus.PENDING
    callback.refresh_from_db()
    # Backoff grows: the second wait is longer than the first.
    assert callback.next_attempt_at - (first_retry + datetime.timedelta(seconds=1)) > datetime.timedelta(minutes=4)
    with time_machine.travel(callback.next_attempt_at + datetime.timedelta(seconds=1), tick=False):
        assert retry_case_callbacks.apply().get() == 1
    callback.refresh_from_db()
    assert callback.status == CallbackStatus.DELIVERED and callback.attempts == 3
    assert len(receiver.requests) == 3
    # Every retry carries the same delivery id and a valid signature.
    assert {h["X-CivicPush-Delivery"] for h, _b in receiver.requests} == {str(callback.pk)}


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_callbacks_are_not_retried_on_other_4xx(
    org: Any, receiver_factory: Any, django_capture_on_commit_callbacks: Any, status: int
) -> None:
    receiver = receiver_factory([status, 200])
    kc, _secret = _with_callback(org, receiver.url)
    callback = _open_and_send(kc, django_capture_on_commit_callbacks)
    callback.refresh_from_db()
    assert callback.status == CallbackStatus.FAILED and callback.last_status_code == status
    assert callback.next_attempt_at is None
    with time_machine.travel(timezone.now() + datetime.timedelta(days=1), tick=False):
        assert retry_case_callbacks.apply().get() == 0
    assert len(receiver.requests) == 1


def test_callbacks_are_retried_on_network_errors_then_give_up(
    org: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kc, _secret = _with_callback(org, f"http://127.0.0.1:{port}/hook")
    callback = _open_and_send(kc, django_capture_on_commit_callbacks)
    for _ in range(callbacks.MAX_ATTEMPTS - 1):
        callback.refresh_from_db()
        assert callback.status == CallbackStatus.PENDING and callback.last_status_code is None
        assert "ConnectError" in callback.last_error
        callbacks.attempt(callback.pk, now=callback.next_attempt_at + datetime.timedelta(seconds=1))
    callback.refresh_from_db()
    assert callback.status == CallbackStatus.FAILED
    assert callback.attempts == callbacks.MAX_ATTEMPTS
