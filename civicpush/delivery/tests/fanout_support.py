"""Shared helpers for the fan-out tests: a local push service (bench/push_sink.py), synthetic Web Push
subscribers whose keys the sink can derive, and frozen dispatches made directly."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.db import connection
from django.utils import timezone

from civicpush.citizens.models import Citizen
from civicpush.delivery.models import Device, DeviceKind
from civicpush.delivery.notices import system_user
from civicpush.delivery.vapid import b64url
from civicpush.pushes.models import (
    Dispatch,
    DispatchStatus,
    Push,
    PushStatus,
    PushType,
    ScheduleKind,
    TargetKind,
    Urgency,
)

REPO = Path(__file__).resolve().parents[3]


def load_sink_module() -> Any:
    name = "civicpush_bench_push_sink"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / "push_sink.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def start_sink(**kwargs: Any) -> Any:
    return load_sink_module().PushSink(**kwargs).start_in_thread()


def subscriber_fields(index: int) -> tuple[str, str]:
    private, auth = load_sink_module().subscriber_keys(index)
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(public), b64url(auth)


def add_webpush_device(citizen: Citizen, origin: str, index: int, prefix: str = "s") -> Device:
    address = f"{origin}/{prefix}/{index}"
    p256dh, auth = subscriber_fields(index)
    return Device.objects.create(
        citizen=citizen,
        kind=DeviceKind.WEB_PUSH,
        address=address,
        address_hash=hashlib.sha256(f"webpush:{address}".encode()).hexdigest(),
        p256dh=p256dh,
        auth=auth,
    )


def frozen_dispatch(
    org: Any,
    *,
    target_kind: str = TargetKind.EVERYONE,
    citizen: Citizen | None = None,
    push_type: str = PushType.PROMOTION,
    urgent: bool = False,
    title: str = "防火宣導",
    body: str = "請記得每月測試住宅用火災警報器。",
) -> Dispatch:
    now = timezone.now()
    unit = org.unit("prevention")
    push = Push.objects.create(
        county_id=org.county.pk,
        unit=unit,
        push_type=push_type,
        title=title,
        body=body,
        urgency=Urgency.URGENT if urgent else Urgency.NORMAL,
        target_kind=target_kind,
        target_citizen=citizen,
        schedule_kind=ScheduleKind.NOW,
        send_at=now,
        status=PushStatus.SENT,
        created_by=system_user(org.county),
        first_sent_at=now,
    )
    return Dispatch.objects.create(
        push=push,
        county_id=org.county.pk,
        target_kind=target_kind,
        scheduled_for=now,
        frozen_at=now,
        status=DispatchStatus.DISPATCHING,
    )


def database_url() -> str:
    """The test database as a DATABASE_URL, for worker processes started by a test."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url()
    env["DJANGO_SETTINGS_MODULE"] = "civicpush.config.settings_test"
    env.update(extra)
    return env


def bulk_subscribers(county: Any, origin: str, count: int, start: int = 0) -> list[Device]:
    """`count` citizens with one Web Push device each (subscriber indexes start…start+count-1)."""
    import uuid

    citizens = Citizen.objects.bulk_create(
        [
            Citizen(county=county, phone_e164=f"+8869{70_000_000 + start + i:08d}", pseudonym=uuid.uuid4())
            for i in range(count)
        ]
    )
    devices = []
    for i, citizen in enumerate(citizens):
        address = f"{origin}/s/{start + i}"
        p256dh, auth = subscriber_fields(start + i)
        devices.append(
            Device(
                citizen=citizen,
                kind=DeviceKind.WEB_PUSH,
                address=address,
                address_hash=hashlib.sha256(f"webpush:{address}".encode()).hexdigest(),
                p256dh=p256dh,
                auth=auth,
            )
        )
    return Device.objects.bulk_create(devices)
