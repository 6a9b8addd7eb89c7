"""2,000 concurrent registrations over HTTP for 100 seats on PostgreSQL: exactly 100 confirmed, the
rest waitlisted in arrival order; then promotion on cancellation."""

from __future__ import annotations

import concurrent.futures
import datetime
import http.client
import secrets
import urllib.parse
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.utils import timezone

from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.citizens.models import Citizen, ConsentRecord
from civicpush.events import services
from civicpush.events.models import Event, Registration, RegistrationStatus
from civicpush.events.tests.conftest import approve_all_for
from civicpush.events.tests.helpers import sent_event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PEOPLE = 2_000
SEATS = 100
CLIENT_THREADS = 40


def _citizens(county: Any, n: int) -> list[Citizen]:
    now = timezone.now() - datetime.timedelta(days=1)
    citizens = Citizen.objects.bulk_create(
        [Citizen(county=county, phone_e164=f"+8869{70_000_000 + i:08d}") for i in range(n)]
    )
    Citizen.objects.filter(pk__in=[c.pk for c in citizens]).update(created_at=now)
    ConsentRecord.objects.bulk_create(
        [ConsentRecord(citizen=c, notice_version=settings.PRIVACY_NOTICE_VERSION, accepted_at=now) for c in citizens]
    )
    return citizens


def _session_for(citizen: Citizen) -> str:
    store = SessionStore()
    store[CITIZEN_SESSION_KEY] = citizen.pk
    store.create()
    return store.session_key or ""


def test_two_thousand_concurrent_registrations_fill_exactly_one_hundred_seats(
    live_server: Any, org: Any, settings: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    event = sent_event(org, approve_all_for(org), capacity=SEATS, starts_in=datetime.timedelta(days=2))
    people = _citizens(org.county, PEOPLE)
    sessions = [_session_for(c) for c in people]
    target = urllib.parse.urlsplit(live_server.url)
    csrf = secrets.token_hex(16)  # a CSRF secret as the browser's cookie would hold it (32 chars)

    def register(session_key: str) -> int:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            conn.request(
                "POST",
                f"/events/{event.pk}/register/",
                body="",
                headers={
                    "Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}; {settings.CSRF_COOKIE_NAME}={csrf}",
                    "X-CSRFToken": csrf,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            return conn.getresponse().status
        finally:
            conn.close()

    with concurrent.futures.ThreadPoolExecutor(CLIENT_THREADS) as pool:
        statuses = list(pool.map(register, sessions))
    assert statuses.count(302) == PEOPLE, {s: statuses.count(s) for s in set(statuses)}

    event.refresh_from_db()
    regs = list(Registration.objects.filter(event=event).order_by("created_at", "id"))
    assert len(regs) == PEOPLE  # one each
    confirmed = [r for r in regs if r.status == RegistrationStatus.CONFIRMED]
    waitlisted = [r for r in regs if r.status == RegistrationStatus.WAITLISTED]
    assert len(confirmed) == SEATS == event.confirmed_count
    assert len(waitlisted) == PEOPLE - SEATS
    # arrival order: every confirmed registration arrived before every waitlisted one, and the
    # waitlist numbers follow the order of arrival without gaps
    assert max(r.created_at for r in confirmed) <= min(r.created_at for r in waitlisted)
    assert [r.waitlist_position for r in waitlisted] == list(range(1, PEOPLE - SEATS + 1))

    # a cancellation promotes the first in line
    services.do_cancel_registration(confirmed[0].citizen, confirmed[0])
    first_in_line = waitlisted[0]
    first_in_line.refresh_from_db()
    assert first_in_line.status == RegistrationStatus.CONFIRMED
    assert Event.objects.get(pk=event.pk).confirmed_count == SEATS
