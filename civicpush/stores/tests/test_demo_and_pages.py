"""Demo stores load idempotently; the console and citizen store pages render for the right people."""

from __future__ import annotations

import pytest

from civicpush.citizens.reference import ensure_reference_data
from civicpush.stores.demo import STORE_LOGIN, load_demo_stores
from civicpush.stores.models import Offer, Store, StoreStaff

pytestmark = pytest.mark.django_db


def test_demo_stores_load_twice_and_the_store_login_works(client, org):
    ensure_reference_data(org.county)
    load_demo_stores(org)
    load_demo_stores(org)
    assert Store.objects.count() == 5 and Offer.objects.count() == 4
    staff = StoreStaff.objects.get(user__username=STORE_LOGIN)
    response = client.post("/store/login/", {"username": STORE_LOGIN, "password": org.password})
    assert response.status_code == 302
    assert staff.store.name in client.get("/store/").content.decode()


def test_console_store_pages_for_the_operator_only(client, org):
    ensure_reference_data(org.county)
    load_demo_stores(org)
    client.force_login(org.user("county.operator"))
    listing = client.get("/console/stores/").content.decode()
    assert "鐵花村咖啡" in listing and "特約商店" in listing
    store = Store.objects.get(name="池上米舖")
    detail = client.get(f"/console/stores/{store.pk}/").content.decode()
    assert "004-…6789" in detail and "000123456789" not in detail
    assert client.get("/console/stores/settlement/").status_code == 200
    client.force_login(org.user("prevention.drafter"))
    assert client.get("/console/stores/").status_code == 403


def test_citizens_find_stores_on_the_list_and_map_by_township_and_category(client, org):
    ensure_reference_data(org.county)
    load_demo_stores(org)
    body = client.get("/stores/?view=map").content.decode()
    assert "<svg" in body and "鐵花村咖啡" in body and "池上米舖" in body
    chishang = Store.objects.get(name="池上米舖")
    filtered = client.get(f"/stores/?township={chishang.township_id}").content.decode()
    assert "池上米舖" in filtered and "鐵花村咖啡" not in filtered
    charity = client.get("/stores/?category=charity").content.decode()
    assert "臺東愛心食物銀行" in charity and "池上米舖" not in charity
    detail = client.get(f"/stores/{chishang.pk}/").content.decode()
    assert "池上米 1 公斤" in detail and "openstreetmap.org" in detail


def test_redeeming_and_paying_a_store_need_a_signed_in_citizen(client, org):
    from .helpers import make_shop

    shop = make_shop(org)
    offer = Offer.objects.create(store=shop.store, title="池上便當", coin_price=900, stock=2)
    assert client.post(f"/stores/offers/{offer.pk}/redeem/", {"form_key": "redeem-form-0001"})["Location"] == "/signin/"
    assert client.get(f"/pay/s/{shop.store.pay_token}/")["Location"] == "/signin/"
    offer.refresh_from_db()
    assert offer.stock == 2
