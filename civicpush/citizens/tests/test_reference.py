import datetime

import pytest
from django.core.management import call_command

from civicpush.citizens.models import Township, Village
from civicpush.citizens.reference import ensure_reference_data
from civicpush.citizens.selectors import villages_valid_on
from civicpush.demo.organisation import ensure_county

pytestmark = pytest.mark.django_db


def test_reference_data_loads_16_townships_with_villages_and_is_idempotent():
    county = ensure_county()
    ensure_reference_data(county)
    counts = (Township.objects.count(), Village.objects.count())
    ensure_reference_data(county)
    assert (Township.objects.count(), Village.objects.count()) == counts
    assert counts[0] == 16
    for township in Township.objects.all():
        assert villages_valid_on(township).count() >= 3, township.name
    lanyu = Township.objects.get(code="10014160")
    assert set(villages_valid_on(lanyu).values_list("name", flat=True)) == {"朗島村", "椰油村", "紅頭村", "東清村"}


def test_villages_deleted_on_2021_10_17_are_valid_only_before_that_day():
    ensure_reference_data(ensure_county())
    city = Township.objects.get(name="臺東市")
    before = set(villages_valid_on(city, datetime.date(2021, 10, 16)).values_list("name", flat=True))
    after = set(villages_valid_on(city, datetime.date(2021, 10, 17)).values_list("name", flat=True))
    deleted = {
        "富豐里",
        "四維里",
        "強國里",
        "民權里",
        "仁愛里",
        "大同里",
        "復國里",
        "興國里",
        "復興里",
        "鐵花里",
        "建業里",
    }
    assert deleted <= before
    assert not deleted & after
    assert "馬蘭里" in after


def test_load_reference_data_command_creates_the_county_and_townships(capsys):
    call_command("load_reference_data")
    assert Township.objects.filter(county__code="10014").count() == 16
    assert "16" in capsys.readouterr().out
