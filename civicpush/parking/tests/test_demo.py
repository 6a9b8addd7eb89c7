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
