from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from civicpush.citizens.models import Citizen, CitizenProfile, ConsentRecord
from civicpush.demo.organisation import ensure_county

pytestmark = pytest.mark.django_db


def generate(n: int, *args: str) -> str:
    out = io.StringIO()
    call_command("generate_citizens", str(n), *args, stdout=out)
    return out.getvalue()


def test_generates_citizens_each_with_profile_and_consent():
    output = generate(2000, "--batch", "700")
    assert Citizen.objects.count() == 2000
    profiles = CitizenProfile.objects.select_related("consent")
    assert profiles.count() == 2000
    assert ConsentRecord.objects.count() == 2000
    assert all(p.consent.citizen_id == p.citizen_id for p in profiles)
    assert all(p.township_id is not None for p in profiles)
    assert "100.0%" in output
    assert output.count("%") == 3  # one progress line per batch (700 + 700 + 600)


def test_generated_phones_are_unique_and_apart_from_demo_numbers():
    call_command("load_demo", stdout=io.StringIO())
    generate(1500, "--batch", "1000")
    assert Citizen.objects.count() == 3500
    phones = list(Citizen.objects.values_list("phone_e164", flat=True))
    assert len(set(phones)) == 3500
    assert sum(p.startswith("+88699") for p in phones) == 1500


def test_normal_inserts_still_work_after_a_bulk_load():
    generate(1200, "--batch", "500")
    citizen = Citizen.objects.create(county=ensure_county(), phone_e164="+886912000111")
    assert citizen.pk > max(Citizen.objects.exclude(pk=citizen.pk).values_list("pk", flat=True))
    consent = ConsentRecord.objects.create(citizen=citizen, notice_version="x", accepted_at=citizen.created_at)
    assert consent.pk is not None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY path is PostgreSQL only")
def test_postgresql_load_uses_ids_from_the_sequences():
    generate(300)
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM citizens_citizen_id_seq")
        (last,) = cursor.fetchone()
    assert last >= Citizen.objects.order_by("-pk").values_list("pk", flat=True).first()
