"""RFC 8291 encryption reproduces the RFC's example byte for byte and decrypts with Mozilla's
`http_ece`; RFC 8292 VAPID JWTs verify with PyJWT and are reused per push-service origin."""

from __future__ import annotations

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from civicpush.delivery import vapid, webpush
from civicpush.delivery.vapid import b64url, b64url_decode

# RFC 8291 Appendix A ("Encryption Example"), verbatim.
RFC_PLAINTEXT = b"When I grow up, I want to be a watermelon"
RFC_AS_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
RFC_AS_PUBLIC = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
RFC_UA_PUBLIC = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
RFC_UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
RFC_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
RFC_SALT = "DGv6ra1nlYgDCS1FRnbzlw"
RFC_BODY = (
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml"
    "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT"
    "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
)


def test_rfc8291_appendix_a_byte_for_byte():
    as_private = vapid.load_private_key(RFC_AS_PRIVATE)
    assert (
        b64url(
            as_private.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )
        == RFC_AS_PUBLIC
    )
    body = webpush.encrypt(
        RFC_PLAINTEXT,
        webpush.subscriber_keys(RFC_UA_PUBLIC, RFC_AUTH),
        salt=b64url_decode(RFC_SALT),
        as_private=as_private,
    )
    assert b64url(body) == RFC_BODY


def _new_subscriber() -> tuple[ec.EllipticCurvePrivateKey, str, str]:
    ua_private = ec.generate_private_key(ec.SECP256R1())
    p256dh = b64url(
        ua_private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return ua_private, p256dh, b64url(b"0123456789abcdef")


@pytest.mark.parametrize("size", [0, 1, 200, webpush.MAX_PLAINTEXT])
def test_payloads_decrypt_with_mozilla_http_ece(size):
    ua_private, p256dh, auth = _new_subscriber()
    plaintext = bytes((i * 7) % 251 for i in range(size))
    body = webpush.encrypt_for(plaintext, p256dh, auth)
    assert len(body) <= webpush.MAX_BODY
    decrypted = http_ece.decrypt(body, private_key=ua_private, auth_secret=b"0123456789abcdef", version="aes128gcm")
    assert decrypted == plaintext


def test_each_message_has_a_fresh_salt_and_ephemeral_key():
    _, p256dh, auth = _new_subscriber()
    a = webpush.encrypt_for(b"same", p256dh, auth)
    b = webpush.encrypt_for(b"same", p256dh, auth)
    assert a[:16] != b[:16] and a[21:86] != b[21:86]


def test_rfc_example_decrypts_with_the_ua_private_key():
    ua_private = vapid.load_private_key(RFC_UA_PRIVATE)
    out = http_ece.decrypt(
        b64url_decode(RFC_BODY), private_key=ua_private, auth_secret=b64url_decode(RFC_AUTH), version="aes128gcm"
    )
    assert out == RFC_PLAINTEXT


def test_oversized_payload_and_bad_keys_are_refused():
    _, p256dh, auth = _new_subscriber()
    with pytest.raises(webpush.PayloadTooLarge):
        webpush.encrypt_for(b"x" * (webpush.MAX_PLAINTEXT + 1), p256dh, auth)
    with pytest.raises(webpush.InvalidSubscription):
        webpush.subscriber_keys(p256dh[:-4], auth)
    with pytest.raises(webpush.InvalidSubscription):
        webpush.subscriber_keys("B" + "A" * 86, auth)  # not a point on the curve
    with pytest.raises(webpush.InvalidSubscription):
        webpush.subscriber_keys(p256dh[:-2], auth)  # not base64url (85 characters: a length of 4n + 1)
    with pytest.raises(webpush.InvalidSubscription):
        webpush.subscriber_keys("金" * 87, auth)  # not ASCII
    # padded or not, base64url decodes to the same key
    assert webpush.subscriber_keys(p256dh + "=" * (-len(p256dh) % 4), auth).ua_public == (
        webpush.subscriber_keys(p256dh, auth).ua_public
    )


def test_vapid_jwt_verifies_and_is_reused_per_origin():
    now = [1_800_000_000.0]
    signer = vapid.VapidSigner(
        key=vapid.load_private_key(RFC_AS_PRIVATE), sub="mailto:ops@example.org", clock=lambda: now[0]
    )
    header = signer.authorization("https://push.example.net/wpush/v2/abc")
    assert header.startswith("vapid t=") and ", k=" in header
    token, k = header[len("vapid t=") :].split(", k=")
    assert k == RFC_AS_PUBLIC
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(k))
    claims = jwt.decode(
        token, public, algorithms=["ES256"], audience="https://push.example.net", options={"verify_exp": False}
    )
    assert claims["sub"] == "mailto:ops@example.org"
    assert claims["exp"] - now[0] <= 24 * 3600
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    # Same origin, other endpoint: the cached token; another origin: a new one.
    assert signer.authorization("https://push.example.net/wpush/v2/other") == header
    other = signer.authorization("https://fcm.googleapis.com/fcm/send/xyz")
    assert other != header and signer.signed == 2
    jwt.decode(
        other.split(", k=")[0][8:],
        public,
        algorithms=["ES256"],
        audience="https://fcm.googleapis.com",
        options={"verify_exp": False},
    )
    # Near expiry it is signed again.
    now[0] += vapid.JWT_LIFETIME_SECONDS - vapid.JWT_REFRESH_MARGIN_SECONDS + 1
    assert signer.authorization("https://push.example.net/x") != header and signer.signed == 3


def test_application_server_key_is_the_configured_public_point():
    key = vapid.application_server_key()
    raw = b64url_decode(key)
    assert len(raw) == 65 and raw[0] == 4 and "=" not in key
    assert raw == vapid.private_key().public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def test_pem_keys_are_accepted():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    assert vapid.load_private_key(pem).private_numbers() == key.private_numbers()
    assert vapid.load_private_key(vapid.private_key_to_raw(key)).private_numbers() == key.private_numbers()
