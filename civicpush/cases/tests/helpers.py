"""Case test helpers: citizens, keys, a case type, and a client that speaks JSON with a key."""

from __future__ import annotations

import datetime
import itertools
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.test import Client
from django.utils import timezone

from civicpush.citizens import services as citizen_services
from civicpush.citizens.models import Citizen
from civicpush.citizens.tests.factories import taitung
from civicpush.org.services import do_create_api_key

_phones = itertools.count(30_000_000)


def new_citizen(phone: str | None = None) -> Citizen:
    taitung()
    phone = phone or f"+8869{next(_phones):08d}"
    citizen = citizen_services.do_sign_up(
        phone, notice_version=settings.PRIVACY_NOTICE_VERSION, client_ip="198.51.100.7"
    )
    Citizen.objects.filter(pk=citizen.pk).update(created_at=timezone.now() - datetime.timedelta(days=1))
    return citizen


@dataclass
class KeyClient:
    raw: str
    row: Any
    client: Client

    def call(self, method: str, path: str, body: Any = None) -> Any:
        kwargs: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {self.raw}"}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(self.client, method.lower())(f"/api/v1{path}", **kwargs)


def key_client(org: Any, unit_code: str = "prevention", kind: str = "live") -> KeyClient:
    row, raw = do_create_api_key(
        actor=org.user(f"{unit_code}.manager"), unit=org.unit(unit_code), name=f"{unit_code} {kind} system", kind=kind
    )
    return KeyClient(raw=raw, row=row, client=Client())


def put_type(kc: KeyClient, code: str = "fire-plan-review", days: int = 10, basis: str = "working") -> Any:
    response = kc.call(
        "put", f"/case-types/{code}", {"name": "消防安全設備圖說審查", "standard_days": days, "day_basis": basis}
    )
    assert response.status_code in (200, 201), response.content
    return response
