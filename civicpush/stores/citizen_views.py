"""Citizen pages for stores: the list and offers map (優惠地圖) filtered by township and category, a
store's page with its offers (好禮兌換, bought in the app for a voucher), my vouchers, and paying a store
by scanning its QR code (the store confirms). Included into citizen_web's URLs."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.citizen_web.views import citizen_required
from civicpush.citizens.models import Township
from civicpush.coins import ledger
from civicpush.core.errors import DomainError

from . import map as store_map
from . import payments as pay
from .models import Offer, PaymentRequest, Store, StoreCategory, Voucher


def _county_id(request: HttpRequest) -> int:
    citizen = getattr(request, "citizen", None)
    if citizen:  # a lazy object: falsy when nobody is signed in
        return int(citizen.county_id)
    from django.conf import settings

    from civicpush.org.models import County

    county_id = County.objects.filter(code=settings.COUNTY_CODE).values_list("pk", flat=True).first()
    if county_id is None:
        raise Http404()
    return int(county_id)


def _ctx(**extra: Any) -> dict[str, Any]:
    return {"active_nav": "wallet", **extra}


@require_GET
def store_list(request: HttpRequest) -> HttpResponse:
    county_id = _county_id(request)
    townships = list(Township.objects.filter(county_id=county_id))
    found = Store.objects.filter(county_id=county_id, is_active=True).select_related("township")
    township = request.GET.get("township") or ""
    category = request.GET.get("category") or ""
    if township.isdigit():
        found = found.filter(township_id=int(township))
    if category in StoreCategory.values:
        found = found.filter(category=category)
    stores = list(found)
    per_township: dict[str, int] = {}
    markers = []
    for store in stores:
        code = store.township.code
        i = per_township.get(code, 0)
        per_township[code] = i + 1
        x, y = store_map.marker_position(code, i)
        markers.append({"store": store, "x": x, "y": y})
    labels = [
        {"t": t, "x": store_map.township_position(t.code)[0], "y": store_map.township_position(t.code)[1]}
        for t in townships
    ]
    return render(
        request,
        "stores/citizen/list.html",
        _ctx(
            stores=stores,
            markers=markers,
            labels=labels,
            townships=townships,
            categories=StoreCategory.choices,
            township=township,
            category=category,
            view=request.GET.get("view") or "list",
        ),
    )


def _store(request: HttpRequest, store_id: int) -> Store:
    store = (
        Store.objects.select_related("township")
        .filter(pk=store_id, is_active=True, county_id=_county_id(request))
        .first()
    )
    if store is None:
        raise Http404()
    return store


@require_GET
def store_detail(request: HttpRequest, store_id: int) -> HttpResponse:
    store = _store(request, store_id)
    offers = list(Offer.objects.filter(store=store, is_active=True))
    return render(
        request,
        "stores/citizen/detail.html",
        _ctx(
            store=store,
            offers=offers,
            map_url=store_map.map_link(store.address, store.name),
            form_key=secrets.token_hex(12),
        ),
    )


@require_GET
def store_photo(request: HttpRequest, store_id: int) -> HttpResponse:
    store = _store(request, store_id)
    if not store.photo:
        raise Http404()
    response = HttpResponse(bytes(store.photo), content_type=store.photo_content_type)
    response["Cache-Control"] = "public, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@citizen_required
def redeem(request: HttpRequest, offer_id: int) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    offer = (
        Offer.objects.select_related("store")
        .filter(pk=offer_id, is_active=True, store__county_id=citizen.county_id)
        .first()
    )
    if offer is None:
        raise Http404()
    try:
        voucher = pay.redeem_in_app(citizen, offer, request.POST.get("form_key", ""))
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return HttpResponseRedirect(reverse("citizen_web:store_detail", args=[offer.store_id]))
    messages.success(request, _("Redeemed. Show the voucher code at the store."))
    return HttpResponseRedirect(reverse("citizen_web:vouchers") + f"#voucher-{voucher.pk}")


@require_GET
@citizen_required
def vouchers(request: HttpRequest) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    rows = (
        Voucher.objects.filter(citizen=citizen).select_related("offer", "offer__store", "payment").order_by("-pk")[:50]
    )
    return render(request, "stores/citizen/vouchers.html", _ctx(rows=rows))


@require_http_methods(["GET", "POST"])
@citizen_required
def pay_store(request: HttpRequest, token: str) -> HttpResponse:
    """Opened by scanning the store's QR code: enter the coins; the store confirms."""
    citizen = request.citizen  # type: ignore[attr-defined]
    try:
        store = pay.store_by_token(token)
    except DomainError as exc:
        raise Http404() from exc
    if store.county_id != citizen.county_id:
        raise Http404()
    errors: list[str] = []
    amount = ""
    form_key = secrets.token_hex(12)
    if request.method == "POST":
        amount = request.POST.get("amount", "")
        form_key = request.POST.get("form_key", "")
        try:
            req = pay.create_payment_request(citizen, store, amount, form_key)
        except DomainError as exc:
            errors = [str(m) for msgs in exc.field_errors.values() for m in msgs] or [str(exc.message)]
        else:
            return HttpResponseRedirect(reverse("citizen_web:store_pay_status", args=[req.pk]))
    return render(
        request,
        "stores/citizen/pay.html",
        _ctx(
            store=store,
            errors=errors,
            amount=amount,
            form_key=form_key,
            balance=ledger.available(ledger.wallet_of(citizen)),
        ),
        status=400 if errors else 200,
    )


@require_GET
@citizen_required
def pay_status(request: HttpRequest, request_id: int) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    req = PaymentRequest.objects.select_related("store").filter(pk=request_id, citizen=citizen).first()
    if req is None:
        raise Http404()
    return render(request, "stores/citizen/pay_status.html", _ctx(req=req))
