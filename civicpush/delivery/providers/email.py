"""E-mail adapter: personal and case notices by SMTP, for citizens who chose e-mail.

`Target.address` is the e-mail address; the message is the notice's own text (`Nudge.title` as the
subject after the agency's name, `Nudge.body` as the text), in plain text, zh-Hant. Sending uses
Django's SMTP backend with the EMAIL_* settings (from CIVICPUSH_EMAIL_* in the environment; see
settings.NOTICE_EMAIL_BACKEND), one connection per batch, in a worker thread so the fan-out's event
loop is never blocked.

SMTP replies map to verdicts: 2xx → DELIVERED; a 4xx reply, a dropped connection or a timeout →
RETRY; a 5xx reply (no such mailbox, refused) → FAILED. There is no "device" to remove.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email
from django.utils import translation
from django.utils.translation import gettext as _

from ..models import Channel
from .base import Nudge, SendResult, SyncAdapter, Target, Verdict

logger = logging.getLogger(__name__)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def notice_link(nudge: Nudge) -> str:
    """An absolute link to the notice in the citizen app, when the server knows its public address."""
    if nudge.url.startswith(("https://", "http://")):
        return nudge.url
    base = getattr(settings, "PUBLIC_URL", "")
    if not base:
        return ""
    return urljoin(base.rstrip("/") + "/", (nudge.url or f"/m/{nudge.push_id}/").lstrip("/"))


def format_notice_email(nudge: Nudge, sender: str, to: str) -> EmailMessage:
    """The e-mail for one recipient (zh-Hant, plain text)."""
    with translation.override(settings.LANGUAGE_CODE):
        subject = f"【{sender}】{nudge.title}" if sender else nudge.title
        lines = [nudge.body.strip(), "", "—", sender or str(settings.APP_NAME)]
        link = notice_link(nudge)
        if link:
            lines.append(_("Read this notice in the app's inbox: %(link)s") % {"link": link})
        lines.append(
            _(
                "You receive personal notices by e-mail because you chose to. To stop, turn e-mail off in the app under Me › Notifications."
            )
        )
    message = EmailMessage(
        subject=" ".join(subject.split())[:200],
        body="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Auto-Submitted": "auto-generated", "X-CivicPush-Push": str(nudge.push_id)},
    )
    message.encoding = "utf-8"
    return message


def _default_sender_of(push_id: int) -> str:
    from ..selectors import sender_name

    return sender_name(push_id)


def _reply_verdict(code: int, text: str) -> SendResult:
    if 400 <= code < 500:
        return SendResult(Verdict.RETRY, status_code=code, error=f"SMTP {code}: {text}"[:200])
    return SendResult(Verdict.FAILED, status_code=code, error=f"SMTP {code}: {text}"[:200])


def _decode(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class EmailAdapter(SyncAdapter):
    channel = Channel.EMAIL

    def __init__(
        self,
        *,
        backend: str | None = None,
        connection_options: dict[str, Any] | None = None,
        sender_of: Callable[[int], str] | None = None,
    ) -> None:
        self._backend = backend or getattr(settings, "NOTICE_EMAIL_BACKEND", "") or SMTP_BACKEND
        self._options = connection_options or {}
        self._sender_of = sender_of or _default_sender_of
        self._senders: dict[int, str] = {}

    def send_batch_sync(self, targets: Sequence[Target], nudge: Nudge) -> list[SendResult]:
        """What the fan-out calls, in its own thread (the sender lookup reads the database, which no
        code inside an event loop may do; personal notices are few)."""
        if nudge.push_id not in self._senders:
            self._senders[nudge.push_id] = self._sender_of(nudge.push_id)
        return self._send_all(list(targets), nudge, self._senders[nudge.push_id])

    def _send_all(self, targets: list[Target], nudge: Nudge, sender: str) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(targets)
        pending: list[tuple[int, EmailMessage]] = []
        for i, target in enumerate(targets):
            address = (target.address or "").strip()
            try:
                validate_email(address)
            except Exception:
                results[i] = SendResult(Verdict.FAILED, error="no valid e-mail address")
                continue
            pending.append((i, format_notice_email(nudge, sender, address)))
        if pending:
            self._deliver(pending, results)
        return [r if r is not None else SendResult(Verdict.RETRY, error="not attempted") for r in results]

    def _deliver(self, pending: list[tuple[int, EmailMessage]], results: list[SendResult | None]) -> None:
        conn = get_connection(self._backend, fail_silently=False, **self._options)
        try:
            conn.open()
        except (OSError, smtplib.SMTPException) as exc:
            error = f"SMTP server unreachable: {exc.__class__.__name__}"
            for i, _message in pending:
                results[i] = SendResult(Verdict.RETRY, error=error)
            return
        try:
            for i, message in pending:
                results[i] = self._send_one(conn, message)
                if results[i].error.startswith("connection lost"):  # type: ignore[union-attr]
                    conn.close()
                    try:
                        conn.open()
                    except (OSError, smtplib.SMTPException):
                        for j, _m in pending:
                            if results[j] is None:
                                results[j] = SendResult(Verdict.RETRY, error="SMTP server unreachable")
                        return
        finally:
            with contextlib.suppress(Exception):  # closing a broken connection
                conn.close()

    @staticmethod
    def _send_one(conn: Any, message: EmailMessage) -> SendResult:
        try:
            sent = conn.send_messages([message])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (550, b"refused"))
            return _reply_verdict(int(code), _decode(text))
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            return _reply_verdict(int(exc.smtp_code), _decode(exc.smtp_error))
        except smtplib.SMTPResponseException as exc:
            return _reply_verdict(int(exc.smtp_code), _decode(exc.smtp_error))
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            return SendResult(Verdict.RETRY, error=f"connection lost: {exc.__class__.__name__}")
        except smtplib.SMTPException as exc:
            return SendResult(Verdict.RETRY, error=f"SMTP error: {exc.__class__.__name__}")
        if not sent:
            return SendResult(Verdict.RETRY, error="not sent")
        return SendResult(Verdict.DELIVERED, status_code=250)


def make_adapter() -> EmailAdapter:
    return EmailAdapter()
