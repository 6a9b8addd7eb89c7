"""Sign-in codes: expiry, rate limits, the wrong-code lock, hashed storage."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from civicpush.citizens import services
from civicpush.citizens.models import DemoSmsMessage, OneTimeCode, PhoneLock
from civicpush.core.errors import RateLimited, ValidationFailed

from .factories import request_code, signed_up_citizen

pytestmark = pytest.mark.django_db
PHONE = "+886912345678"
START = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_right_code_for_a_new_number_returns_no_citizen_and_consumes_the_code(
    clock, django_capture_on_commit_callbacks
):
    code = request_code("0912-345-678", django_capture_on_commit_callbacks)
    assert services.do_verify_code("0912345678", code, client_ip="198.51.100.1") is None
    assert OneTimeCode.objects.get(phone_e164=PHONE).consumed_at is not None
    with pytest.raises(ValidationFailed):  # a code works once
        services.do_verify_code(PHONE, code, client_ip="198.51.100.1")


def test_right_code_for_a_registered_number_returns_the_citizen(clock, django_capture_on_commit_callbacks):
    citizen = signed_up_citizen(PHONE)
    code = request_code(PHONE, django_capture_on_commit_callbacks)
    assert services.do_verify_code(PHONE, code, client_ip="198.51.100.1") == citizen


def test_sms_is_in_the_government_style_and_only_sent_after_commit(clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.do_request_code(PHONE, client_ip="198.51.100.1")
    assert DemoSmsMessage.objects.count() == 0
    assert len(callbacks) == 1
    callbacks[0]()
    body = DemoSmsMessage.objects.get(to=PHONE).body
    assert body.startswith("【臺東縣政府】您的 CivicPush 驗證碼為 ")
    assert "5 分鐘內有效" in body


def test_code_is_stored_only_as_a_hash(clock, django_capture_on_commit_callbacks):
    code = request_code(PHONE, django_capture_on_commit_callbacks)
    row = OneTimeCode.objects.get(phone_e164=PHONE)
    assert code not in row.code_hash
    assert len(row.code_hash) == 64
    assert not any(code in str(getattr(row, f.attname)) for f in OneTimeCode._meta.concrete_fields)


def test_result_of_a_code_request_never_carries_the_code(clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = services.do_request_code(PHONE, client_ip="198.51.100.1")
    code = DemoSmsMessage.objects.get(to=PHONE).body
    assert result.expires_at == START + datetime.timedelta(minutes=5)
    assert not any(str(v) in code for v in vars(result).values() if str(v).isdigit())


def test_code_expires_after_five_minutes(clock, django_capture_on_commit_callbacks):
    code = request_code(PHONE, django_capture_on_commit_callbacks)
    clock.shift(datetime.timedelta(minutes=5, seconds=1))
    with pytest.raises(ValidationFailed) as exc:
        services.do_verify_code(PHONE, code, client_ip="198.51.100.1")
    assert exc.value.code == "code_expired"
    assert "驗證碼已過期" in str(exc.value.message)  # the default UI language is zh-Hant


def test_code_still_works_just_before_five_minutes(clock, django_capture_on_commit_callbacks):
    code = request_code(PHONE, django_capture_on_commit_callbacks)
    clock.shift(datetime.timedelta(minutes=4, seconds=59))
    assert services.do_verify_code(PHONE, code, client_ip="198.51.100.1") is None


def test_a_new_code_makes_the_earlier_one_unusable(clock, django_capture_on_commit_callbacks):
    first = request_code(PHONE, django_capture_on_commit_callbacks)
    clock.shift(datetime.timedelta(seconds=61))
    second = request_code(PHONE, django_capture_on_commit_callbacks)
    if first != second:
        with pytest.raises(ValidationFailed):
            services.do_verify_code(PHONE, first, client_ip="198.51.100.1")
    assert services.do_verify_code(PHONE, second, client_ip="198.51.100.1") is None


def test_second_code_within_the_interval_is_refused_with_retry_after(clock):
    services.do_request_code(PHONE, client_ip="198.51.100.1")
    clock.shift(datetime.timedelta(seconds=20))
    with pytest.raises(RateLimited) as exc:
        services.do_request_code(PHONE, client_ip="198.51.100.2")
    assert exc.value.retry_after == 40
    assert OneTimeCode.objects.filter(phone_e164=PHONE).count() == 1
    clock.shift(datetime.timedelta(seconds=40))
    services.do_request_code(PHONE, client_ip="198.51.100.2")
    assert OneTimeCode.objects.filter(phone_e164=PHONE).count() == 2


def test_hourly_limit_per_number(clock, settings):
    for _ in range(settings.OTP_PER_NUMBER_PER_HOUR):
        services.do_request_code(PHONE, client_ip="198.51.100.1")
        clock.shift(datetime.timedelta(seconds=61))
    with pytest.raises(RateLimited) as exc:
        services.do_request_code(PHONE, client_ip="198.51.100.9")
    # The oldest of the five was made 5×61 s ago; it leaves the window after the rest of the hour.
    assert exc.value.retry_after == 3600 - 5 * 61
    clock.shift(datetime.timedelta(seconds=exc.value.retry_after + 1))
    services.do_request_code(PHONE, client_ip="198.51.100.9")


def test_hourly_limit_per_client_address(clock, settings):
    settings.OTP_PER_CLIENT_PER_HOUR = 3
    for n in range(3):
        services.do_request_code(f"+88691234560{n}", client_ip="203.0.113.7")
    with pytest.raises(RateLimited):
        services.do_request_code("+886912345609", client_ip="203.0.113.7")
    services.do_request_code("+886912345609", client_ip="203.0.113.8")  # another address is not limited
    assert OneTimeCode.objects.filter(client_ip="203.0.113.7").count() == 3


def test_five_wrong_codes_lock_the_number_for_fifteen_minutes(clock, django_capture_on_commit_callbacks):
    code = request_code(PHONE, django_capture_on_commit_callbacks)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for attempt in range(1, 5):
        with pytest.raises(ValidationFailed) as exc:
            services.do_verify_code(PHONE, wrong, client_ip="198.51.100.1")
        assert exc.value.code == "wrong_code"
        assert PhoneLock.objects.get(phone_e164=PHONE).wrong_count == attempt
    with pytest.raises(RateLimited) as exc:
        services.do_verify_code(PHONE, wrong, client_ip="198.51.100.1")
    assert exc.value.retry_after == 15 * 60
    assert PhoneLock.objects.get(phone_e164=PHONE).locked_until == timezone.now() + datetime.timedelta(minutes=15)

    # Locked: the right code is refused, and no new code can be requested.
    with pytest.raises(RateLimited):
        services.do_verify_code(PHONE, code, client_ip="198.51.100.1")
    with pytest.raises(RateLimited):
        services.do_request_code(PHONE, client_ip="198.51.100.1")

    clock.shift(datetime.timedelta(minutes=14, seconds=59))
    with pytest.raises(RateLimited):
        services.do_request_code(PHONE, client_ip="198.51.100.1")

    clock.shift(datetime.timedelta(seconds=2))
    fresh = request_code(PHONE, django_capture_on_commit_callbacks)
    assert services.do_verify_code(PHONE, fresh, client_ip="198.51.100.1") is None
    assert PhoneLock.objects.get(phone_e164=PHONE).wrong_count == 0


@pytest.mark.django_db(transaction=True)
def test_wrong_code_count_and_lock_are_committed_even_though_an_error_is_raised(clock, monkeypatch, settings):
    # transaction=True: no test transaction wraps the calls, so this sees what really committed.
    monkeypatch.setattr(services.secrets, "randbelow", lambda _n: 123456)
    settings.OTP_MAX_WRONG = 2
    services.do_request_code(PHONE, client_ip="198.51.100.1")
    with pytest.raises(ValidationFailed):
        services.do_verify_code(PHONE, "000000", client_ip="198.51.100.1")
    assert PhoneLock.objects.get(phone_e164=PHONE).wrong_count == 1
    with pytest.raises(RateLimited):
        services.do_verify_code(PHONE, "000000", client_ip="198.51.100.1")
    assert PhoneLock.objects.get(phone_e164=PHONE).locked_until is not None


def test_malformed_code_is_refused_without_counting_as_wrong(clock):
    services.do_request_code(PHONE, client_ip="198.51.100.1")
    with pytest.raises(ValidationFailed) as exc:
        services.do_verify_code(PHONE, "12ab", client_ip="198.51.100.1")
    assert exc.value.field_errors["code"]
    assert PhoneLock.objects.get(phone_e164=PHONE).wrong_count == 0
