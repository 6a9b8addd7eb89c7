"""County settings for the platform operator (CONFIGURE_COUNTY): routine-promotion slots, approval
chains, and the sending policy (quiet hours, daily promotional cap). 403 for everyone else."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from civicpush.console.decorators import staff_required
from civicpush.console.push_forms import ChainForm, PolicyForm, SlotForm
from civicpush.core.errors import DomainError, NotFound, PermissionDenied
from civicpush.core.forms import apply_domain_error
from civicpush.org.models import Agency, County, RoleAssignment, Unit
from civicpush.org.roles import ROLE_CAPABILITIES, Capability, Role
from civicpush.pushes import selectors, services
from civicpush.pushes.chains import BUILTIN_CHAINS
from civicpush.pushes.models import ApprovalChain, ChainScope, CountySlot
from civicpush.pushes.scheduling import policy_for

from .common import render_console


def configured_county(user: Any) -> County:
    """The county where `user` holds CONFIGURE_COUNTY county-wide; PermissionDenied otherwise."""
    roles = [r for r, caps in ROLE_CAPABILITIES.items() if Capability.CONFIGURE_COUNTY in caps]
    assignment = (
        RoleAssignment.objects.filter(user_id=user.pk, unit__isnull=True, agency__isnull=True, role__in=roles)
        .select_related("county")
        .first()
    )
    if assignment is None:
        raise PermissionDenied(_("Only the county platform operator may change county settings."))
    return assignment.county


# --- slots ----------------------------------------------------------------------------------------


def _slots_page(request: HttpRequest, county: County, form: SlotForm, status: int = 200) -> HttpResponse:
    slots = (
        CountySlot.objects.filter(county=county)
        .select_related("opened_by", "approved_by")
        .annotate(booked=Count("bookings", filter=Q(bookings__released_at__isnull=True)))
        .order_by("-starts_at")[:200]
    )
    ctx = {"county": county, "form": form, "slots": slots}
    return render_console(request, "console/pushes/county_slots.html", ctx, section="county", status=status)


@require_http_methods(["GET", "POST"])
@staff_required
def county_slots(request: HttpRequest) -> HttpResponse:
    county = configured_county(request.user)
    if request.method == "GET":
        return _slots_page(request, county, SlotForm())
    form = SlotForm(request.POST)
    if not form.is_valid():
        return _slots_page(request, county, form, status=400)
    try:
        services.do_open_slot(request.user, county, **form.cleaned_data)
    except DomainError as exc:
        apply_domain_error(form, exc)
        return _slots_page(request, county, form, status=exc.status)
    messages.success(request, _("The slot is open; approve it to let units book it."))
    return HttpResponseRedirect(reverse("console:county_slots"))


@require_POST
@staff_required
def county_slot_action(request: HttpRequest, slot_id: int, action: str) -> HttpResponse:
    county = configured_county(request.user)
    slot = CountySlot.objects.filter(pk=slot_id, county=county).first()
    if slot is None or action not in ("approve", "close"):
        raise NotFound()
    try:
        if action == "approve":
            services.do_approve_slot(request.user, slot)
            messages.success(request, _("The slot is approved."))
        else:
            services.do_close_slot(request.user, slot)
            messages.success(request, _("The slot is closed."))
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, str(exc.message))
    return HttpResponseRedirect(reverse("console:county_slots"))


# --- chains ---------------------------------------------------------------------------------------


def _role_labels(roles: list[str]) -> list[str]:
    return [str(Role(r).label) if r in Role.values else r for r in roles]


def _chains_page(request: HttpRequest, county: County, form: ChainForm, status: int = 200) -> HttpResponse:
    chains = [
        {"chain": c, "roles": _role_labels(list(c.roles)), "scope": ChainScope(c.applies_to).label}
        for c in selectors.chains_of_county(county)
    ]
    builtin = [{"scope": ChainScope(k).label, "roles": _role_labels(v)} for k, v in BUILTIN_CHAINS.items()]
    ctx = {"county": county, "form": form, "chains": chains, "builtin": builtin}
    return render_console(request, "console/pushes/county_chains.html", ctx, section="county", status=status)


def _chain_form(county: County, data: Any = None) -> ChainForm:
    return ChainForm(
        data,
        agencies=list(Agency.objects.filter(county=county).order_by("name")),
        units=list(Unit.objects.filter(county=county).select_related("agency").order_by("agency_id", "path")),
    )


@require_http_methods(["GET", "POST"])
@staff_required
def county_chains(request: HttpRequest) -> HttpResponse:
    county = configured_county(request.user)
    if request.method == "GET":
        return _chains_page(request, county, _chain_form(county))
    form = _chain_form(county, request.POST)
    if not form.is_valid():
        return _chains_page(request, county, form, status=400)
    d = form.cleaned_data
    agency = Agency.objects.filter(pk=d["agency"], county=county).first() if d["level"] == "agency" else None
    unit = Unit.objects.filter(pk=d["unit"], county=county).first() if d["level"] == "unit" else None
    if (d["level"] == "agency" and agency is None) or (d["level"] == "unit" and unit is None):
        raise NotFound()
    try:
        services.do_set_chain(
            request.user, county, applies_to=d["applies_to"], roles=form.roles(), agency=agency, unit=unit
        )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        apply_domain_error(form, exc)
        return _chains_page(request, county, form, status=exc.status)
    messages.success(request, _("The approval chain is saved. Pushes submitted from now on follow it."))
    return HttpResponseRedirect(reverse("console:county_chains"))


@require_POST
@staff_required
def county_chain_delete(request: HttpRequest, chain_id: int) -> HttpResponse:
    county = configured_county(request.user)
    chain = ApprovalChain.objects.filter(pk=chain_id, county=county).first()
    if chain is None:
        raise NotFound()
    services.do_delete_chain(request.user, chain)
    messages.success(request, _("The chain is removed; pushes fall back to the next level's chain."))
    return HttpResponseRedirect(reverse("console:county_chains"))


# --- policy ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_required
def county_policy(request: HttpRequest) -> HttpResponse:
    county = configured_county(request.user)
    policy = policy_for(county)
    if request.method == "GET":
        form = PolicyForm(
            initial={
                "quiet_start": policy.quiet_start,
                "quiet_end": policy.quiet_end,
                "daily_promotion_cap": policy.daily_promotion_cap,
            }
        )
        status = 200
    else:
        form = PolicyForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                services.do_set_policy(request.user, county, **form.cleaned_data)
            except DomainError as exc:
                apply_domain_error(form, exc)
                status = exc.status
            else:
                messages.success(request, _("The sending policy is saved."))
                return HttpResponseRedirect(reverse("console:county_policy"))
    ctx = {"county": county, "form": form, "policy": policy}
    return render_console(request, "console/pushes/county_policy.html", ctx, section="county", status=status)
