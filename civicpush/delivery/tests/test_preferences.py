"""Channel preferences: the service's validation and the settings page's form (zh-Hant)."""

from __future__ import annotations

import pytest

from civicpush.citizen_web.tests.pushes import client_for
from civicpush.core.errors import ValidationFailed
from civicpush.core.models import AuditEntry
from civicpush.delivery import devices
from civicpush.delivery.models import ChannelPreference

from .deledge_helpers import citizen

pytestmark = pytest.mark.django_db


def test_defaults_until_the_citizen_chooses() -> None:
    pref = devices.preferences_of(citizen())
    assert (pref.app_enabled, pref.sms_enabled, pref.email_enabled, pref.email) == (True, True, False, "")
    assert not ChannelPreference.objects.exists()


def test_e_mail_needs_a_valid_address() -> None:
    alice = citizen()
    with pytest.raises(ValidationFailed) as exc:
        devices.do_set_channel_preferences(alice, app_enabled=True, sms_enabled=True, email_enabled=True, email="")
    assert "email" in exc.value.field_errors
    with pytest.raises(ValidationFailed):
        devices.do_set_channel_preferences(alice, app_enabled=True, sms_enabled=True, email_enabled=False, email="x@")
    assert not ChannelPreference.objects.exists()  # nothing half-written
    pref = devices.do_set_channel_preferences(
        alice, app_enabled=False, sms_enabled=False, email_enabled=True, email=" alice@example.tw "
    )
    assert (pref.app_enabled, pref.sms_enabled, pref.email_enabled, pref.email) == (
        False,
        False,
        True,
        "alice@example.tw",
    )
    entry = AuditEntry.objects.get(action="delivery.channels.changed")
    assert entry.after["email_set"] is True and "alice@example.tw" not in str(entry.after)  # no address in the log


def test_the_settings_page_saves_preferences_and_shows_errors_in_zh_hant() -> None:
    alice = citizen()
    client = client_for(alice)
    page = client.get("/me/notifications/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "個人通知" in html and "沒有可顯示通知的裝置時，以簡訊通知" in html and "也以電子郵件通知" in html
    assert page["Cache-Control"].count("no-store")

    refused = client.post("/me/notifications/", {"app_enabled": "on", "email_enabled": "on", "email": ""})
    assert refused.status_code == 400
    assert "請輸入要收通知的電子郵件地址。" in refused.content.decode()
    invalid = client.post("/me/notifications/", {"email": "not an address"})
    assert invalid.status_code == 400 and "電子郵件" in invalid.content.decode()

    saved = client.post("/me/notifications/", {"app_enabled": "on", "email_enabled": "on", "email": "a@example.tw"})
    assert saved.status_code == 302 and saved["Location"] == "/me/notifications/"
    pref = ChannelPreference.objects.get(citizen=alice)
    assert (pref.app_enabled, pref.sms_enabled, pref.email_enabled, pref.email) == (True, False, True, "a@example.tw")
    assert "通知設定已儲存。" in client.get("/me/notifications/").content.decode()


def test_the_me_page_links_to_the_settings_and_visitors_are_sent_to_sign_in(client: object) -> None:
    alice = citizen()
    assert 'href="/me/notifications/"' in client_for(alice).get("/me/").content.decode()
    from django.test import Client

    assert Client().get("/me/notifications/")["Location"] == "/signin/"
