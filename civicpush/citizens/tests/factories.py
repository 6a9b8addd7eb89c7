"""Citizen test helpers: reference data, a signed-up citizen, reading the demo SMS code."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

from civicpush.citizens import services
from civicpush.citizens.models import Citizen, DemoSmsMessage
from civicpush.citizens.reference import ensure_reference_data
from civicpush.demo.organisation import ensure_county
from civicpush.org.models import County


def taitung() -> County:
    county = ensure_county()
    ensure_reference_data(county)
    return county


def latest_code(phone_e164: str) -> str:
    message = DemoSmsMessage.objects.filter(to=phone_e164).order_by("-created_at", "-id").first()
    assert message is not None, f"no SMS was sent to {phone_e164}"
    match = re.search(r"\d{6}", message.body)
    assert match is not None, message.body
    return match.group(0)


def request_code(phone: str, capture: Any, *, client_ip: str = "198.51.100.1") -> str:
    """Request a code with on-commit callbacks run (so the demo SMS is stored) and return the code."""
    with capture(execute=True):
        result = services.do_request_code(phone, client_ip=client_ip)
    return latest_code(result.phone_e164)


def signed_up_citizen(phone: str = "+886912345678", *, client_ip: str = "198.51.100.1") -> Citizen:
    taitung()
    return services.do_sign_up(phone, notice_version=settings.PRIVACY_NOTICE_VERSION, client_ip=client_ip)
