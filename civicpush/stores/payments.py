"""Paying a store with coins: the store scans the citizen's pay code, or the citizen scans the store's
code and the store confirms; offers bought in the app or at the counter; refunds; receipts.

Atomic and idempotent (docs/adr/0010):
* the paying device sends a fresh `client_key` per payment attempt; (store, client_key) is unique, and
  the ledger key `stores:pay:<store>:<client_key>` is the second line of defence — a retry returns the
  first payment and never charges twice;
* the pay code is consumed (conditional UPDATE), the offer's stock taken (conditional UPDATE, CHECK ≥ 0),
  the Payment row written and the ledger transfer made in ONE transaction: a refused transfer (too few
  coins) leaves the code usable, the stock untouched and nothing recorded;
* two concurrent scans of one pay code: only one UPDATE consumes it; the other gets "already used".
"""

from __future__ import annotations

import datetime
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.citizens.models import Citizen
from civicpush.coins import ledger
from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from civicpush.org.models import StaffUser, Unit
from civicpush.wallet.services import consume_pay_code

from . import access
from .models import (
    Offer,
    Payment,
    PaymentChannel,
    PaymentRequest,
    RequestStatus,
    Store,
    StoreSettings,
    Voucher,
)

log = logging.getLogger(__name__)

KIND_PAYMENT = "store_payment"
MAX_PAYMENT_COINS = 1_000_000
REQUEST_TTL_SECONDS = 5 * 60


@dataclass(frozen=True)
class PaymentResult:
    payment: Payment
    replayed: bool


def valid_client_key(client_key: str) -> str:
    key = (client_key or "").strip()
    if not (8 <= len(key) <= 64) or not all(c.isalnum() or c in "-_" for c in key):
        raise ValidationFailed(_("This payment form has expired. Please open it again."), code="bad_client_key")
    return key


def valid_amount(amount: Any) -> int:
    try:
        coins = int(str(amount).strip())
    except (TypeError, ValueError):
        coins = 0
    if coins <= 0 or coins > MAX_PAYMENT_COINS:
        message = _("Enter a whole number of coins greater than zero.")
        raise ValidationFailed(message, code="invalid_amount", field_errors={"amount": [message]})
    return coins


def payable_account(store: Store) -> Any:
    return ledger.store_payable(store.county_id, ref=store.payable_ref)


def _replay(store: Store, key: str, amount: int, offer: Offer | None) -> PaymentResult | None:
    existing = Payment.objects.filter(store=store, client_key=key).select_related("citizen").first()
    if existing is None:
        return None
    if existing.amount != amount or existing.offer_id != (offer.pk if offer else None):
        raise Conflict(_("This payment attempt was already used for a different amount."), code="idempotency_conflict")
    return PaymentResult(existing, replayed=True)


def _take_stock(offer: Offer) -> None:
    taken = Offer.objects.filter(pk=offer.pk, is_active=True, stock__gt=0).update(stock=F("stock") - 1)
    if not taken:
        raise Conflict(_("This offer is sold out."), code="sold_out")


def _pay(
    *,
    store: Store,
    citizen: Citizen,
    amount: int,
    key: str,
    channel: str,
    staff: StaffUser | None,
    offer: Offer | None,
    now: datetime.datetime,
) -> Payment:
    """Inside the caller's transaction: the Payment row and its ledger transfer."""
    if citizen.county_id != store.county_id or not citizen.is_active:
        raise NotFound(_("This pay code is not valid. Ask the customer to show a new one."), code="bad_pay_code")
    # The ledger first (its key is the second idempotency gate), then our row, which names the
    # transfer. A concurrent first use of the same attempt fails on the unique (store, client_key)
    # and the caller's whole transaction rolls back.
    result = ledger.transfer(
        key=f"stores:pay:{store.pk}:{key}",
        debit=ledger.wallet_of(citizen),
        credit=payable_account(store),
        amount=amount,
        kind=KIND_PAYMENT,
        memo=store.name[:100],
        actor=staff,
        metadata={"store": store.pk, "channel": channel, "attempt": key},
    )
    payment = Payment.objects.create(
        county_id=store.county_id,
        store=store,
        citizen=citizen,
        amount=amount,
        channel=channel,
        client_key=key,
        offer=offer,
        staff=staff,
        created_at=now,
        ledger_transfer_id=result.transfer_id,
    )
    return payment


def charge_pay_code(
    staff: StaffUser,
    store: Store,
    token: str,
    amount: Any,
    client_key: str,
    *,
    offer: Offer | None = None,
    now: datetime.datetime | None = None,
) -> PaymentResult:
    """The store charges the citizen whose pay code it scanned (or typed in)."""
    access.require_store_staff(staff, store)
    key = valid_client_key(client_key)
    if offer is not None:
        if offer.store_id != store.pk:
            raise NotFound()
        amount = offer.coin_price
    coins = valid_amount(amount)
    # No look-up first: a retry of a successful attempt finds its code used up (NotFound) or its key
    # taken (IntegrityError) and is answered from the recorded payment below.
    now = now or timezone.now()
    channel = PaymentChannel.COUNTER_REDEMPTION if offer else PaymentChannel.STORE_SCAN
    try:
        with transaction.atomic():
            citizen = consume_pay_code(token, now=now)
            if offer is not None:
                _take_stock(offer)
            payment = _pay(
                store=store, citizen=citizen, amount=coins, key=key, channel=channel, staff=staff, offer=offer, now=now
            )
    except (IntegrityError, NotFound):
        # The same attempt may have just succeeded on another request (a double tap or a retry that
        # overtook the first answer): then it is a replay, not an error.
        replay = _replay(store, key, coins, offer)
        if replay is not None:
            return replay
        raise
    _after_commit_receipt(payment, store)
    return PaymentResult(payment, replayed=False)


# --- the citizen scans the store's code --------------------------------------------------------------


def store_by_token(token: str) -> Store:
    store = Store.objects.filter(pay_token=(token or "").strip()[:40], is_active=True).first()
    if store is None:
        raise NotFound(_("This store code is not valid."), code="bad_store_code")
    return store


def create_payment_request(
    citizen: Citizen, store: Store, amount: Any, client_key: str, *, now: datetime.datetime | None = None
) -> PaymentRequest:
    """The citizen asks to pay `amount` coins; nothing moves until the store confirms."""
    if citizen is None or not citizen.is_active or citizen.county_id != store.county_id or not store.is_active:
        raise NotFound()
    key = valid_client_key(client_key)
    coins = valid_amount(amount)
    existing = PaymentRequest.objects.filter(citizen=citizen, client_key=key).first()
    if existing is not None:
        return existing
    if ledger.available(ledger.wallet_of(citizen)) < coins:
        message = _("You do not have enough coins for this.")
        raise ValidationFailed(message, code="insufficient_funds", field_errors={"amount": [message]})
    now = now or timezone.now()
    try:
        with transaction.atomic():
            return PaymentRequest.objects.create(
                store=store,
                citizen=citizen,
                amount=coins,
                client_key=key,
                created_at=now,
                expires_at=now + datetime.timedelta(seconds=REQUEST_TTL_SECONDS),
            )
    except IntegrityError:
        return PaymentRequest.objects.get(citizen=citizen, client_key=key)


def pending_requests(store: Store, now: datetime.datetime | None = None) -> list[PaymentRequest]:
    now = now or timezone.now()
    return list(
        PaymentRequest.objects.filter(store=store, status=RequestStatus.PENDING, expires_at__gt=now).order_by(
            "created_at"
        )
    )


def confirm_request(
    staff: StaffUser, store: Store, request_id: int, *, now: datetime.datetime | None = None
) -> PaymentResult:
    """The store confirms a citizen's request: the coins move (idempotent on the request)."""
    access.require_store_staff(staff, store)
    now = now or timezone.now()
    key = f"request-{int(request_id)}"
    with transaction.atomic():
        req = (
            PaymentRequest.objects.select_for_update()
            .select_related("citizen")
            .filter(pk=request_id, store=store)
            .first()
        )
        if req is None:
            raise NotFound()
        if req.status == RequestStatus.CONFIRMED and req.payment_id:
            return PaymentResult(Payment.objects.get(pk=req.payment_id), replayed=True)
        if req.status != RequestStatus.PENDING or req.expires_at <= now:
            if req.status == RequestStatus.PENDING:
                req.status = RequestStatus.EXPIRED
                req.save(update_fields=["status"])
            raise Conflict(_("This request is no longer open. Ask the customer to scan again."), code="request_closed")
        payment = _pay(
            store=store,
            citizen=req.citizen,
            amount=req.amount,
            key=key,
            channel=PaymentChannel.CITIZEN_SCAN,
            staff=staff,
            offer=None,
            now=now,
        )
        req.status, req.payment, req.decided_at = RequestStatus.CONFIRMED, payment, now
        req.save(update_fields=["status", "payment", "decided_at"])
    _after_commit_receipt(payment, store)
    return PaymentResult(payment, replayed=False)


@transaction.atomic
def decline_request(staff: StaffUser, store: Store, request_id: int) -> PaymentRequest:
    access.require_store_staff(staff, store)
    req = PaymentRequest.objects.select_for_update().filter(pk=request_id, store=store).first()
    if req is None:
        raise NotFound()
    if req.status == RequestStatus.PENDING:
        req.status, req.decided_at = RequestStatus.DECLINED, timezone.now()
        req.save(update_fields=["status", "decided_at"])
    return req


# --- offers bought in the app (好禮兌換) ---------------------------------------------------------------


def _voucher_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


def redeem_in_app(citizen: Citizen, offer: Offer, client_key: str) -> Voucher:
    """The citizen buys an offer in the app: coins move now, a voucher code is shown at the counter."""
    store = offer.store
    if citizen is None or not citizen.is_active or citizen.county_id != store.county_id or not store.is_active:
        raise NotFound()
    key = "app-" + valid_client_key(client_key)[:59]
    existing = Payment.objects.filter(store=store, client_key=key, citizen=citizen).first()
    if existing is not None:
        return Voucher.objects.get(payment=existing)
    now = timezone.now()
    try:
        with transaction.atomic():
            _take_stock(offer)
            payment = _pay(
                store=store,
                citizen=citizen,
                amount=offer.coin_price,
                key=key,
                channel=PaymentChannel.APP_REDEMPTION,
                staff=None,
                offer=offer,
                now=now,
            )
            for _attempt in range(5):
                try:
                    with transaction.atomic():
                        voucher = Voucher.objects.create(
                            payment=payment, offer=offer, citizen=citizen, code=_voucher_code()
                        )
                    break
                except IntegrityError:
                    continue
            else:  # pragma: no cover - 32^8 codes
                raise Conflict(_("Please try again."))
    except IntegrityError:
        existing = Payment.objects.filter(store=store, client_key=key, citizen=citizen).first()
        if existing is None:
            raise
        return Voucher.objects.get(payment=existing)
    _after_commit_receipt(payment, store)
    return voucher


@transaction.atomic
def use_voucher(staff: StaffUser, store: Store, code: str) -> Voucher:
    """The counter marks a voucher handed over (once)."""
    access.require_store_staff(staff, store)
    code = (code or "").strip().upper().replace("-", "").replace(" ", "")
    voucher = (
        Voucher.objects.select_for_update()
        .select_related("offer", "payment")
        .filter(code=code, offer__store=store)
        .first()
    )
    if voucher is None or voucher.payment.is_refunded:
        raise NotFound(_("No voucher of this store has this code."), code="bad_voucher")
    if voucher.used_at is not None:
        raise Conflict(_("This voucher was already used."), code="voucher_used")
    voucher.used_at, voucher.used_by = timezone.now(), staff
    voucher.save(update_fields=["used_at", "used_by"])
    log_action("stores.voucher.used", actor=staff, obj=store, data={"voucher": voucher.pk})
    return voucher


# --- refunds -----------------------------------------------------------------------------------------


def refund(staff: StaffUser, store: Store, payment_id: int, reason: str) -> Payment:
    """A reversing transfer of the whole payment (once); the offer's stock is given back."""
    access.require_store_staff(staff, store)
    reason = (reason or "").strip()[:200]
    if not reason:
        message = _("Enter a reason for the refund.")
        raise ValidationFailed(message, field_errors={"reason": [message]})
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(pk=payment_id, store=store).first()
        if payment is None or payment.ledger_transfer_id is None:
            raise NotFound()
        if payment.is_refunded:
            return payment
        if hasattr(payment, "voucher") and payment.voucher.used_at is not None:
            raise Conflict(_("The voucher was already used; it cannot be refunded."), code="voucher_used")
        result = ledger.reverse(
            key=f"stores:refund:{payment.pk}", transfer_id=payment.ledger_transfer_id, reason=reason, actor=staff
        )
        payment.refund_transfer_id, payment.refunded_at = result.transfer_id, timezone.now()
        payment.refunded_by, payment.refund_reason = staff, reason
        payment.save(update_fields=["refund_transfer_id", "refunded_at", "refunded_by", "refund_reason"])
        if payment.offer_id:
            Offer.objects.filter(pk=payment.offer_id).update(stock=F("stock") + 1)
        log_action(
            "stores.payment.refunded",
            actor=staff,
            obj=store,
            data={"payment": payment.pk, "coins": payment.amount, "reason": reason},
        )
    _after_commit_receipt(payment, store, refund=True)
    return payment


# --- receipts and totals -----------------------------------------------------------------------------


def receipt_unit(county_id: int) -> Unit | None:
    """The unit that signs receipts: the county's StoreSettings, else its first active unit."""
    configured = StoreSettings.objects.filter(county_id=county_id).select_related("receipt_unit").first()
    if configured is not None and configured.receipt_unit is not None:
        return configured.receipt_unit
    return Unit.objects.filter(county_id=county_id, is_active=True).order_by("path").first()


def send_receipt(payment: Payment, store: Store, *, refund: bool = False) -> None:
    """The citizen's receipt as a system notice (idempotent on the reference). Title and body hold only
    what the citizen may see on a lock screen: the store's name and the coins."""
    from civicpush.delivery.notices import send_system_notice

    unit = receipt_unit(store.county_id)
    if unit is None:
        return
    citizen = payment.citizen
    if refund:
        title = _("Coins refunded")
        body = _("%(store)s refunded %(coins)s coins to your wallet.") % {
            "store": store.name,
            "coins": f"{payment.amount:,}",
        }
        reference = f"payment-refund:{payment.pk}"
    else:
        title = _("Payment receipt")
        body = _("You paid %(coins)s coins at %(store)s.") % {"store": store.name, "coins": f"{payment.amount:,}"}
        reference = f"payment:{payment.pk}"
    send_system_notice(
        citizen, unit=unit, kind="payment_receipt", reference=reference, title=title, body=body, link="/wallet/"
    )


def _after_commit_receipt(payment: Payment, store: Store, *, refund: bool = False) -> None:
    """Queue the receipt once the payment has committed (a worker sends it; with no broker it runs
    in-process). A failure never undoes the payment; the notice's reference makes a re-send safe."""
    from .tasks import send_payment_receipt

    def send() -> None:
        try:
            send_payment_receipt.delay(payment.pk, refund)
        except Exception:
            log.exception("payment receipt %s could not be queued", payment.pk)

    transaction.on_commit(send)


@dataclass(frozen=True)
class DayTotal:
    day: datetime.date
    payments: int
    coins: int
    refunds: int
    refunded_coins: int

    @property
    def net_coins(self) -> int:
        return self.coins - self.refunded_coins


def day_total(store: Store, day: datetime.date | None = None) -> DayTotal:
    day = day or timezone.localdate()
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)
    end = start + datetime.timedelta(days=1)
    paid = Payment.objects.filter(
        store=store, created_at__gte=start, created_at__lt=end, ledger_transfer_id__isnull=False
    ).aggregate(n=Count("pk"), coins=Sum("amount"))
    back = Payment.objects.filter(store=store, refunded_at__gte=start, refunded_at__lt=end).aggregate(
        n=Count("pk"), coins=Sum("amount")
    )
    return DayTotal(day, paid["n"] or 0, int(paid["coins"] or 0), back["n"] or 0, int(back["coins"] or 0))


def require_citizen_owns(citizen: Citizen, request: PaymentRequest) -> None:
    if request.citizen_id != citizen.pk:
        raise PermissionDenied()
