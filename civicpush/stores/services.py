"""Store onboarding, store staff accounts and offers (county operator). Every change is audited;
the bank account never appears in an audit entry (only its masked form)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.citizens.models import Township
from civicpush.core.audit import log_action
from civicpush.core.errors import NotFound, ValidationFailed
from civicpush.org.models import StaffUser
from civicpush.pushes.images import process_image

from . import access
from .identifiers import clean_bank_account, encrypt_bank_account, normalise_ubn
from .models import Offer, Store, StoreCategory, StoreKind, StoreRole, StoreStaff

STORE_FIELDS = (
    "name",
    "kind",
    "category",
    "address",
    "phone",
    "contact_name",
    "contact_email",
    "opening_hours",
    "description",
)


def _snapshot(store: Store) -> dict[str, Any]:
    return {
        **{f: getattr(store, f) for f in STORE_FIELDS},
        "ubn": store.ubn,
        "township": store.township_id,
        "bank_account": store.bank_account_masked,
        "is_active": store.is_active,
        "has_photo": bool(store.photo_content_type),
    }


def _clean(data: dict[str, Any], county_id: int) -> tuple[dict[str, Any], Township]:
    errors: dict[str, list[object]] = {}
    cleaned: dict[str, Any] = {}
    for field in STORE_FIELDS:
        cleaned[field] = str(data.get(field) or "").strip()
    limits = {"name": 100, "address": 200, "phone": 32, "contact_name": 100, "opening_hours": 200, "description": 1000}
    for field, limit in limits.items():
        if len(cleaned[field]) > limit:
            errors[field] = [_("At most %(limit)s characters.") % {"limit": limit}]
    for field in ("name", "address"):
        if not cleaned[field]:
            errors[field] = [_("This field is required.")]
    if cleaned["kind"] not in StoreKind.values:
        errors["kind"] = [_("Choose a type.")]
    if cleaned["category"] not in StoreCategory.values:
        errors["category"] = [_("Choose a category.")]
    if cleaned["contact_email"] and ("@" not in cleaned["contact_email"] or len(cleaned["contact_email"]) > 254):
        errors["contact_email"] = [_("Enter a valid e-mail address.")]
    township = Township.objects.filter(pk=_int(data.get("township")), county_id=county_id).first()
    if township is None:
        errors["township"] = [_("Choose a township.")]
    try:
        cleaned["ubn"] = normalise_ubn(str(data.get("ubn") or ""))
    except ValidationFailed as exc:
        errors.update(exc.field_errors)
    if errors:
        raise ValidationFailed(field_errors=errors)
    assert township is not None
    return cleaned, township


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _bank(data: dict[str, Any], *, required: bool) -> tuple[str, str] | None:
    raw = [str(data.get(k) or "") for k in ("bank_code", "branch_code", "account_number", "account_holder")]
    if not any(v.strip() for v in raw):
        if required:
            message = _("Enter the payout bank account.")
            raise ValidationFailed(message, field_errors={"account_number": [message]})
        return None
    account = clean_bank_account(*raw)
    return encrypt_bank_account(account), account.masked


@transaction.atomic
def do_create_store(actor: StaffUser, county_id: int, data: dict[str, Any], photo: IO[bytes] | None = None) -> Store:
    access.require_operator(actor, county_id)
    cleaned, township = _clean(data, county_id)
    bank = _bank(data, required=True)
    assert bank is not None
    store = Store(county_id=county_id, township=township, pay_token=secrets.token_urlsafe(18), **cleaned)
    store.bank_account_encrypted, store.bank_account_masked = bank
    if photo is not None:
        _set_photo(store, photo)
    try:
        with transaction.atomic():
            store.save()
    except IntegrityError as exc:
        message = _("A store with this 統一編號 is already registered.")
        raise ValidationFailed(message, field_errors={"ubn": [message]}) from exc
    log_action("stores.store.created", actor=actor, obj=store, after=_snapshot(store))
    return store


@transaction.atomic
def do_update_store(actor: StaffUser, store: Store, data: dict[str, Any], photo: IO[bytes] | None = None) -> Store:
    access.require_operator(actor, store.county_id)
    store = Store.objects.select_for_update().get(pk=store.pk)
    before = _snapshot(store)
    cleaned, township = _clean(data, store.county_id)
    for field, value in cleaned.items():
        setattr(store, field, value)
    store.township = township
    store.is_active = bool(data.get("is_active", store.is_active))
    bank = _bank(data, required=False)
    if bank is not None:
        store.bank_account_encrypted, store.bank_account_masked = bank
    if photo is not None:
        _set_photo(store, photo)
    try:
        with transaction.atomic():
            store.save()
    except IntegrityError as exc:
        message = _("A store with this 統一編號 is already registered.")
        raise ValidationFailed(message, field_errors={"ubn": [message]}) from exc
    log_action("stores.store.updated", actor=actor, obj=store, before=before, after=_snapshot(store))
    return store


def _set_photo(store: Store, photo: IO[bytes]) -> None:
    """Checked by its content (Pillow verify, JPEG/PNG/WebP, ≤ 5 MB), re-encoded without metadata."""
    try:
        processed = process_image(photo)
    except ValidationFailed as exc:
        raise ValidationFailed(field_errors={"photo": exc.field_errors.get("image", [exc.message])}) from exc
    store.photo = processed.thumbnail if len(processed.content) > 400_000 else processed.content
    store.photo_content_type = processed.content_type


# --- store staff -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewStoreStaff:
    membership: StoreStaff
    password: str  # shown once to the operator


@transaction.atomic
def do_add_store_staff(actor: StaffUser, store: Store, username: str, display_name: str, role: str) -> NewStoreStaff:
    """A new sign-in for the store app. The first password is generated and shown once."""
    access.require_operator(actor, store.county_id)
    username = (username or "").strip().lower()
    errors: dict[str, list[object]] = {}
    if not (3 <= len(username) <= 150) or not all(c.isalnum() or c in "._-" for c in username):
        errors["username"] = [_("Use 3 to 150 letters, digits, dots, dashes or underscores.")]
    elif StaffUser.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("This user name is taken.")]
    if role not in StoreRole.values:
        errors["role"] = [_("Choose a role.")]
    if errors:
        raise ValidationFailed(field_errors=errors)
    password = secrets.token_urlsafe(12)
    user = StaffUser(username=username, display_name=(display_name or "").strip()[:100], county_id=store.county_id)
    user.set_password(password)
    user.save()
    membership = StoreStaff.objects.create(user=user, store=store, role=role, created_by=actor)
    log_action(
        "stores.staff.added",
        actor=actor,
        obj=store,
        data={"user": user.pk, "username": username, "role": role},
    )
    return NewStoreStaff(membership, password)


@transaction.atomic
def do_remove_store_staff(actor: StaffUser, store: Store, membership_id: int) -> None:
    access.require_operator(actor, store.county_id)
    membership = StoreStaff.objects.select_related("user").filter(pk=membership_id, store=store).first()
    if membership is None:
        raise NotFound()
    membership.is_active = False
    membership.save(update_fields=["is_active"])
    StaffUser.objects.filter(pk=membership.user_id).update(is_active=False)
    log_action(
        "stores.staff.removed",
        actor=actor,
        obj=store,
        data={"user": membership.user_id, "username": membership.user.username},
    )


@transaction.atomic
def do_unlock_store_staff(actor: StaffUser, store: Store, membership_id: int) -> None:
    access.require_operator(actor, store.county_id)
    membership = StoreStaff.objects.filter(pk=membership_id, store=store).first()
    if membership is None:
        raise NotFound()
    StaffUser.objects.filter(pk=membership.user_id).update(failed_login_count=0, locked_until=None)
    log_action("stores.staff.unlocked", actor=actor, obj=store, data={"user": membership.user_id})


# --- offers ------------------------------------------------------------------------------------------


def _offer_fields(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[object]] = {}
    title = str(data.get("title") or "").strip()
    description = str(data.get("description") or "").strip()
    if not title or len(title) > 50:
        errors["title"] = [_("Enter a title of at most 50 characters.")]
    if len(description) > 1000:
        errors["description"] = [_("At most %(limit)s characters.") % {"limit": 1000}]
    price, stock = _int(data.get("coin_price")), _int(data.get("stock"))
    if not (0 < price <= 1_000_000) or str(data.get("coin_price")).strip() != str(price):
        errors["coin_price"] = [_("Enter a whole number of coins greater than zero.")]
    if not (0 <= stock <= 1_000_000) or str(data.get("stock")).strip() != str(stock):
        errors["stock"] = [_("Enter a whole number of 0 or more.")]
    if errors:
        raise ValidationFailed(field_errors=errors)
    return {"title": title, "description": description, "coin_price": price, "stock": stock}


@transaction.atomic
def do_save_offer(actor: StaffUser, store: Store, data: dict[str, Any], offer: Offer | None = None) -> Offer:
    access.require_operator(actor, store.county_id)
    fields = _offer_fields(data)
    fields["is_active"] = bool(data.get("is_active", True))
    if offer is None:
        offer = Offer.objects.create(store=store, **fields)
        log_action("stores.offer.created", actor=actor, obj=store, data={"offer": offer.pk, **fields})
        return offer
    offer = Offer.objects.select_for_update().get(pk=offer.pk, store=store)
    before = {k: getattr(offer, k) for k in fields}
    for k, v in fields.items():
        setattr(offer, k, v)
    offer.save()
    log_action("stores.offer.updated", actor=actor, obj=store, before=before, after=fields, data={"offer": offer.pk})
    return offer


@transaction.atomic
def do_regenerate_store_code(actor: StaffUser, store: Store) -> Store:
    access.require_operator(actor, store.county_id)
    store.pay_token = secrets.token_urlsafe(18)
    store.save(update_fields=["pay_token", "updated_at"])
    log_action("stores.store.code_regenerated", actor=actor, obj=store, data={"at": timezone.now()})
    return store
