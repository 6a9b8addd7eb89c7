"""Unit API keys in the console: shown once, stored as a hash, revoked after confirmation."""

from __future__ import annotations

import re

import pytest

from civicpush.org.models import UnitApiKey
from civicpush.org.services import hash_api_key

pytestmark = pytest.mark.django_db


def test_creating_a_key_shows_the_raw_key_once_and_stores_only_its_hash(as_staff, org):
    client = as_staff("investigation.manager")
    unit = org.unit("investigation")
    response = client.post(f"/console/units/{unit.pk}/api-keys/", {"name": "火災案件系統", "kind": "live"})
    body = response.content.decode()
    assert response.status_code == 200 and "之後無法再次顯示" in body
    raw = re.search(r'id="new-key" type="text" readonly value="([^"]+)"', body).group(1)
    key = UnitApiKey.objects.get(unit=unit)
    assert key.key_hash == hash_api_key(raw) and key.kind == "live" and raw.startswith(key.prefix)
    assert not UnitApiKey.objects.filter(key_hash=raw).exists() and raw not in key.prefix
    listing = client.get(f"/console/units/{unit.pk}/api-keys/").content.decode()
    assert raw not in listing and key.prefix in listing and "火災案件系統" in listing and "正式" in listing


def test_invalid_key_form_changes_nothing(as_staff, org):
    client = as_staff("investigation.manager")
    unit = org.unit("investigation")
    response = client.post(f"/console/units/{unit.pk}/api-keys/", {"name": "", "kind": "prod"})
    assert response.status_code == 400 and not UnitApiKey.objects.exists()


def test_revoking_asks_for_confirmation_then_sets_revoked_at(as_staff, org):
    client = as_staff("investigation.manager")
    unit = org.unit("investigation")
    client.post(f"/console/units/{unit.pk}/api-keys/", {"name": "k1", "kind": "test"})
    key = UnitApiKey.objects.get(unit=unit)
    confirm = client.get(f"/console/units/{unit.pk}/api-keys/{key.pk}/revoke/")
    assert confirm.status_code == 200 and "無法復原" in confirm.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None
    response = client.post(f"/console/units/{unit.pk}/api-keys/{key.pk}/revoke/", follow=True)
    assert "已撤銷" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == org.user("investigation.manager")


def test_county_operator_manages_keys_of_any_unit(as_staff, org):
    client = as_staff("county.operator")
    assert client.get(f"/console/units/{org.unit('prevention').pk}/api-keys/").status_code == 200
