"""First come under real concurrency (PostgreSQL, threads): red envelopes and pay codes."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from civicpush.core.errors import Conflict, NotFound
from civicpush.wallet import earning, selectors, services
from civicpush.wallet.models import RedEnvelope, RedEnvelopeClaim

from .helpers import citizen, period, reserved_budget

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(jobs: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(job: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            value = job()
            with lock:
                results.append(value)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_concurrent_red_envelope_claims_never_exceed_claims_or_total(org: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    unit = org.unit("prevention")
    budget = reserved_budget(unit, reserved=1_000_000)
    per = period(unit, "late", days=300)
    now = timezone.now()
    envelope = earning.do_create_red_envelope(
        org.user("prevention.drafter"), unit, budget, per, None, 1_000,
        title="新春紅包", min_amount=50, max_amount=200, max_claims=8,
        opens_at=now - datetime.timedelta(minutes=1), closes_at=now + datetime.timedelta(days=1),
    )  # fmt: skip
    people = [citizen() for _ in range(16)]
    # Each citizen tries twice at once: 32 claims racing for 8 envelopes.
    jobs = [lambda p=p: earning.do_claim_red_envelope(p, envelope) for p in people for _ in range(2)]
    claims, errors = _race(jobs)
    assert all(isinstance(e, Conflict) for e in errors), errors
    envelope = RedEnvelope.objects.get(pk=envelope.pk)
    rows = list(RedEnvelopeClaim.objects.filter(envelope=envelope))
    assert len(rows) == len(claims) == envelope.claims_count
    assert len(rows) <= 8
    assert sum(r.amount for r in rows) == envelope.claimed_coins <= 1_000
    assert len({r.citizen_id for r in rows}) == len(rows)  # each citizen once
    assert sum(selectors.wallet_balance(p) for p in people) == envelope.claimed_coins
    budget.refresh_from_db()
    assert budget.issued_amount == envelope.claimed_coins


def test_a_pay_code_scanned_concurrently_has_one_winner(org: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    person = citizen()
    code = services.issue_pay_code(person)
    winners, errors = _race([lambda: services.consume_pay_code(code.token) for _ in range(8)])
    assert [w.pk for w in winners] == [person.pk]
    assert len(errors) == 7 and all(isinstance(e, NotFound) for e in errors)
