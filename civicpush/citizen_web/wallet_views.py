"""Citizen wallet (錢包): balance and what expires when, history, gifts with a PIN (轉贈), the pay QR
code for stores, red envelopes and referral codes. Views parse, call one wallet service, render."""

from __future__ import annotations

import secrets
from typing import Any

import segno
from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.core.errors import DomainError, NotFound, RateLimited
from civicpush.wallet import earning, selectors, services
from civicpush.wallet.models import RedEnvelope, Referral

from .forms import apply_domain_error
from .views import citizen_required


class PinForm(forms.Form):
    current_pin = forms.CharField(
        label=_lazy("Current PIN"),
        max_length=6,
        required=False,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "current-password"}),
    )
    new_pin = forms.CharField(
        label=_lazy("New 6-digit PIN"),
        max_length=6,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "new-password"}),
    )
    confirm_pin = forms.CharField(
        label=_lazy("New PIN again"),
        max_length=6,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "new-password"}),
    )


class TransferForm(forms.Form):
    phone = forms.CharField(
        label=_lazy("Mobile number of the receiver"),
        max_length=32,
        help_text=_lazy("For example 0912-345-678. The receiver must be a CivicPush member."),
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
    )
    amount = forms.CharField(label=_lazy("Coins"), max_length=9, widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    pin = forms.CharField(
        label=_lazy("Transaction PIN"),
        max_length=6,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    form_key = forms.CharField(widget=forms.HiddenInput)


class ReferralForm(forms.Form):
    code = forms.CharField(label=_lazy("A friend's referral code"), max_length=16)


def _ctx(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {"active_nav": "wallet", **extra}


@require_GET
@citizen_required
def wallet_home(request: HttpRequest) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    balance = selectors.wallet_balance(citizen)
    can_refer = not Referral.objects.filter(referred=citizen).exists()
    return render(
        request,
        "citizen_web/wallet/home.html",
        _ctx(
            request,
            balance=balance,
            balance_ntd=selectors.ntd_text(balance),
            periods=selectors.balance_by_period(citizen),
            notices=list(selectors.active_notices(citizen)),
            history=selectors.wallet_history(citizen),
            envelopes=earning.open_envelopes_for(citizen),
            referral_code=earning.referral_code_for(citizen),
            referral_form=ReferralForm() if can_refer else None,
            has_pin=services.has_pin(citizen),
        ),
    )


@require_http_methods(["GET", "POST"])
@citizen_required
def wallet_pin(request: HttpRequest) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    has_pin = services.has_pin(citizen)
    form = PinForm(request.POST or None)
    if not has_pin:
        del form.fields["current_pin"]
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.do_set_pin(
                    citizen,
                    form.cleaned_data["new_pin"],
                    form.cleaned_data["confirm_pin"],
                    form.cleaned_data.get("current_pin") or "",
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
                status = exc.status
            else:
                messages.success(request, _("Your transaction PIN was saved."))
                return redirect("citizen_web:wallet")
    return render(request, "citizen_web/wallet/pin.html", _ctx(request, form=form, has_pin=has_pin), status=status)


@require_http_methods(["GET", "POST"])
@citizen_required
def wallet_transfer(request: HttpRequest) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    if not services.has_pin(citizen):
        messages.info(request, _("Set a transaction PIN before giving coins."))
        return redirect("citizen_web:wallet_pin")
    form = TransferForm(request.POST or None, initial={"form_key": secrets.token_urlsafe(18)})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                result = services.do_transfer(
                    citizen,
                    form.cleaned_data["phone"],
                    form.cleaned_data["amount"],
                    form.cleaned_data["pin"],
                    form.cleaned_data["form_key"],
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
                status = exc.status
                response = render(
                    request,
                    "citizen_web/wallet/transfer.html",
                    _ctx(request, form=form, balance=selectors.wallet_balance(citizen)),
                    status=status,
                )
                if isinstance(exc, RateLimited):
                    response["Retry-After"] = str(exc.retry_after)
                return response
            messages.success(
                request,
                _("You gave %(amount)s coins.") % {"amount": f"{result.transfer.amount:,}"},
            )
            return redirect("citizen_web:wallet")
    return render(
        request,
        "citizen_web/wallet/transfer.html",
        _ctx(request, form=form, balance=selectors.wallet_balance(citizen)),
        status=status,
    )


def _qr_svg(token: str) -> str:
    # Dark modules on white with a quiet zone; `svg_inline` gives markup without the XML declaration.
    return segno.make(token, error="m").svg_inline(scale=6, border=4, dark="#000", light="#fff")


def _pay_context(request: HttpRequest) -> dict[str, Any]:
    code = services.issue_pay_code(request.citizen)  # type: ignore[attr-defined]
    return _ctx(
        request,
        qr=mark_safe(_qr_svg(code.token)),  # noqa: S308 - segno's own SVG of our random token
        expires_at=code.expires_at,
        ttl=services.PAY_CODE_TTL_SECONDS,
        balance=selectors.wallet_balance(request.citizen),  # type: ignore[attr-defined]
    )


@require_GET
@citizen_required
def wallet_pay(request: HttpRequest) -> HttpResponse:
    return render(request, "citizen_web/wallet/pay.html", _pay_context(request))


@require_GET
@citizen_required
def wallet_pay_code(request: HttpRequest) -> HttpResponse:
    """The QR fragment the pay page fetches every PAY_CODE_TTL_SECONDS − 10 s."""
    return render(request, "citizen_web/wallet/_pay_code.html", _pay_context(request))


@require_POST
@citizen_required
def wallet_claim_envelope(request: HttpRequest, envelope_id: int) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    envelope = RedEnvelope.objects.filter(pk=envelope_id, county_id=citizen.county_id).first()
    if envelope is None:
        raise Http404()
    try:
        claim = earning.do_claim_red_envelope(citizen, envelope)
    except NotFound:
        messages.error(request, _("This red envelope is not for you."))
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("You opened a red envelope: %(amount)s coins!") % {"amount": f"{claim.amount:,}"})
    return redirect("citizen_web:wallet")


@require_POST
@citizen_required
def wallet_referral(request: HttpRequest) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    form = ReferralForm(request.POST)
    if form.is_valid():
        try:
            earning.do_apply_referral(citizen, form.cleaned_data["code"])
        except DomainError as exc:
            parts = [str(m) for msgs in exc.field_errors.values() for m in msgs]
            messages.error(request, " ".join(parts) or str(exc.message))
        else:
            messages.success(request, _("Thank you! The referral reward goes to you and your friend."))
    else:
        messages.error(request, _("Enter the referral code."))
    return redirect("citizen_web:wallet")
