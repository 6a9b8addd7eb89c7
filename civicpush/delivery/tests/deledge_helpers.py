"""Helpers for the device, channel and adapter tests: Web Push subscriptions with real P-256 keys,
citizens, and provider keys generated per test run (never stored)."""

from __future__ import annotations

import base64
import functools
import itertools
import secrets
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from civicpush.citizens.models import Citizen

_endpoints = itertools.count(1)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def subscription(host: str = "fcm.googleapis.com") -> dict[str, Any]:
    """What a browser's PushSubscription.toJSON() gives: an endpoint and real keys."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    raw = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {
        "endpoint": f"https://{host}/fcm/send/test-{next(_endpoints)}-{secrets.token_urlsafe(12)}",
        "keys": {"p256dh": b64url(raw), "auth": b64url(secrets.token_bytes(16))},
    }


def web_push_device(citizen: Citizen, **extra: Any) -> Any:
    from civicpush.delivery.devices import do_register_web_push

    sub = subscription()
    return do_register_web_push(
        citizen, endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"], auth=sub["keys"]["auth"], **extra
    )


def citizen(phone: str | None = None) -> Citizen:
    """A signed-up citizen with the current notice accepted (in the Taitung demo county)."""
    from civicpush.citizen_web.tests.pushes import new_citizen
    from civicpush.citizens.tests.factories import taitung

    taitung()
    return new_citizen(phone)


def pem_private(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def pem_public(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@functools.cache
def rsa_key() -> Any:
    """A service-account key for the FCM tests (one per test run: generating RSA keys is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> Any:
    """An APNs .p8 key (P-256)."""
    return ec.generate_private_key(ec.SECP256R1())


APNS_TOKEN = "a1" * 32  # a well-formed 32-byte device token (hex)


def run_async(coro: Any) -> Any:
    """asyncio.run(coro) — in a thread of its own when this thread already runs an event loop (the
    browser tests' Playwright keeps one running in the main thread for the whole session)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
