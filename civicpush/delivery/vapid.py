"""VAPID (RFC 8292): the server's P-256 key pair and the ES256 JWT sent with every Web Push request.

Key source: settings.VAPID_PRIVATE_KEY (from CIVICPUSH_VAPID_PRIVATE_KEY: a raw base64url 32-byte
scalar or a PEM private key). In demo mode a missing key is generated once and kept in
VAR_DIR/vapid_private_key (mode 600, never in the repository), so existing .local/env files keep
working; outside demo mode a missing key is an error at first use.

`application_server_key()` is what a browser's `pushManager.subscribe({applicationServerKey})`
needs: the uncompressed public point (65 bytes, 0x04‖X‖Y), base64url without padding.

`VapidSigner` caches one JWT per push-service origin (the `aud` claim) and reuses it until shortly
before it expires: signing costs far more than a dictionary look-up, and push services accept a token
for up to 24 hours.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KEY_FILE_NAME = "vapid_private_key"
JWT_LIFETIME_SECONDS = 12 * 3600  # RFC 8292 §2: no more than 24 hours
JWT_REFRESH_MARGIN_SECONDS = 15 * 60  # re-sign this long before expiry


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    if isinstance(text, str):
        text = text.encode("ascii")
    text = text.strip()
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def load_private_key(value: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from a PEM text or a base64url (or base64) raw 32-byte scalar."""
    value = value.strip()
    if value.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(value.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ImproperlyConfigured("CIVICPUSH_VAPID_PRIVATE_KEY must be a P-256 (prime256v1) key")
        return key
    raw = b64url_decode(value.replace("+", "-").replace("/", "_"))
    if len(raw) != 32:
        raise ImproperlyConfigured(
            "CIVICPUSH_VAPID_PRIVATE_KEY must be a PEM key or the base64url of a raw 32-byte P-256 scalar"
        )
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def private_key_to_raw(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def generate_private_key_text() -> str:
    """A new key in the form CIVICPUSH_VAPID_PRIVATE_KEY takes (base64url raw scalar)."""
    return private_key_to_raw(ec.generate_private_key(ec.SECP256R1()))


def _demo_key_file() -> Path:
    return Path(settings.VAR_DIR) / KEY_FILE_NAME


def _load_or_create_demo_key() -> str:
    path = _demo_key_file()
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = generate_private_key_text()
    # O_EXCL: two processes starting together agree on one key (the loser reads the winner's).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        time.sleep(0.05)
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    return text


@functools.cache
def private_key() -> ec.EllipticCurvePrivateKey:
    value = getattr(settings, "VAPID_PRIVATE_KEY", "")
    if not value:
        if not getattr(settings, "DEMO_MODE", False):
            raise ImproperlyConfigured(
                "CIVICPUSH_VAPID_PRIVATE_KEY is not set (Web Push needs a VAPID key). Generate one with "
                "`python -m civicpush.delivery.vapid` and set it in the environment."
            )
        value = _load_or_create_demo_key()
    return load_private_key(value)


@functools.cache
def public_key_bytes() -> bytes:
    return (
        private_key()
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )


def application_server_key() -> str:
    """The VAPID public key as browsers want it: base64url (no padding) of the uncompressed point."""
    return b64url(public_key_bytes())


def subject() -> str:
    value = getattr(settings, "VAPID_SUBJECT", "") or "mailto:webpush@civicpush.invalid"
    if not (value.startswith("mailto:") or value.startswith("https:")):
        raise ImproperlyConfigured("CIVICPUSH_VAPID_SUBJECT must be a mailto: or https: URI")
    return value


def origin_of(endpoint: str) -> str:
    """The push service's origin (scheme://host[:port]), the JWT's `aud`."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def sign_jwt(key: ec.EllipticCurvePrivateKey, audience: str, sub: str, expires_at: int) -> str:
    header = b64url(b'{"typ":"JWT","alg":"ES256"}')
    claims = b64url(json.dumps({"aud": audience, "exp": expires_at, "sub": sub}, separators=(",", ":")).encode())
    signing_input = f"{header}.{claims}".encode("ascii")
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return f"{header}.{claims}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class VapidSigner:
    """Builds the `Authorization: vapid t=…, k=…` header, one cached JWT per push-service origin."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey | None = None,
        sub: str | None = None,
        lifetime: int = JWT_LIFETIME_SECONDS,
        refresh_margin: int = JWT_REFRESH_MARGIN_SECONDS,
        clock=time.time,
    ) -> None:
        self.key = key or private_key()
        self.sub = sub or subject()
        self.public_key_b64 = b64url(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )
        self.lifetime = lifetime
        self.refresh_margin = refresh_margin
        self.clock = clock
        self._cache: dict[str, tuple[str, float]] = {}  # origin -> (header value, refresh after)
        self._lock = threading.Lock()
        self.signed = 0  # how many JWTs were signed (tests and benchmarks read it)

    def authorization(self, endpoint_or_origin: str) -> str:
        origin = origin_of(endpoint_or_origin)
        now = self.clock()
        cached = self._cache.get(origin)
        if cached is not None and now < cached[1]:
            return cached[0]
        with self._lock:
            expires_at = int(now) + self.lifetime
            token = sign_jwt(self.key, origin, self.sub, expires_at)
            value = f"vapid t={token}, k={self.public_key_b64}"
            self._cache[origin] = (value, expires_at - self.refresh_margin)
            self.signed += 1
            return value


if __name__ == "__main__":  # pragma: no cover - a key generator for operators
    print(generate_private_key_text())
