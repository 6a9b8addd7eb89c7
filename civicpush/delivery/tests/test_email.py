"""E-mail notices by SMTP against a local SMTP server (aiosmtpd): the message, and SMTP replies
mapped to verdicts (2xx delivered, 4xx and dropped connections retried, 5xx failed)."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from civicpush.delivery.providers import email as email_adapter
from civicpush.delivery.providers.base import Nudge, Target, Verdict

from .deledge_helpers import run_async

NUDGE = Nudge(push_id=42, title="案件進度通知", body="您申請的消防安全設備圖說審查已完成，請至收件匣查看。")


class Mailbox:
    """An SMTP handler: 550 for unknown-…, 451 for busy-…, accepted otherwise."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address.startswith("unknown"):
            return "550 5.1.1 No such user"
        if address.startswith("busy"):
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(settings: Any) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.NOTICE_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "臺東縣政府 CivicPush <no-reply@civicpush.test>"
    settings.PUBLIC_URL = "https://push.taitung.example"
    try:
        yield mailbox
    finally:
        controller.stop()


def send(targets: list[str], nudge: Nudge = NUDGE) -> list[Any]:
    # The SMTP settings as make_adapter() reads them; the agency lookup (a database read) stubbed.
    adapter = email_adapter.EmailAdapter(sender_of=lambda push_id: "臺東縣消防局")
    return run_async(adapter.send_batch([Target(i, None, a) for i, a in enumerate(targets)], nudge))


def test_a_notice_is_mailed_with_the_agency_in_the_subject_and_a_link_to_the_inbox(smtp: Mailbox) -> None:
    [result] = send(["citizen@example.tw"])
    assert result.verdict == Verdict.DELIVERED
    [message] = smtp.messages
    assert message["To"] == "citizen@example.tw"
    assert message["Subject"] == "【臺東縣消防局】案件進度通知"
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert NUDGE.body in body
    assert "https://push.taitung.example/m/42/" in body
    assert "通知" in body  # the zh-Hant footer


def test_smtp_replies_map_to_verdicts(smtp: Mailbox) -> None:
    results = send(["ok@example.tw", "unknown@example.tw", "busy@example.tw", "not-an-address", "second@example.tw"])
    verdicts = [r.verdict for r in results]
    assert verdicts == [Verdict.DELIVERED, Verdict.FAILED, Verdict.RETRY, Verdict.FAILED, Verdict.DELIVERED]
    assert results[1].status_code == 550 and results[2].status_code == 451
    assert sorted(m["To"] for m in smtp.messages) == ["ok@example.tw", "second@example.tw"]


def test_an_unreachable_server_is_a_retry(settings: Any) -> None:
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    settings.NOTICE_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    results = send(["a@example.tw", "b@example.tw"])
    assert [r.verdict for r in results] == [Verdict.RETRY, Verdict.RETRY]
