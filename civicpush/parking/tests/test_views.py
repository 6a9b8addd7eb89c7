"""Citizen pages (bind, verify, pay with the PIN, auto-deduct) and console pages (roles, audit, exports)."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.core.models import AuditEntry
from civicpush.parking.models import AutoDeductEnrolment, Payment, PaymentStatus, PlateBinding, PlateStatus
from civicpush.parking.operators import simulator

from .world import PIN, bill_for, bind, make_citizen, wallet

pytestmark = pytest.mark.django_db


def client_for(citizen) -> Client:

    client = Client()
    session = client.session
    session[CITIZEN_SESSION_KEY] = citizen.pk
    session.save()
    return client


@pytest.fixture
def citizen(world):
    from django.conf import settings

    from civicpush.citizens import services as citizen_services
    from civicpush.citizens.tests.factories import taitung
    from civicpush.wallet.services import do_set_pin

    taitung()
    c = citizen_services.do_sign_up(
        "+886912000111", notice_version=settings.PRIVACY_NOTICE_VERSION, client_ip="198.51.100.9"
    )
    do_set_pin(c, PIN, PIN)
    world.give(c, 1000)
    return c


def test_a_citizen_binds_verifies_and_pays_a_bill(world, citizen) -> None:
    client = client_for(citizen)
    assert client.get("/parking/").status_code == 200
    bad = client.post("/parking/plates/add/", {"vehicle_kind": "car", "plate": "ABCD-12"})
    assert bad.status_code == 400 and "ABC-1234" in bad.content.decode()
    response = client.post("/parking/plates/add/", {"vehicle_kind": "car", "plate": "abc 1234"})
    binding = PlateBinding.objects.get(citizen=citizen)
    assert response.status_code == 302 and response["Location"] == f"/parking/plates/{binding.pk}/verify/"
    slip = simulator.issue_bill("ABC-1234", "car", 40)
    wrong = client.post(response["Location"], {"method": "bill_code", "code": "nope"})
    assert wrong.status_code == 400
    ok = client.post(response["Location"], {"method": "bill_code", "code": slip.bill_no})
    assert ok.status_code == 302
    binding.refresh_from_db()
    assert binding.status == PlateStatus.VERIFIED
    home = client.get("/parking/").content.decode()
    assert "NT$40" in home
    bill_id = Payment._meta.apps.get_model("parking", "Bill").objects.get(bill_no=slip.bill_no).pk
    page = client.get(f"/parking/bills/{bill_id}/")
    assert page.status_code == 200 and "400" in page.content.decode()
    wrong_pin = client.post(f"/parking/bills/{bill_id}/pay/", {"pin": "999999", "form_key": "key-abcdefgh"})
    assert wrong_pin.status_code == 400 and not Payment.objects.exists()
    paid = client.post(f"/parking/bills/{bill_id}/pay/", {"pin": PIN, "form_key": "key-abcdefgh"})
    assert paid.status_code == 302 and paid["Location"] == "/parking/history/"
    again = client.post(f"/parking/bills/{bill_id}/pay/", {"pin": PIN, "form_key": "key-abcdefgh"})  # double tap
    assert again.status_code == 302
    assert Payment.objects.get().status == PaymentStatus.CONFIRMED and wallet(citizen) == 600
    assert "400" in client.get("/parking/history/").content.decode()


def test_auto_deduct_needs_the_terms_accepted(world, citizen) -> None:
    client = client_for(citizen)
    bind(citizen)
    refused = client.post("/parking/auto/", {"action": "enrol", "terms_version": world.settings.terms_version})
    assert refused.status_code == 400 and not AutoDeductEnrolment.objects.exists()
    ok = client.post(
        "/parking/auto/", {"action": "enrol", "accept": "on", "terms_version": world.settings.terms_version}
    )
    assert ok.status_code == 302
    assert AutoDeductEnrolment.objects.get(citizen=citizen).terms_version == world.settings.terms_version
    assert PlateBinding.objects.get(citizen=citizen).auto_deduct


def test_a_citizen_cannot_see_another_citizens_bill(world, citizen) -> None:
    other = make_citizen(world)
    bill = bill_for(bind(other), 40)
    response = client_for(citizen).get(f"/parking/bills/{bill.pk}/")
    assert response.status_code == 302 and response["Location"] == "/parking/"


def test_console_pages_are_for_the_county_operator_and_accounting(world, client) -> None:
    owner = make_citizen(world, coins=1000)
    binding = bind(owner)
    bill_for(binding, 40)
    client.force_login(world.org.user("prevention.drafter"))
    assert client.get("/console/parking/").status_code == 403
    client.force_login(world.org.user("fire.accounting"))
    assert client.get("/console/parking/bills/").status_code == 200
    assert client.post(f"/console/parking/plates/{binding.pk}/release/", {"reason": "x"}).status_code == 403
    client.force_login(world.org.user("county.operator"))
    for url in (
        "/console/parking/",
        "/console/parking/bills/",
        "/console/parking/payments/",
        "/console/parking/flags/",
        "/console/parking/plates/",
    ):
        assert client.get(url).status_code == 200, url
    released = client.post(f"/console/parking/plates/{binding.pk}/release/", {"reason": "車輛已過戶"})
    assert released.status_code == 302
    assert AuditEntry.objects.filter(action="parking.plate.released").count() == 1


def test_exports_are_read_back(world, client) -> None:
    from openpyxl import load_workbook

    owner = make_citizen(world, coins=1000)
    bill = bill_for(bind(owner), 40)
    client.force_login(world.org.user("county.operator"))
    csv_text = client.get("/console/parking/bills/export.csv").content.decode("utf-8-sig")
    assert bill.bill_no in csv_text and "ABC-**34" in csv_text
    xlsx = client.get("/console/parking/bills/export.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == bill.bill_no and rows[1][5] == 40
    assert client.get("/console/parking/nothing/export.csv").status_code == 404
    assert AuditEntry.objects.filter(action="parking.export").count() == 2
