"""Citizen wallet writes: the transfer PIN, gifts to another citizen (轉贈), pay codes for stores, and
the 30-day expiry notices. Coins only move through civicpush.coins.ledger.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from civicpush.citizens.models import Citizen, CitizenStatus
from civicpush.citizens.phone import normalise_mobile
from civicpush.citizens.selectors import active_citizen_by_mobile
from civicpush.coins import ledger
from civicpush.core.errors import Conflict, NotFound, PermissionDenied, RateLimited, ValidationFailed

from .models import PayCode, PeerTransfer, TransactionPin, WalletNotice
from .selectors import KIND_PEER

# Settings-like constants (seed 001 leaves them to the county; these are conservative defaults).
PIN_LENGTH = 6
PIN_MAX_WRONG = 5
PIN_LOCK_SECONDS = 15 * 60
TRANSFER_MAX_PER_DAY = 5
TRANSFER_MAX_COINS_PER_DAY = 5_000
PAY_CODE_TTL_SECONDS = 60
EXPIRY_NOTICE_DAYS = 30


def _active(citizen: Citizen | None) -> Citizen:
    if citizen is None or not citizen.is_active:
        raise PermissionDenied()
    return citizen


# --- transaction PIN ------------------------------------------------------------------------------


def _valid_pin(pin: str, field: str = "pin") -> str:
    pin = (pin or "").strip()
    if not (len(pin) == PIN_LENGTH and pin.isdigit()):
        message = _("Enter a 6-digit PIN.")
        raise ValidationFailed(message, field_errors={field: [message]})
    return pin


def has_pin(citizen: Citizen) -> bool:
    return TransactionPin.objects.filter(citizen=citizen).exists()


def do_set_pin(citizen: Citizen, new_pin: str, confirm_pin: str, current_pin: str | None = None) -> None:
    """Set the transfer PIN; changing an existing PIN needs the current one (counts as an attempt)."""
    _active(citizen)
    pin = _valid_pin(new_pin, "new_pin")
    if pin in {"123456", "000000", "111111", "654321"} or len(set(pin)) == 1:
        message = _("This PIN is too easy to guess. Choose another.")
        raise ValidationFailed(message, field_errors={"new_pin": [message]})
    if (confirm_pin or "").strip() != pin:
        message = _("The two PINs are not the same.")
        raise ValidationFailed(message, field_errors={"confirm_pin": [message]})
    if has_pin(citizen):
        _check_pin_outside(citizen, current_pin or "", field="current_pin")  # commits its own count
    TransactionPin.objects.update_or_create(
        citizen=citizen, defaults={"pin_hash": make_password(pin), "wrong_count": 0, "locked_until": None}
    )


def _locked_error(until: datetime.datetime, now: datetime.datetime) -> RateLimited:
    return RateLimited(
        _("Too many wrong PINs. Transfers are locked until %(time)s.")
        % {"time": formats.time_format(timezone.localtime(until), "H:i")},
        retry_after=max(1, int((until - now).total_seconds())),
        code="pin_locked",
    )


def _check_pin_outside(citizen: Citizen, pin: str, *, field: str = "pin") -> None:
    """Check the PIN in its own committed transaction, so that a wrong PIN's count (and the lock at
    PIN_MAX_WRONG) survives the error that rolls back the caller (as citizens.do_verify_code does)."""
    error: Exception | None = None
    now = timezone.now()
    with transaction.atomic():
        row = TransactionPin.objects.select_for_update().filter(citizen=citizen).first()
        if row is None:
            message = _("Set a transfer PIN first.")
            error = ValidationFailed(message, code="no_pin", field_errors={field: [message]})
        elif row.locked_until and row.locked_until > now:
            error = _locked_error(row.locked_until, now)
        elif not check_password((pin or "").strip(), row.pin_hash):
            row.wrong_count += 1
            if row.wrong_count >= PIN_MAX_WRONG:
                row.wrong_count = 0
                row.locked_until = now + datetime.timedelta(seconds=PIN_LOCK_SECONDS)
                error = _locked_error(row.locked_until, now)
            else:
                left = PIN_MAX_WRONG - row.wrong_count
                message = _("The PIN is not correct. %(left)s attempts left.") % {"left": left}
                error = ValidationFailed(message, code="wrong_pin", field_errors={field: [message]})
            row.save(update_fields=["wrong_count", "locked_until", "updated_at"])
        elif row.wrong_count or row.locked_until:
            row.wrong_count = 0
            row.locked_until = None
            row.save(update_fields=["wrong_count", "locked_until", "updated_at"])
    if error is not None:
        raise error


def check_pin(citizen: Citizen, pin: str) -> None:
    """Raise unless `pin` is the citizen's PIN; PIN_MAX_WRONG wrong PINs lock for PIN_LOCK_SECONDS."""
    _check_pin_outside(_active(citizen), pin)


# --- gifts between citizens -----------------------------------------------------------------------


@dataclass(frozen=True)
class GiftResult:
    transfer: PeerTransfer
    replayed: bool


def _day_bounds(now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    local = timezone.localtime(now)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + datetime.timedelta(days=1)


def _valid_key(client_key: str) -> str:
    key = (client_key or "").strip()
    if not (8 <= len(key) <= 64) or not all(c.isalnum() or c in "-_" for c in key):
        raise ValidationFailed(_("This form has expired. Please open it again."), code="bad_form_key")
    return key


def do_transfer(citizen: Citizen, phone_raw: str, amount: int | str, pin: str, client_key: str) -> GiftResult:
    """Give coins to another citizen by mobile number, confirmed with the PIN.

    Idempotent by (sender, client_key): the same form submitted twice transfers once. Limits:
    TRANSFER_MAX_PER_DAY transfers and TRANSFER_MAX_COINS_PER_DAY coins a day (Taiwan time).
    The PIN is checked first in its own transaction so that wrong PINs count even though the
    transfer itself is refused.
    """
    sender = _active(citizen)
    key = _valid_key(client_key)
    existing = PeerTransfer.objects.filter(sender=sender, client_key=key).first()
    if existing is not None:
        return GiftResult(existing, replayed=True)

    errors: dict[str, list[object]] = {}
    try:
        coins = int(str(amount).strip())
    except (TypeError, ValueError):
        coins = 0
    if coins <= 0:
        errors["amount"] = [_("Enter a whole number of coins greater than zero.")]
    recipient: Citizen | None = None
    try:
        phone = normalise_mobile(phone_raw)
    except ValidationFailed as exc:
        errors["phone"] = list(exc.field_errors.get("phone", [exc.message]))
    else:
        recipient = active_citizen_by_mobile(phone, county_id=sender.county_id)
        if recipient is None:
            errors["phone"] = [_("No CivicPush member has this mobile number.")]
        elif recipient.pk == sender.pk:
            errors["phone"] = [_("You cannot give coins to yourself.")]
    if errors:
        raise ValidationFailed(field_errors=errors)
    assert recipient is not None

    check_pin(sender, pin)

    now = timezone.now()
    with transaction.atomic():
        # One sender at a time: the daily limits are counted under this lock.
        Citizen.objects.select_for_update().get(pk=sender.pk)
        existing = PeerTransfer.objects.filter(sender=sender, client_key=key).first()
        if existing is not None:
            return GiftResult(existing, replayed=True)
        start, end = _day_bounds(now)
        today = PeerTransfer.objects.filter(sender=sender, created_at__gte=start, created_at__lt=end)
        if today.count() >= TRANSFER_MAX_PER_DAY:
            raise ValidationFailed(
                _("You can make at most %(count)s transfers a day. Please try again tomorrow.")
                % {"count": TRANSFER_MAX_PER_DAY},
                code="daily_count_limit",
            )
        sent = int(today.aggregate(total=Sum("amount"))["total"] or 0)
        if sent + coins > TRANSFER_MAX_COINS_PER_DAY:
            message = _("You can give at most %(limit)s coins a day; %(left)s are left for today.") % {
                "limit": f"{TRANSFER_MAX_COINS_PER_DAY:,}",
                "left": f"{max(0, TRANSFER_MAX_COINS_PER_DAY - sent):,}",
            }
            raise ValidationFailed(message, code="daily_coin_limit", field_errors={"amount": [message]})
        try:
            with transaction.atomic():
                gift = PeerTransfer.objects.create(
                    sender=sender, recipient=recipient, amount=coins, client_key=key, created_at=now
                )
        except IntegrityError as exc:  # a concurrent double-tap won
            raise Conflict(_("This transfer was already sent."), code="duplicate_transfer") from exc
        result = ledger.transfer(
            key=f"wallet:peer:{sender.pk}:{key}",
            debit=ledger.wallet_of(sender),
            credit=ledger.wallet_of(recipient),
            amount=coins,
            kind=KIND_PEER,
            memo="gift",
            metadata={"peer_transfer": gift.pk},
        )
        gift.ledger_transfer_id = result.transfer_id
        gift.save(update_fields=["ledger_transfer_id"])
    return GiftResult(gift, replayed=False)


# --- pay codes for stores -------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedPayCode:
    token: str
    expires_at: datetime.datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(f"{settings.LOOKUP_HMAC_KEY}:paycode:{token}".encode()).hexdigest()


@transaction.atomic
def issue_pay_code(citizen: Citizen, *, now: datetime.datetime | None = None) -> IssuedPayCode:
    """A fresh pay code (random, valid PAY_CODE_TTL_SECONDS, single use); earlier unused codes stop working."""
    _active(citizen)
    now = now or timezone.now()
    PayCode.objects.filter(citizen=citizen, consumed_at__isnull=True, expires_at__gt=now).update(expires_at=now)
    PayCode.objects.filter(citizen=citizen, expires_at__lt=now - datetime.timedelta(days=1)).delete()
    token = "CP" + secrets.token_urlsafe(24)
    expires_at = now + datetime.timedelta(seconds=PAY_CODE_TTL_SECONDS)
    PayCode.objects.create(citizen=citizen, token_hash=_token_hash(token), created_at=now, expires_at=expires_at)
    return IssuedPayCode(token=token, expires_at=expires_at)


def consume_pay_code(token: str, *, now: datetime.datetime | None = None) -> Citizen:
    """The citizen a scanned pay code belongs to; the code is used up (single use, even concurrently).

    Raises NotFound for an unknown, used or expired code (the store asks the citizen for a new one).
    """
    now = now or timezone.now()
    token = (token or "").strip()
    if not token or len(token) > 100:
        raise NotFound(_("This pay code is not valid. Ask the customer to show a new one."), code="bad_pay_code")
    with transaction.atomic():
        # A conditional UPDATE: of two concurrent scans only one changes the row.
        won = PayCode.objects.filter(
            token_hash=_token_hash(token), consumed_at__isnull=True, expires_at__gt=now
        ).update(consumed_at=now)
        if not won:
            raise NotFound(
                _("This pay code has expired or was already used. Ask the customer to show a new one."),
                code="bad_pay_code",
            )
        code = PayCode.objects.select_related("citizen").get(token_hash=_token_hash(token))
        citizen = code.citizen
    if not citizen.is_active:
        raise NotFound(_("This pay code is not valid. Ask the customer to show a new one."), code="bad_pay_code")
    return citizen


# --- expiry notices -------------------------------------------------------------------------------


def notify_upcoming_expiry(today: datetime.date | None = None) -> int:
    """Tell each citizen, EXPIRY_NOTICE_DAYS ahead, how many coins will expire: one in-app wallet
    notice per citizen and period, kept up to date with the amount. Returns the notices written.

    (A push notice would need a unit's sign-off chain, see pushes.api `POST /notices`; an automatic
    system notice is shown on the wallet page instead.)
    """
    from civicpush.coins.models import AccountKind, Balance

    today = today or timezone.localdate()
    tz = timezone.get_current_timezone()
    now = datetime.datetime.combine(today, datetime.time.min, tzinfo=tz)
    horizon = now + datetime.timedelta(days=EXPIRY_NOTICE_DAYS)
    rows = (
        Balance.objects.filter(
            account__kind=AccountKind.WALLET,
            account__citizen__status=CitizenStatus.ACTIVE,
            expires_at__gt=now,
            expires_at__lte=horizon,
            balance__gt=0,
        )
        .values("account__citizen_id", "period_id", "expires_at")
        .annotate(coins=Sum("balance"))
        .order_by("account__citizen_id", "expires_at")
    )
    written = 0
    created_at = timezone.now()
    for row in rows.iterator():
        if row["coins"] <= 0:
            continue
        WalletNotice.objects.update_or_create(
            key=f"expiry:{row['account__citizen_id']}:{row['period_id']}",
            defaults={
                "citizen_id": row["account__citizen_id"],
                "amount": int(row["coins"]),
                "expires_at": row["expires_at"],
                "created_at": created_at,
            },
        )
        written += 1
    return written
