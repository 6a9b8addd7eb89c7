"""Citizen wallet: PIN lock-out, gift limits and idempotency, pay codes, expiry notices, history."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from civicpush.coins import ledger
from civicpush.core.errors import NotFound, RateLimited, ValidationFailed
from civicpush.wallet import earning, selectors, services
from civicpush.wallet.models import PeerTransfer, WalletNotice

from .helpers import citizen, period, reserved_budget

pytestmark = pytest.mark.django_db
TAIPEI = ZoneInfo("Asia/Taipei")
PIN = "246810"


def funded(org: Any, coins: int = 10_000, **kw: Any) -> Any:
    unit = org.unit("prevention")
    budget = reserved_budget(unit, reserved=1_000_000)
    per = period(unit, "late", days=300)
    person = citizen(**kw)
    earning.award(key=f"fund:{person.pk}", budget=budget, citizen=person, amount=coins, period=per, reason="survey")
    return person


def test_five_wrong_pins_lock_transfers_for_fifteen_minutes(org: Any) -> None:
    sender, receiver = funded(org), citizen("+886912000111")
    services.do_set_pin(sender, PIN, PIN)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for left in (4, 3, 2, 1):
            with pytest.raises(ValidationFailed) as caught:
                services.do_transfer(sender, "0912-000-111", 10, "999999", f"key-wrong-{left}")
            assert caught.value.code == "wrong_pin"
        with pytest.raises(RateLimited):
            services.do_transfer(sender, "0912-000-111", 10, "999999", "key-wrong-5")
        with pytest.raises(RateLimited):  # even the right PIN is refused while locked
            services.do_transfer(sender, "0912-000-111", 10, PIN, "key-right-1")
    with (
        time_machine.travel(start + datetime.timedelta(minutes=14, seconds=59), tick=False),
        pytest.raises(RateLimited),
    ):
        services.do_transfer(sender, "0912-000-111", 10, PIN, "key-right-2")
    with time_machine.travel(start + datetime.timedelta(minutes=15, seconds=1), tick=False):
        services.do_transfer(sender, "0912-000-111", 10, PIN, "key-right-3")
    assert selectors.wallet_balance(receiver) == 10
    assert PeerTransfer.objects.count() == 1


def test_a_transfer_submitted_twice_with_the_same_form_key_moves_coins_once(org: Any) -> None:
    sender, receiver = funded(org), citizen("+886912000222")
    services.do_set_pin(sender, PIN, PIN)
    first = services.do_transfer(sender, "0912000222", 300, PIN, "same-form-key-1")
    second = services.do_transfer(sender, "0912000222", 300, PIN, "same-form-key-1")
    assert not first.replayed and second.replayed
    assert first.transfer.pk == second.transfer.pk
    assert selectors.wallet_balance(receiver) == 300
    assert selectors.wallet_balance(sender) == 9_700


def test_the_transfer_page_posted_twice_transfers_once(org: Any, client: Any) -> None:
    from civicpush.citizen_web.tests.pushes import client_for

    sender, receiver = funded(org), citizen("+886912000333")
    services.do_set_pin(sender, PIN, PIN)
    browser = client_for(sender)
    page = browser.get("/wallet/transfer/")
    key = page.context["form"].initial["form_key"]
    data = {"phone": "0912-000-333", "amount": "250", "pin": PIN, "form_key": key}
    assert browser.post("/wallet/transfer/", data).status_code == 302
    assert browser.post("/wallet/transfer/", data).status_code == 302
    assert selectors.wallet_balance(receiver) == 250
    assert PeerTransfer.objects.count() == 1


def test_daily_transfer_limits_count_and_coins(org: Any) -> None:
    sender = funded(org, coins=20_000)
    citizen("+886912000444")
    services.do_set_pin(sender, PIN, PIN)
    day = (timezone.localtime(timezone.now(), TAIPEI) + datetime.timedelta(days=1)).replace(hour=9, minute=0)
    with time_machine.travel(day, tick=False):
        services.do_transfer(sender, "0912000444", 4_000, PIN, "limit-coins-1")
        with pytest.raises(ValidationFailed) as caught:
            services.do_transfer(sender, "0912000444", 1_001, PIN, "limit-coins-2")
        assert caught.value.code == "daily_coin_limit"
        for i in range(4):
            services.do_transfer(sender, "0912000444", 10, PIN, f"limit-count-{i}")
        with pytest.raises(ValidationFailed) as caught:
            services.do_transfer(sender, "0912000444", 10, PIN, "limit-count-5")
        assert caught.value.code == "daily_count_limit"
    with time_machine.travel(day + datetime.timedelta(days=1), tick=False):
        services.do_transfer(sender, "0912000444", 10, PIN, "limit-next-day")
    assert PeerTransfer.objects.count() == 6


def test_transfers_to_oneself_or_unknown_numbers_are_refused(org: Any) -> None:
    sender = funded(org, phone="+886912000555")
    services.do_set_pin(sender, PIN, PIN)
    with pytest.raises(ValidationFailed) as caught:
        services.do_transfer(sender, "0912000555", 10, PIN, "self-transfer-1")
    assert "phone" in caught.value.field_errors
    with pytest.raises(ValidationFailed):
        services.do_transfer(sender, "0912999999", 10, PIN, "nobody-transfer")
    assert PeerTransfer.objects.count() == 0


def test_a_pay_code_works_once_and_expires_after_a_minute(org: Any) -> None:
    person = citizen()
    code = services.issue_pay_code(person)
    assert services.consume_pay_code(code.token) == person
    with pytest.raises(NotFound):
        services.consume_pay_code(code.token)
    later = services.issue_pay_code(person)
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=61), tick=False), pytest.raises(NotFound):
        services.consume_pay_code(later.token)
    newest = services.issue_pay_code(person)
    newer = services.issue_pay_code(person)  # a new code retires the previous one
    with pytest.raises(NotFound):
        services.consume_pay_code(newest.token)
    assert services.consume_pay_code(newer.token) == person


def test_citizens_are_told_thirty_days_ahead_how_many_coins_expire(org: Any) -> None:
    unit = org.unit("prevention")
    budget = reserved_budget(unit, reserved=100_000)
    soon = period(unit, "soon", days=20)
    later = period(unit, "later", days=200)
    alice, bob = citizen(), citizen()
    earning.award(key="a1", budget=budget, citizen=alice, amount=700, period=soon, reason="survey")
    earning.award(key="a2", budget=budget, citizen=alice, amount=900, period=later, reason="survey")
    earning.award(key="b1", budget=budget, citizen=bob, amount=500, period=later, reason="survey")
    assert services.notify_upcoming_expiry() == 1
    notice = WalletNotice.objects.get()
    assert (notice.citizen, notice.amount, notice.expires_at) == (alice, 700, soon.expires_at)
    assert services.notify_upcoming_expiry() == 1  # re-running keeps one notice
    assert WalletNotice.objects.count() == 1
    assert list(selectors.active_notices(alice)) == [notice]


def test_history_says_in_plain_words_why_coins_moved(org: Any) -> None:
    sender, receiver = funded(org), citizen("+886912345678")
    services.do_set_pin(sender, PIN, PIN)
    services.do_transfer(sender, "0912345678", 40, PIN, "history-key-1")
    reasons = [(h.reason, h.amount) for h in selectors.wallet_history(sender)]
    assert reasons == [("轉贈給 0912-***-678", -40), ("完成問卷獎勵", 10_000)]
    assert [h.amount for h in selectors.wallet_history(receiver)] == [40]
    assert selectors.ntd_text(ledger.balance(ledger.wallet_of(sender))) == "NT$996"
