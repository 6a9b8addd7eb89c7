"""The demo loader gives demo citizens plates, coins and bills; loading twice changes nothing."""

from __future__ import annotations

import pytest

from civicpush.parking.demo import load_demo_parking
from civicpush.parking.models import Bill, ParkingSettings, PlateBinding, PlateStatus, SimBill

from .world import wallet

pytestmark = pytest.mark.django_db


def test_demo_parking_loads_once(org) -> None:
    from civicpush.citizens.models import Citizen

    citizens = [Citizen.objects.create(county=org.county, phone_e164=f"+88691100000{i}") for i in range(3)]
    assert "3 demo citizens" in load_demo_parking(org.county)
    assert load_demo_parking(org.county) == "already there"
    assert PlateBinding.objects.filter(status=PlateStatus.VERIFIED).count() == 3
    assert Bill.objects.filter(citizen__in=citizens).count() == 6
    assert SimBill.objects.count() == 12
    assert ParkingSettings.objects.get(county=org.county).notice_unit.code == "parking"
    assert all(wallet(c) == 2000 for c in citizens)


def test_a_citizens_parking_data_is_exported_and_erased(world) -> None:
    from civicpush.core.personal_data import erase_all, export_all
    from civicpush.parking import payments

    from .world import PIN, bill_for, bind, make_citizen

    citizen = make_citizen(world, coins=1000)
    bill = bill_for(bind(citizen), 40)
    payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-export")
    data = export_all(citizen)["parking"]
    assert data["plates"][0]["plate"] == "ABC-1234" and data["payments"][0]["coins"] == 400
    erase_all(citizen)
    assert not PlateBinding.objects.filter(citizen=citizen).exists()
    assert Bill.objects.filter(pk=bill.pk).exists()  # the payment record stays (pseudonymous)
