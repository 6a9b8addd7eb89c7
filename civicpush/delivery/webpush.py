"""Web Push message encryption (RFC 8291, `aes128gcm` content coding of RFC 8188), on `cryptography`.

The hot path of every broadcast, so it does only what the RFC requires per message — one ephemeral
P-256 key pair, one ECDH, four HMAC-SHA-256 (HKDF with a single output block is exactly one
extract HMAC and one expand HMAC) and one AES-128-GCM seal — and caches everything that is per
subscriber (the decoded public key object and auth secret) or constant (the info prefixes).
`hmac.digest` (one C call) replaces the `HKDF` class, which costs several Python objects per use;
see `bench/fanout.py --crypto-only` for the measurement.

A push payload is one record: `plaintext ‖ 0x02 ‖ zero padding`, record size 4096, and the body is
`salt(16) ‖ rs(4) ‖ idlen(1)=65 ‖ as_public(65) ‖ ciphertext`. Payloads larger than
`MAX_PLAINTEXT` (4,096 − 86 header − 16 tag − 1 delimiter = 3,993 bytes) are refused.
"""

from __future__ import annotations

import binascii
import hmac
import os
import struct
from functools import lru_cache
from typing import NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

try:  # the C function behind hmac.digest, without its Python wrapper (5 calls per message)
    from _hashlib import hmac_digest as _hmac_digest
except ImportError:  # pragma: no cover - Python without OpenSSL's hashlib
    _hmac_digest = hmac.digest  # type: ignore[assignment]

RECORD_SIZE = 4096
HEADER_LEN = 16 + 4 + 1 + 65
TAG_LEN = 16
MAX_BODY = 4096  # what push services must accept (RFC 8030 §7.2)
MAX_PLAINTEXT = MAX_BODY - HEADER_LEN - TAG_LEN - 1

_CURVE = ec.SECP256R1()
_X962 = serialization.Encoding.X962
_UNCOMPRESSED = serialization.PublicFormat.UncompressedPoint
_ECDH = ec.ECDH()
_KEY_INFO_PREFIX = b"WebPush: info\x00"
_CEK_INFO = b"Content-Encoding: aes128gcm\x00\x01"
_NONCE_INFO = b"Content-Encoding: nonce\x00\x01"
_RS_IDLEN = struct.pack("!IB", RECORD_SIZE, 65)
_SHA256 = "sha256"
_URLSAFE_TO_STD = bytes.maketrans(b"-_", b"+/")


def _b64url_decode(text: str) -> bytes:
    """base64url with or without padding (as `vapid.b64url_decode`, without its extra copies: it runs
    twice per subscriber of a broadcast)."""
    raw = text.encode("ascii").translate(_URLSAFE_TO_STD)
    return binascii.a2b_base64(raw + b"=" * (-len(raw) % 4))


class InvalidSubscription(ValueError):
    """The browser's p256dh/auth are not a P-256 public point and a 16-byte secret."""


class PayloadTooLarge(ValueError):
    pass


class SubscriberKeys(NamedTuple):
    """A subscription's keys decoded once: the public point as bytes and as a key object, and the
    auth secret. Building the key object (point validation) is the costliest part to repeat."""

    ua_public: bytes
    ua_key: ec.EllipticCurvePublicKey
    auth_secret: bytes
    key_info: bytes  # "WebPush: info\0" ‖ ua_public, the constant first part of the key info


def subscriber_keys(p256dh: str | bytes, auth: str | bytes) -> SubscriberKeys:
    try:
        ua_public = _b64url_decode(p256dh) if isinstance(p256dh, str) else p256dh
        auth_secret = _b64url_decode(auth) if isinstance(auth, str) else auth
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise InvalidSubscription(f"p256dh/auth are not base64url: {exc}") from exc
    if len(ua_public) != 65 or ua_public[0] != 4 or len(auth_secret) != 16:
        raise InvalidSubscription("p256dh must be an uncompressed P-256 point and auth 16 bytes")
    try:
        ua_key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, ua_public)
    except ValueError as exc:
        raise InvalidSubscription(str(exc)) from exc
    return SubscriberKeys(ua_public, ua_key, auth_secret, _KEY_INFO_PREFIX + ua_public)


@lru_cache(maxsize=4096)
def cached_subscriber_keys(p256dh: str, auth: str) -> SubscriberKeys:
    """Per-process cache: repeated broadcasts to the same subscribers skip decoding and validation."""
    return subscriber_keys(p256dh, auth)


def encrypt(
    plaintext: bytes,
    keys: SubscriberKeys,
    *,
    salt: bytes | None = None,
    as_private: ec.EllipticCurvePrivateKey | None = None,
    pad_to: int = 0,
) -> bytes:
    """The aes128gcm body for one subscriber. `salt` and `as_private` are for test vectors only:
    in production both are fresh per message, as RFC 8291 requires."""
    if len(plaintext) > MAX_PLAINTEXT:
        raise PayloadTooLarge(f"payload of {len(plaintext)} bytes exceeds {MAX_PLAINTEXT}")
    if as_private is None:
        as_private = ec.generate_private_key(_CURVE)
    if salt is None:
        salt = os.urandom(16)
    as_public = as_private.public_key().public_bytes(_X962, _UNCOMPRESSED)
    ecdh_secret = as_private.exchange(_ECDH, keys.ua_key)
    # HKDF(salt=auth_secret, ikm=ecdh_secret, info=key_info, L=32)
    prk_key = _hmac_digest(keys.auth_secret, ecdh_secret, _SHA256)
    ikm = _hmac_digest(prk_key, keys.key_info + as_public + b"\x01", _SHA256)
    # HKDF(salt, ikm, "Content-Encoding: aes128gcm\0", 16) and (…, "Content-Encoding: nonce\0", 12)
    prk = _hmac_digest(salt, ikm, _SHA256)
    cek = _hmac_digest(prk, _CEK_INFO, _SHA256)[:16]
    nonce = _hmac_digest(prk, _NONCE_INFO, _SHA256)[:12]
    record = plaintext + b"\x02"
    if pad_to > len(record):
        record += bytes(pad_to - len(record))
    return salt + _RS_IDLEN + as_public + AESGCM(cek).encrypt(nonce, record, None)


def encrypt_for(plaintext: bytes, p256dh: str, auth: str) -> bytes:
    return encrypt(plaintext, cached_subscriber_keys(p256dh, auth))
