"""Store app (phone-first): staff sign-in (same lock-out as the console), the day's total, charging a
citizen's pay code (camera or typed), citizens' requests to confirm, vouchers, refunds, the store's
own QR code and its monthly statements. Only staff of an active store get past `store_required`."""

from __future__ import annotations

import datetime
import functools
import secrets
from collections.abc import Callable
from typing import Any

import segno
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.citizens.phone import mask_mobile
from civicpush.console.decorators import staff_required_for
from civicpush.console.staff_auth import sign_in_page, sign_out
from civicpush.core.errors import DomainError, NotFound
from civicpush.stores import access, exports, settlement
from civicpush.stores import payments as pay
from civicpush.stores.models import Offer, Payment, Statement, StatementStatus

store_staff_required = staff_required_for("store_web:login", "store_web/error.html")


def store_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponseBase]:
    """Signed-in staff of an active store; others see a page saying the account has no store."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = access.staff_membership(request.user)
        if membership is None:
            return render(request, "store_web/no_store.html", status=403)
        request.store = membership.store  # type: ignore[attr-defined]
        request.store_membership = membership  # type: ignore[attr-defined]
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    return store_staff_required(wrapped)


def _errors(exc: DomainError) -> list[str]:
    parts = [str(m) for msgs in exc.field_errors.values() for m in msgs]
    return parts or [str(exc.message)]


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    return sign_in_page(request, surface="store", home_url=reverse("store_web:home"), template="store_web/login.html")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    sign_out(request, surface="store")
    return HttpResponseRedirect(reverse("store_web:login"))


@require_GET
@store_required
def home(request: HttpRequest) -> HttpResponse:
    store = request.store  # type: ignore[attr-defined]
    return render(
        request,
        "store_web/home.html",
        {
            "store": store,
            "today": pay.day_total(store),
            "pending": len(pay.pending_requests(store)),
            "open_statements": Statement.objects.filter(store=store, status=StatementStatus.ISSUED).count(),
        },
    )


def _new_key() -> str:
    return "s" + secrets.token_hex(12)


@require_http_methods(["GET", "POST"])
@store_required
def charge(request: HttpRequest) -> HttpResponse:
    """Scan (BarcodeDetector) or type the citizen's pay code, enter the coins, charge. The hidden
    `client_key` is made per attempt (by the page's script, or here): resubmitting the same attempt
    never charges twice."""
    store = request.store  # type: ignore[attr-defined]
    offers = list(Offer.objects.filter(store=store, is_active=True, stock__gt=0))
    errors: list[str] = []
    values = {"code": "", "amount": "", "offer": "", "client_key": _new_key()}
    status = 200
    if request.method == "POST":
        values = {k: str(request.POST.get(k) or "").strip() for k in values}
        offer = None
        if values["offer"]:
            offer = Offer.objects.filter(
                pk=int(values["offer"]) if values["offer"].isdigit() else 0, store=store
            ).first()
            if offer is None:
                raise Http404()
        try:
            result = pay.charge_pay_code(
                request.user,  # type: ignore[arg-type]
                store,
                values["code"],
                values["amount"],
                values["client_key"],
                offer=offer,
            )
        except NotFound as exc:
            errors, status = _errors(exc), 400
        except DomainError as exc:
            errors, status = _errors(exc), exc.status
        else:
            if result.replayed:
                messages.info(request, _("This payment had already been made; it was not charged again."))
            else:
                messages.success(request, _("Paid: %(coins)s coins.") % {"coins": f"{result.payment.amount:,}"})
            return HttpResponseRedirect(reverse("store_web:payment", args=[result.payment.pk]))
    return render(
        request,
        "store_web/charge.html",
        {"store": store, "offers": offers, "values": values, "errors": errors},
        status=status,
    )


def _payment_for(request: HttpRequest, payment_id: int) -> Payment:
    payment = (
        Payment.objects.select_related("citizen", "offer").filter(pk=payment_id, store=request.store).first()  # type: ignore[attr-defined]
    )
    if payment is None:
        raise Http404()
    return payment


@require_GET
@store_required
def payment_detail(request: HttpRequest, payment_id: int) -> HttpResponse:
    payment = _payment_for(request, payment_id)
    return render(
        request,
        "store_web/payment.html",
        {
            "payment": payment,
            "customer": mask_mobile(payment.citizen.phone_e164 or ""),
            "today": pay.day_total(request.store),  # type: ignore[attr-defined]
        },
    )


@require_POST
@store_required
def payment_refund(request: HttpRequest, payment_id: int) -> HttpResponse:
    payment = _payment_for(request, payment_id)
    try:
        pay.refund(request.user, request.store, payment.pk, request.POST.get("reason", ""))  # type: ignore[arg-type, attr-defined]
    except DomainError as exc:
        for e in _errors(exc):
            messages.error(request, e)
    else:
        messages.success(request, _("Refunded %(coins)s coins.") % {"coins": f"{payment.amount:,}"})
    return HttpResponseRedirect(reverse("store_web:payment", args=[payment.pk]))


@require_GET
@store_required
def payments(request: HttpRequest) -> HttpResponse:
    store = request.store  # type: ignore[attr-defined]
    today = timezone.localdate()
    start = datetime.datetime.combine(today, datetime.time.min, tzinfo=timezone.get_current_timezone())
    rows = list(
        Payment.objects.filter(store=store, created_at__gte=start).select_related("offer").order_by("-created_at")[:200]
    )
    return render(request, "store_web/payments.html", {"rows": rows, "today": pay.day_total(store)})


@require_GET
@store_required
def requests_page(request: HttpRequest) -> HttpResponse:
    return render(request, "store_web/requests.html", {"pending": pay.pending_requests(request.store)})  # type: ignore[attr-defined]


@require_GET
@store_required
def requests_fragment(request: HttpRequest) -> HttpResponse:
    return render(request, "store_web/_requests.html", {"pending": pay.pending_requests(request.store)})  # type: ignore[attr-defined]


@require_POST
@store_required
def request_decide(request: HttpRequest, request_id: int, decision: str) -> HttpResponse:
    store = request.store  # type: ignore[attr-defined]
    try:
        if decision == "confirm":
            result = pay.confirm_request(request.user, store, request_id)  # type: ignore[arg-type]
            messages.success(request, _("Paid: %(coins)s coins.") % {"coins": f"{result.payment.amount:,}"})
            return HttpResponseRedirect(reverse("store_web:payment", args=[result.payment.pk]))
        if decision == "decline":
            pay.decline_request(request.user, store, request_id)  # type: ignore[arg-type]
            messages.info(request, _("The request was declined."))
        else:
            raise Http404()
    except DomainError as exc:
        for e in _errors(exc):
            messages.error(request, e)
    return HttpResponseRedirect(reverse("store_web:requests"))


@require_http_methods(["GET", "POST"])
@store_required
def voucher(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    used = None
    if request.method == "POST":
        try:
            used = pay.use_voucher(request.user, request.store, request.POST.get("code", ""))  # type: ignore[arg-type, attr-defined]
        except DomainError as exc:
            errors = _errors(exc)
    return render(request, "store_web/voucher.html", {"errors": errors, "used": used}, status=400 if errors else 200)


@require_GET
@store_required
def store_code(request: HttpRequest) -> HttpResponse:
    store = request.store  # type: ignore[attr-defined]
    url = request.build_absolute_uri(reverse("citizen_web:store_pay", args=[store.pay_token]))
    qr = segno.make(url, error="m").svg_inline(scale=6, dark="#000", light="#fff", omitsize=True)
    return render(request, "store_web/code.html", {"store": store, "qr": mark_safe(qr), "url": url})  # noqa: S308 - segno's own SVG


@require_GET
@store_required
def statements(request: HttpRequest) -> HttpResponse:
    rows = Statement.objects.filter(store=request.store).exclude(status=StatementStatus.DRAFT)  # type: ignore[attr-defined]
    return render(request, "store_web/statements.html", {"rows": rows})


def _statement_for(request: HttpRequest, statement_id: int) -> Statement:
    statement = (
        Statement.objects.select_related("store")
        .filter(pk=statement_id, store=request.store)  # type: ignore[attr-defined]
        .exclude(status=StatementStatus.DRAFT)
        .first()
    )
    if statement is None:
        raise Http404()
    return statement


@require_http_methods(["GET", "POST"])
@store_required
def statement_detail(request: HttpRequest, statement_id: int) -> HttpResponse:
    statement = _statement_for(request, statement_id)
    errors: list[str] = []
    if request.method == "POST":
        try:
            if request.POST.get("action") == "confirm":
                settlement.confirm(request.user, statement.pk)  # type: ignore[arg-type]
                messages.success(request, _("Thank you: the statement is confirmed."))
            elif request.POST.get("action") == "dispute":
                settlement.dispute(request.user, statement.pk, request.POST.get("reason", ""))  # type: ignore[arg-type]
                messages.info(request, _("Your objection was sent to the county."))
            else:
                raise Http404()
        except DomainError as exc:
            errors = _errors(exc)
        else:
            return HttpResponseRedirect(reverse("store_web:statement", args=[statement.pk]))
    return render(
        request,
        "store_web/statement.html",
        {"statement": statement, "due_ntd": settlement.ntd(statement.due_coins), "errors": errors},
        status=400 if errors else 200,
    )


@require_GET
@store_required
def statement_download(request: HttpRequest, statement_id: int, fmt: str) -> HttpResponse:
    statement = _statement_for(request, statement_id)
    name = f"statement-{statement.store.ubn}-{statement.period_label}"
    if fmt == "pdf":
        response = HttpResponse(exports.statement_pdf(statement), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    elif fmt == "xlsx":
        response = HttpResponse(
            exports.statement_xlsx(statement),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    else:
        raise Http404()
    return response
