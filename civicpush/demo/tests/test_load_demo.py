from __future__ import annotations

import io
import re
from collections import Counter

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from civicpush.citizens.models import Citizen, CitizenProfile, ConsentRecord, Residency
from civicpush.citizens.phone import normalise_mobile
from civicpush.citizens.topics import mask_to_topics
from civicpush.core.audit import log_action
from civicpush.core.models import AuditEntry
from civicpush.demo.organisation import FIRE_BUREAU_UNITS, demo_password
from civicpush.org.models import RoleAssignment, Unit
from civicpush.org.roles import Role

pytestmark = pytest.mark.django_db


def load_demo(*flags: str) -> str:
    out = io.StringIO()
    call_command("load_demo", *flags, stdout=out)
    return out.getvalue()


def _snapshot() -> dict[str, tuple]:
    return {
        p.citizen.phone_e164: (
            p.display_name,
            p.birth_year,
            p.gender,
            p.residency,
            p.topics_mask,
            p.township_id,
            p.village_id,
        )
        for p in CitizenProfile.objects.select_related("citizen")
    }


def test_load_demo_creates_the_twelve_seed_units_with_their_kinds():
    load_demo()
    fire_bureau = Unit.objects.get(code="rescue").agency  # (other agencies' demo units, e.g. parking, aside)
    top = {u.code: u.kind for u in Unit.objects.filter(parent__isnull=True, agency=fire_bureau)}
    assert top == {code: kind for code, _name, _en, kind in FIRE_BUREAU_UNITS}


def test_load_demo_gives_every_role_to_someone():
    load_demo()
    held = set(RoleAssignment.objects.values_list("role", flat=True))
    assert held == set(Role.values)


def test_load_demo_creates_2000_citizens_each_with_consent_and_profile():
    output = load_demo()
    assert Citizen.objects.count() == 2000
    profiles = list(CitizenProfile.objects.select_related("consent", "village", "township"))
    assert len(profiles) == 2000
    assert ConsentRecord.objects.count() == 2000
    for p in profiles:
        assert p.consent.citizen_id == p.citizen_id
        assert p.consent.notice_version == settings.PRIVACY_NOTICE_VERSION
    assert "2,000 created" in output


def test_demo_citizens_look_like_taitung():
    load_demo()
    profiles = list(CitizenProfile.objects.select_related("citizen", "township", "village"))
    n = len(profiles)
    towns = Counter(p.township.name for p in profiles)
    assert len(towns) == 16
    assert 0.40 <= towns["臺東市"] / n <= 0.52
    assert 0.80 <= sum(p.residency == Residency.RESIDENT for p in profiles) / n <= 0.90
    with_village = [p for p in profiles if p.village_id]
    assert 0.62 <= len(with_village) / n <= 0.78
    today = timezone.localdate()
    for p in with_village:
        assert p.village.township_id == p.township_id
        assert p.village.valid_from <= today and (p.village.valid_to is None or p.village.valid_to > today)
        assert p.residency == Residency.RESIDENT
    assert all(1940 <= p.birth_year <= 2008 for p in profiles)
    assert sum(p.birth_year < 1970 for p in profiles) > sum(p.birth_year >= 1995 for p in profiles)
    assert all(1 <= len(mask_to_topics(p.topics_mask)) <= 4 for p in profiles)
    phones = [p.citizen.phone_e164 for p in profiles]
    assert len(set(phones)) == n
    for phone in phones[:200]:
        assert normalise_mobile(phone) == phone  # a real sign-in would accept it
    assert not any(phone.startswith("+88699") for phone in phones)


def test_two_resets_give_the_same_citizens():
    load_demo("--reset")
    first = _snapshot()
    load_demo("--reset")
    second = _snapshot()
    assert len(first) == 2000
    assert first == second


def test_if_empty_does_nothing_the_second_time():
    load_demo("--if-empty")
    ids = set(Citizen.objects.values_list("pk", flat=True))
    output = load_demo("--if-empty")
    assert "nothing to do" in output
    assert set(Citizen.objects.values_list("pk", flat=True)) == ids


def test_reset_keeps_the_audit_log():
    load_demo()
    entry = log_action("demo.test.marker", actor="system")
    load_demo("--reset")
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
    assert Citizen.objects.count() == 2000


def test_demo_logins_lists_staff_password_urls_and_a_citizen_number(monkeypatch):
    load_demo()
    monkeypatch.setenv("PORT", "8765")
    out = io.StringIO()
    call_command("demo_logins", stdout=out)
    text = out.getvalue()
    assert "investigation.drafter" in text and "火調科承辦人" in text
    assert "county.operator" in text
    assert demo_password() in text
    assert "http://127.0.0.1:8765/console/" in text
    assert "http://127.0.0.1:8765/store/" in text
    assert "http://127.0.0.1:8765/dev/otp/" in text
    number = re.search(r"09\d\d-\d{3}-\d{3}", text)
    assert number is not None
    assert Citizen.objects.filter(phone_e164="+886" + number.group().replace("-", "")[1:]).exists()
