"""Where the VAPID key comes from: the environment, else (demo mode only) a key generated once
into the var dir; outside demo mode a missing key is refused."""

from __future__ import annotations

import os
import stat

import pytest
from django.core.exceptions import ImproperlyConfigured

from civicpush.delivery import vapid


@pytest.fixture
def fresh_key_cache():
    vapid.private_key.cache_clear()
    vapid.public_key_bytes.cache_clear()
    yield
    vapid.private_key.cache_clear()
    vapid.public_key_bytes.cache_clear()


def test_demo_mode_generates_one_key_and_keeps_it_in_the_var_dir(settings, tmp_path, fresh_key_cache):
    settings.VAPID_PRIVATE_KEY = ""
    settings.DEMO_MODE = True
    settings.VAR_DIR = tmp_path
    first = vapid.application_server_key()
    path = tmp_path / vapid.KEY_FILE_NAME
    assert path.exists() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    vapid.private_key.cache_clear()
    vapid.public_key_bytes.cache_clear()
    assert vapid.application_server_key() == first  # the same key after a restart


def test_without_demo_mode_a_missing_key_is_refused(settings, tmp_path, fresh_key_cache):
    settings.VAPID_PRIVATE_KEY = ""
    settings.DEMO_MODE = False
    settings.VAR_DIR = tmp_path
    with pytest.raises(ImproperlyConfigured):
        vapid.application_server_key()
    assert not (tmp_path / vapid.KEY_FILE_NAME).exists()


def test_a_configured_key_wins_and_bad_values_are_refused(settings, fresh_key_cache):
    text = vapid.generate_private_key_text()
    settings.VAPID_PRIVATE_KEY = text
    expected = vapid.b64url(
        vapid.load_private_key(text)
        .public_key()
        .public_bytes(vapid.serialization.Encoding.X962, vapid.serialization.PublicFormat.UncompressedPoint)
    )
    assert vapid.application_server_key() == expected
    with pytest.raises(ImproperlyConfigured):
        vapid.load_private_key("dG9vLXNob3J0")
    settings.VAPID_SUBJECT = "ops@example.org"
    with pytest.raises(ImproperlyConfigured):
        vapid.subject()
