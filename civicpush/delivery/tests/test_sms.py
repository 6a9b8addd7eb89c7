"""SMS notices in the government 111 style: the opening (last three digits, agency), 70-character
parts, the adapter's verdicts through the pluggable gateway, and the OTP path left as it was."""

from __future__ import annotations

from typing import Any

import pytest

from civicpush.citizens.models import DemoSmsMessage
from civicpush.citizens.sms import (
    DemoSmsBackend,
    SmsRejected,
    SmsTemporaryError,
    get_sms_backend,
    sms_length,
    split_sms,
)
from civicpush.delivery.providers import sms
from civicpush.delivery.providers.base import Nudge, Target, Verdict

from .deledge_helpers import run_async

PHONE = "+886912345678"
LONG_BODY = (
    "請記得每月測試住宅用火災警報器。警報器請裝在天花板，距離牆面至少六十公分。"
    "如有疑問請洽消防局預防科，電話089-322-112。本局將於下月起辦理到府宣導，歡迎民眾踴躍報名參加，名額有限額滿為止。"
)


class Recorder:
    def __init__(self, failures: dict[int, Exception] | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failures = failures or {}
        self.calls = 0

    def send(self, to_e164: str, body: str) -> None:
        self.calls += 1
        failure = self.failures.pop(self.calls, None)
        if failure is not None:
            raise failure
        self.sent.append((to_e164, body))


def send(adapter: sms.SmsAdapter, nudge: Nudge, phones: list[str]) -> list[Any]:
    return run_async(adapter.send_batch([Target(i, None, p) for i, p in enumerate(phones)], nudge))


def test_a_short_notice_is_one_sms_opening_with_the_last_three_digits_and_the_agency() -> None:
    [text] = sms.format_notice_sms(PHONE, "臺東縣消防局", "停水通知", "明日上午九時起停水。")
    assert text == "(678)臺東縣消防局：停水通知\n明日上午九時起停水。"
    assert sms_length(text) <= 70


def test_a_long_notice_is_split_into_parts_of_at_most_seventy_characters() -> None:
    parts = sms.format_notice_sms(PHONE, "臺東縣消防局", "", LONG_BODY)
    assert len(parts) == 2
    for i, part in enumerate(parts, start=1):
        assert sms_length(part) <= 70
        assert part.startswith(f"(678)臺東縣消防局：({i}/2)")
    rebuilt = "".join(p.split(")", 2)[2] for p in parts)
    assert rebuilt == LONG_BODY
    assert parts[0].endswith("，")  # broken after punctuation, not mid-phrase


def test_splitting_counts_utf16_units_and_never_splits_a_surrogate_pair() -> None:
    text = "😀" * 60
    parts = split_sms(text, prefix="(678)縣府：")
    assert all(sms_length(p) <= 70 for p in parts)
    assert "".join(p.split(")", 2)[2] for p in parts) == text
    assert split_sms("短", prefix="(1)A：") == ["(1)A：短"]
    with pytest.raises(ValueError):
        split_sms("字" * 10_000, prefix="x" * 50)


def test_the_adapter_sends_each_part_through_the_notice_gateway() -> None:
    gateway = Recorder()
    adapter = sms.SmsAdapter(gateway, sender_of=lambda push_id: "臺東縣消防局")
    results = send(adapter, Nudge(push_id=1, title="", body=LONG_BODY), [PHONE, "+886987654321"])
    assert [r.verdict for r in results] == [Verdict.DELIVERED, Verdict.DELIVERED]
    assert sorted(to for to, _ in gateway.sent) == [PHONE, PHONE, "+886987654321", "+886987654321"]
    assert all(body.startswith(("(678)", "(321)")) for _, body in gateway.sent)


def test_a_busy_gateway_before_anything_was_sent_is_a_retry_a_refusal_a_failure() -> None:
    busy = Recorder({1: SmsTemporaryError("busy", retry_after=30)})
    [result] = send(sms.SmsAdapter(busy, sender_of=lambda _: "縣府"), Nudge(1, "通知", "內容"), [PHONE])
    assert result.verdict == Verdict.RETRY and result.retry_after == 30
    refused = Recorder({1: SmsRejected("not a mobile")})
    [result] = send(sms.SmsAdapter(refused, sender_of=lambda _: "縣府"), Nudge(1, "通知", "內容"), [PHONE])
    assert result.verdict == Verdict.FAILED
    [result] = send(sms.SmsAdapter(Recorder(), sender_of=lambda _: "縣府"), Nudge(1, "通知", "內容"), [""])
    assert result.verdict == Verdict.FAILED


def test_a_later_part_is_retried_in_place_and_the_first_never_sent_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sms, "_sleep", lambda seconds: None)
    flaky = Recorder({2: SmsTemporaryError("busy")})  # the second part fails once
    [result] = send(sms.SmsAdapter(flaky, sender_of=lambda _: "縣府"), Nudge(1, "", LONG_BODY), [PHONE])
    assert result.verdict == Verdict.DELIVERED
    assert [body[:11] for _, body in flaky.sent] == ["(678)縣府：(1/", "(678)縣府：(2/"]

    broken = Recorder({i: SmsTemporaryError("busy") for i in range(2, 10)})
    [result] = send(sms.SmsAdapter(broken, sender_of=lambda _: "縣府"), Nudge(1, "", LONG_BODY), [PHONE])
    assert result.verdict == Verdict.FAILED and "part 2/2 not sent (1 sent)" in result.error
    assert len(broken.sent) == 1  # at most once: a retry by the fan-out would send part 1 again


def test_the_otp_path_keeps_its_backend_and_notices_have_their_own(settings: Any) -> None:
    settings.SMS_BACKEND = "civicpush.citizens.sms.DemoSmsBackend"
    settings.SMS_NOTICE_BACKEND = "civicpush.delivery.tests.test_sms.Recorder"
    assert isinstance(get_sms_backend(), DemoSmsBackend)
    assert isinstance(get_sms_backend("notice"), Recorder)
    settings.SMS_NOTICE_BACKEND = ""
    assert isinstance(get_sms_backend("notice"), DemoSmsBackend)


@pytest.mark.django_db(transaction=True)
def test_through_the_demo_gateway_with_the_agency_of_the_push(org: Any) -> None:
    from civicpush.pushes.models import Push

    unit = org.unit("prevention")
    push = Push.objects.create(
        county=unit.county,
        unit=unit,
        push_type="notice",
        title="案件進度",
        body="您的申請已受理。",
        created_by=org.user("prevention.drafter"),
    )
    [result] = send(sms.SmsAdapter(), Nudge(push.pk, push.title, push.body), [PHONE])
    assert result.verdict == Verdict.DELIVERED
    message = DemoSmsMessage.objects.get(to=PHONE)
    assert message.body == f"(678){unit.agency.name}：案件進度\n您的申請已受理。"
