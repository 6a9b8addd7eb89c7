"""Citizen parking pages: my plates (add, verify, remove), unpaid bills, pay with coins (PIN),
auto-deduct (terms, per-plate switch, credit), history. Views parse, call one service, render."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.citizen_web.forms import apply_domain_error
from civicpush.citizen_web.views import citizen_required
from civicpush.core.errors import DomainError, NotFound
from civicpush.wallet import services as wallet_services
from civicpush.wallet.selectors import ntd_text

from .. import payments, runs, selectors, services
from ..models import PaymentStatus, PlateStatus, VerificationMethod
from ..operators.base import OperatorError
from ..plates import VehicleKind


class PlateForm(forms.Form):
    vehicle_kind = forms.ChoiceField(
        label=_lazy("Vehicle"), choices=VehicleKind.choices, widget=forms.RadioSelect, initial=VehicleKind.CAR
    )
    plate = forms.CharField(
        label=_lazy("Plate number"),
        max_length=16,
        help_text=_lazy("Letters and digits with the hyphen, for example ABC-1234."),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off", "spellcheck": "false"}),
    )


class VerifyForm(forms.Form):
    method = forms.ChoiceField(
        label=_lazy("How do you want to verify?"),
        choices=[
            (VerificationMethod.BILL_CODE, _lazy("With the number on a parking slip of this vehicle (last 90 days)")),
            (VerificationMethod.OWNER_MOBILE, _lazy("With my mobile number, if it is the owner's on record")),
        ],
        widget=forms.RadioSelect,
        initial=VerificationMethod.BILL_CODE,
    )
    code = forms.CharField(
        label=_lazy("Bill number"),
        max_length=40,
        required=False,
        help_text=_lazy("Printed on the parking slip, for example TT261120000123."),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
    )


class PayForm(forms.Form):
    pin = forms.CharField(
        label=_lazy("Transaction PIN"),
        max_length=6,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    form_key = forms.CharField(widget=forms.HiddenInput)


class TermsForm(forms.Form):
    accept = forms.BooleanField(label=_lazy("I have read and accept the auto-deduct terms."), required=False)
    terms_version = forms.CharField(widget=forms.HiddenInput)


def _ctx(**extra: Any) -> dict[str, Any]:
    return {"active_nav": "wallet", **extra}


def _message_of(exc: DomainError) -> str:
    parts = [str(m) for msgs in exc.field_errors.values() for m in msgs]
    return " ".join(parts) if parts else str(exc.message)


@require_GET
@citizen_required
def overview(request: HttpRequest) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    bills = list(selectors.unpaid_bills(citizen))
    rows = [(b, selectors.live_payment(b)) for b in bills]
    balance = selectors.wallet_available(citizen)
    return render(
        request,
        "parking/citizen/home.html",
        _ctx(
            plates=list(selectors.plates_of(citizen)),
            rows=rows,
            balance=balance,
            balance_ntd=ntd_text(balance),
            enrolment=selectors.enrolment_of(citizen),
        ),
    )


@require_http_methods(["GET", "POST"])
@citizen_required
def plate_add(request: HttpRequest) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    form = PlateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                binding = services.do_add_plate(citizen, form.cleaned_data["plate"], form.cleaned_data["vehicle_kind"])
            except DomainError as exc:
                apply_domain_error(form, exc)
                status = exc.status
            else:
                return redirect("parking_web:plate_verify", binding.pk)
    return render(request, "parking/citizen/plate_add.html", _ctx(form=form), status=status)


@require_http_methods(["GET", "POST"])
@citizen_required
def plate_verify(request: HttpRequest, binding_id: int) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    try:
        binding = services.binding_of(citizen, binding_id)
    except NotFound:
        return redirect("parking_web:home")
    if binding.status == PlateStatus.VERIFIED:
        return redirect("parking_web:home")
    form = VerifyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.do_verify_plate(citizen, binding.pk, form.cleaned_data["method"], form.cleaned_data["code"])
            except DomainError as exc:
                apply_domain_error(form, exc)
                status = exc.status
            else:
                messages.success(request, _("Plate %(plate)s is now bound to you.") % {"plate": binding.plate})
                _fetch_quietly(request, binding)
                return redirect("parking_web:home")
    return render(
        request,
        "parking/citizen/plate_verify.html",
        _ctx(form=form, binding=binding, demo_bills=_demo_bill_numbers(binding)),
        status=status,
    )


def _demo_bill_numbers(binding: Any) -> list[str]:
    """In demo mode with the simulator: the slip numbers a demo user could read off the windscreen."""
    if not (settings.DEMO_MODE and getattr(settings, "PARKING_OPERATOR", "") == "simulator"):
        return []
    from ..models import SimBill

    rows = SimBill.objects.filter(plate=binding.plate, vehicle_kind=binding.vehicle_kind).order_by("-issued_at")
    return list(rows.values_list("bill_no", flat=True)[:3])


def _fetch_quietly(request: HttpRequest, binding: Any) -> None:
    try:
        runs.sync_plate(binding)
    except OperatorError as exc:
        messages.info(request, str(exc.message))


@require_POST
@citizen_required
def plate_remove(request: HttpRequest, binding_id: int) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    try:
        services.do_remove_plate(citizen, binding_id)
    except DomainError as exc:
        messages.error(request, _message_of(exc))
    else:
        messages.success(request, _("The plate was removed."))
    return redirect("parking_web:home")


@require_POST
@citizen_required
def plate_refresh(request: HttpRequest, binding_id: int) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    try:
        binding = services.binding_of(citizen, binding_id)
        if binding.status != PlateStatus.VERIFIED:
            raise NotFound()
        bills = runs.sync_plate(binding)
    except NotFound:
        return redirect("parking_web:home")
    except OperatorError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Bills checked: %(n)s unpaid.") % {"n": len(bills)})
    return redirect("parking_web:home")


def _bill_page(request: HttpRequest, bill_id: int, form: PayForm | None = None, status: int = 200) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    try:
        bill = payments.bill_for(citizen, bill_id)
    except NotFound:
        return redirect("parking_web:home")
    balance = selectors.wallet_available(citizen)
    form = form or PayForm(initial={"form_key": secrets.token_urlsafe(18)})
    return render(
        request,
        "parking/citizen/bill.html",
        _ctx(
            bill=bill,
            live=selectors.live_payment(bill),
            form=form,
            balance=balance,
            enough=balance >= bill.coins,
            has_pin=wallet_services.has_pin(citizen),
            ntd=ntd_text(bill.coins),
        ),
        status=status,
    )


@require_GET
@citizen_required
def bill_detail(request: HttpRequest, bill_id: int) -> HttpResponse:
    return _bill_page(request, bill_id)


@require_POST
@citizen_required
def bill_pay(request: HttpRequest, bill_id: int) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    form = PayForm(request.POST)
    if not form.is_valid():
        return _bill_page(request, bill_id, form, status=400)
    try:
        payment = payments.do_pay_bill(citizen, bill_id, form.cleaned_data["pin"], form.cleaned_data["form_key"])
    except NotFound:
        return redirect("parking_web:home")
    except DomainError as exc:
        apply_domain_error(form, exc)
        if not form.errors:
            form.add_error(None, _message_of(exc))
        data = request.POST.copy()
        data["form_key"] = secrets.token_urlsafe(18)  # a refused payment may be tried again
        form.data = data
        return _bill_page(request, bill_id, form, status=exc.status)
    if payment.status == PaymentStatus.CONFIRMED:
        messages.success(request, _("Paid. %(coins)s coins were used.") % {"coins": f"{payment.coins:,}"})
    elif payment.status == PaymentStatus.FAILED:
        messages.error(request, _("This payment was not completed. No coins were taken."))
    else:
        messages.info(
            request,
            _("The operator has not confirmed yet. Your coins are held until it does; you will get a notice."),
        )
    return redirect("parking_web:history")


@require_http_methods(["GET", "POST"])
@citizen_required
def auto_deduct(request: HttpRequest) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    terms_version = services.settings_for(citizen.county_id).terms_version
    form = TermsForm(initial={"terms_version": terms_version})
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "enrol":
                form = TermsForm(request.POST)
                form.is_valid()
                services.do_enrol_auto_deduct(
                    citizen,
                    accepted=bool(form.cleaned_data.get("accept")),
                    terms_version=form.cleaned_data.get("terms_version", ""),
                )
                messages.success(request, _("Auto-deduct is on."))
            elif action == "stop":
                services.do_stop_auto_deduct(citizen)
                messages.success(request, _("Auto-deduct is off."))
            elif action in ("plate_on", "plate_off"):
                services.do_set_plate_auto_deduct(
                    citizen, int(request.POST.get("binding", "0") or 0), action == "plate_on"
                )
                messages.success(request, _("Saved."))
            return redirect("parking_web:auto")
        except (ValueError, NotFound):
            return redirect("parking_web:auto")
        except DomainError as exc:
            apply_domain_error(form, exc)
            if not form.errors:
                form.add_error(None, _message_of(exc))
            status = exc.status
    return render(
        request,
        "parking/citizen/auto.html",
        _ctx(
            form=form,
            enrolment=selectors.enrolment_of(citizen),
            plates=list(selectors.plates_of(citizen).filter(status=PlateStatus.VERIFIED)),
            credit=selectors.credit_of(citizen),
            terms_version=terms_version,
        ),
        status=status,
    )


@require_GET
@citizen_required
def history(request: HttpRequest) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    return render(
        request,
        "parking/citizen/history.html",
        _ctx(payments=list(selectors.payments_of(citizen)[:100]), credit=selectors.credit_of(citizen)),
    )
