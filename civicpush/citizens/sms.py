"""Pluggable SMS sending (settings.SMS_BACKEND, a dotted path): a gateway in production, the demo backend here."""

from __future__ import annotations

import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsBackend(Protocol):
    def send(self, to_e164: str, body: str) -> None: ...


class DemoSmsBackend:
    """Sends nothing: stores the message (shown on /dev/otp/ in DEMO_MODE) and logs it for the developer."""

    def send(self, to_e164: str, body: str) -> None:
        from .models import DemoSmsMessage

        DemoSmsMessage.objects.create(to=to_e164, body=body)
        logger.info("Demo SMS to %s: %s", to_e164, body)


def get_sms_backend() -> SmsBackend:
    backend_class = import_string(settings.SMS_BACKEND)
    return backend_class()
