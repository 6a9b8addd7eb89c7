"""Store payments: charge a pay code once (retries are replays), refunds reverse, stock never below
zero, receipts go to the citizen, authorisation per store, the store app's charge page."""

from __future__ import annotations

import pytest
from django.db import connection

from civicpush.coins import ledger
from civicpush.coins.models import Transfer
from civicpush.core.errors import Conflict, NotFound, ValidationFailed
from civicpush.core.models import AuditEntry
from civicpush.delivery.models import SystemNotice
from civicpush.stores import payments as pay
from civicpush.stores import services
from civicpush.stores.identifiers import is_valid_ubn
from civicpush.stores.models import Offer, Payment, Store
from civicpush.wallet.services import issue_pay_code

from .helpers import funded_citizen, make_shop, store_data

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.mark.parametrize(
    ("ubn", "valid"),
    [
        ("00501503", True),
        ("04595257", True),
        ("22099131", True),
        ("00501508", True),
        ("00000074", True),
        ("00501502", False),
        ("12345", False),
        ("1234567a", False),
    ],
)
def test_ubn_checksum_follows_the_current_mof_rule(ubn, valid):
    assert is_valid_ubn(ubn) is valid


def test_onboarding_checks_the_ubn_and_keeps_the_bank_account_encrypted(org):
    operator = org.user("county.operator")
    with pytest.raises(ValidationFailed) as bad:
        services.do_create_store(operator, org.county.pk, store_data(org.county, ubn="00501502"))
    assert "ubn" in bad.value.field_errors
    store = services.do_create_store(operator, org.county.pk, store_data(org.county))
    raw = Store.objects.filter(pk=store.pk).values_list("bank_account_encrypted", flat=True).get()
    assert "123456789012" not in raw and store.bank_account_masked == "004-…9012"
    entry = AuditEntry.objects.get(action="stores.store.created")
    assert "123456789012" not in str(entry.after)
    # A drafter (no county role) may not onboard stores.
    from civicpush.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.do_create_store(org.user("prevention.drafter"), org.county.pk, store_data(org.county))


def test_the_store_photo_is_checked_by_its_content(org):
    import io

    from PIL import Image

    operator = org.user("county.operator")
    with pytest.raises(ValidationFailed) as bad:
        services.do_create_store(operator, org.county.pk, store_data(org.county), io.BytesIO(b"GIF89a not an image"))
    assert "photo" in bad.value.field_errors
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buf, "PNG")
    buf.seek(0)
    store = services.do_create_store(operator, org.county.pk, store_data(org.county), buf)
    assert store.photo_content_type == "image/png" and bytes(store.photo).startswith(b"\x89PNG")


def test_a_store_charges_a_pay_code_once_and_a_retry_is_a_replay(org, django_capture_on_commit_callbacks):
    shop = make_shop(org)
    citizen = funded_citizen(shop, 1000)
    code = issue_pay_code(citizen)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = pay.charge_pay_code(shop.cashier, shop.store, code.token, "150", "attempt-0001")
    assert len(callbacks) == 1  # the receipt goes out after the payment commits
    pay.send_receipt(first.payment, shop.store)
    assert not first.replayed and first.payment.amount == 150
    # The phone lost the answer and sends the same attempt again: no second charge.
    again = pay.charge_pay_code(shop.cashier, shop.store, code.token, "150", "attempt-0001")
    assert again.replayed and again.payment.pk == first.payment.pk
    assert ledger.available(ledger.wallet_of(citizen)) == 850
    assert ledger.balance(pay.payable_account(shop.store)) == 150
    assert Transfer.objects.filter(kind=pay.KIND_PAYMENT).count() == 1
    # The same attempt with another amount is refused; a new attempt needs a new code.
    with pytest.raises(Conflict):
        pay.charge_pay_code(shop.cashier, shop.store, code.token, "99", "attempt-0001")
    with pytest.raises(NotFound):
        pay.charge_pay_code(shop.cashier, shop.store, code.token, "150", "attempt-0002")
    notice = SystemNotice.objects.get(reference=f"payment:{first.payment.pk}")
    assert notice.push.title == "付款收據" and "150" in notice.push.body and citizen.phone_e164 not in notice.push.body
    assert pay.day_total(shop.store).net_coins == 150


def test_too_few_coins_records_nothing_and_the_code_stays_usable(org):
    shop = make_shop(org)
    citizen = funded_citizen(shop, 100)
    code = issue_pay_code(citizen)
    with pytest.raises(ValidationFailed):
        pay.charge_pay_code(shop.cashier, shop.store, code.token, "101", "attempt-1001")
    assert not Payment.objects.exists()
    ok = pay.charge_pay_code(shop.cashier, shop.store, code.token, "100", "attempt-1001")
    assert ok.payment.amount == 100 and ledger.available(ledger.wallet_of(citizen)) == 0


def test_staff_of_another_store_cannot_charge_or_refund(org):
    shop, other = make_shop(org), make_shop(org)
    citizen = funded_citizen(shop)
    code = issue_pay_code(citizen)
    with pytest.raises(NotFound):
        pay.charge_pay_code(other.cashier, shop.store, code.token, "10", "attempt-2001")
    paid = pay.charge_pay_code(shop.cashier, shop.store, code.token, "10", "attempt-2002")
    with pytest.raises(NotFound):
        pay.refund(other.cashier, shop.store, paid.payment.pk, "wrong")
    with pytest.raises(NotFound):  # a county drafter is not store staff
        pay.refund(org.user("prevention.drafter"), shop.store, paid.payment.pk, "wrong")


def test_a_refund_is_a_reversing_transfer_made_once(org):
    shop = make_shop(org)
    citizen = funded_citizen(shop, 500)
    paid = pay.charge_pay_code(shop.cashier, shop.store, issue_pay_code(citizen).token, "200", "attempt-3001")
    refunded = pay.refund(shop.cashier, shop.store, paid.payment.pk, "顧客退貨")
    assert refunded.is_refunded
    reversal = Transfer.objects.get(pk=refunded.refund_transfer_id)
    assert reversal.reverses_id == paid.payment.ledger_transfer_id and reversal.amount == 200
    assert pay.refund(shop.cashier, shop.store, paid.payment.pk, "again").refund_transfer_id == reversal.pk
    assert ledger.available(ledger.wallet_of(citizen)) == 500
    assert ledger.balance(pay.payable_account(shop.store)) == 0
    assert AuditEntry.objects.filter(action="stores.payment.refunded").count() == 1
    total = pay.day_total(shop.store)
    assert (total.coins, total.refunded_coins, total.net_coins) == (200, 200, 0)


def test_offer_stock_never_goes_below_zero(org):
    shop = make_shop(org)
    offer = services.do_save_offer(
        shop.operator, shop.store, {"title": "紅烏龍茶包", "coin_price": "300", "stock": "1"}
    )
    a, b = funded_citizen(shop), funded_citizen(shop)
    voucher = pay.redeem_in_app(a, offer, "redeem-0001")
    assert pay.redeem_in_app(a, offer, "redeem-0001").pk == voucher.pk  # a double tap is one redemption
    with pytest.raises(Conflict):
        pay.charge_pay_code(shop.cashier, shop.store, issue_pay_code(b).token, 0, "attempt-4001", offer=offer)
    offer.refresh_from_db()
    assert offer.stock == 0 and ledger.available(ledger.wallet_of(b)) == 1000
    if connection.vendor in ("postgresql", "sqlite"):
        from django.db import IntegrityError, transaction

        with pytest.raises(IntegrityError), transaction.atomic():
            Offer.objects.filter(pk=offer.pk).update(stock=-1)
    # The counter hands the goods over once.
    used = pay.use_voucher(shop.cashier, shop.store, voucher.code.lower())
    assert used.used_at is not None
    with pytest.raises(Conflict):
        pay.use_voucher(shop.cashier, shop.store, voucher.code)


def test_a_citizen_scans_the_store_code_and_the_store_confirms(org):
    shop = make_shop(org)
    citizen = funded_citizen(shop, 300)
    req = pay.create_payment_request(citizen, pay.store_by_token(shop.store.pay_token), "120", "request-0001")
    assert ledger.available(ledger.wallet_of(citizen)) == 300  # nothing moves before the store confirms
    done = pay.confirm_request(shop.cashier, shop.store, req.pk)
    again = pay.confirm_request(shop.cashier, shop.store, req.pk)
    assert again.replayed and again.payment.pk == done.payment.pk
    assert ledger.available(ledger.wallet_of(citizen)) == 180


def test_the_store_app_charge_page_is_idempotent(client, org):
    shop = make_shop(org)
    citizen = funded_citizen(shop, 1000)
    assert (
        client.post("/store/login/", {"username": shop.cashier.username, "password": shop.cashier_password}).status_code
        == 302
    )
    token = issue_pay_code(citizen).token
    form = {"code": token, "amount": "80", "client_key": "cabcdef0123456789"}
    first = client.post("/store/charge/", form)
    second = client.post("/store/charge/", form)
    assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"]
    assert Payment.objects.count() == 1 and ledger.available(ledger.wallet_of(citizen)) == 920
    receipt = client.get(first["Location"]).content.decode()
    assert "收據" in receipt and "80" in receipt
    home = client.get("/store/").content.decode()
    assert "80 枚金幣" in home
    # A staff member without a store gets no store app.
    client.post("/store/logout/")
    client.post("/store/login/", {"username": "prevention.drafter", "password": PASSWORD_ORG})
    assert client.get("/store/").status_code == 403


PASSWORD_ORG = "demo-password-for-tests"


def test_payments_api_charges_once_for_a_repeated_client_key(client, org):
    shop = make_shop(org)
    citizen = funded_citizen(shop, 1000)
    client.force_login(shop.cashier)
    client.get("/store/")
    csrf = client.cookies.get("csrftoken")
    headers = {"HTTP_X_CSRFTOKEN": csrf.value} if csrf else {}
    body = {"pay_code": issue_pay_code(citizen).token, "amount": 70, "client_key": "api-attempt-0001"}
    first = client.post("/api/v1/stores/payments", body, content_type="application/json", **headers)
    again = client.post("/api/v1/stores/payments", body, content_type="application/json", **headers)
    assert first.status_code == 201, first.content
    assert again.status_code == 200 and again["Idempotency-Replayed"] == "true"
    assert first.json()["payment_id"] == again.json()["payment_id"]
    assert client.get("/api/v1/stores/today").json()["net_coins"] == 70
