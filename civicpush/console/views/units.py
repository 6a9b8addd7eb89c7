"""Units: the visible tree, a unit's facts and staff, and staff management for account managers."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from civicpush.console.decorators import staff_required
from civicpush.console.forms import AddStaffForm
from civicpush.core.errors import DomainError, NotFound
from civicpush.core.forms import apply_domain_error
from civicpush.org import services
from civicpush.org.models import Unit
from civicpush.org.permissions import has_capability, require, visible_unit
from civicpush.org.roles import Capability
from civicpush.org.selectors import unit_staff, visible_units

from .common import render_console


@require_GET
@staff_required
def unit_list(request: HttpRequest) -> HttpResponse:
    units = list(visible_units(request.user))
    return render_console(request, "console/units.html", {"units": units}, section="units")


def _detail_context(request: HttpRequest, unit: Unit, **extra: Any) -> dict[str, Any]:
    user = request.user
    can_manage = has_capability(user, Capability.MANAGE_STAFF, unit)
    ctx: dict[str, Any] = {
        "unit": unit,
        "assignments": list(unit_staff(user, unit)),
        "can_manage_staff": can_manage,
        "can_manage_api_keys": has_capability(user, Capability.MANAGE_API_KEYS, unit),
        "form": AddStaffForm() if can_manage else None,
    }
    ctx.update(extra)
    return ctx


def _action_failed(request: HttpRequest, unit: Unit, exc: DomainError) -> HttpResponse:
    """Show the unit page again with the error's message, answering with the error's status."""
    if isinstance(exc, NotFound):
        raise exc
    ctx = _detail_context(request, unit, action_error=str(exc.message))
    return render_console(request, "console/unit_detail.html", ctx, section="units", status=exc.status)


@require_GET
@staff_required
def unit_detail(request: HttpRequest, unit_id: int) -> HttpResponse:
    unit = visible_unit(request.user, unit_id)
    return render_console(request, "console/unit_detail.html", _detail_context(request, unit), section="units")


@require_POST
@staff_required
def add_staff(request: HttpRequest, unit_id: int) -> HttpResponse:
    unit = visible_unit(request.user, unit_id)
    require(request.user, Capability.MANAGE_STAFF, unit)
    form = AddStaffForm(request.POST)
    if not form.is_valid():
        ctx = _detail_context(request, unit, form=form)
        return render_console(request, "console/unit_detail.html", ctx, section="units", status=400)
    try:
        user, first_password = services.do_add_staff(actor=request.user, unit=unit, **form.cleaned_data)  # type: ignore[arg-type]
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        apply_domain_error(form, exc)
        ctx = _detail_context(request, unit, form=form)
        return render_console(request, "console/unit_detail.html", ctx, section="units", status=exc.status)
    # The page that answers this POST is the only place the first password is ever shown.
    ctx = _detail_context(request, unit, added_user=user, first_password=first_password)
    return render_console(request, "console/unit_detail.html", ctx, section="units")


@require_POST
@staff_required
def remove_role(request: HttpRequest, unit_id: int, assignment_id: int) -> HttpResponse:
    unit = visible_unit(request.user, unit_id)
    require(request.user, Capability.MANAGE_STAFF, unit)
    assignment = unit_staff(request.user, unit).filter(pk=assignment_id).first()
    if assignment is None:
        raise NotFound()
    try:
        services.do_remove_role(actor=request.user, assignment_id=assignment.pk)  # type: ignore[arg-type]
    except DomainError as exc:
        return _action_failed(request, unit, exc)
    messages.success(
        request,
        _("%(name)s no longer holds the role %(role)s in this unit.")
        % {"name": assignment.user, "role": assignment.get_role_display()},
    )
    return HttpResponseRedirect(reverse("console:unit_detail", args=[unit.pk]))


@require_POST
@staff_required
def unlock_staff(request: HttpRequest, unit_id: int, user_id: int) -> HttpResponse:
    unit = visible_unit(request.user, unit_id)
    require(request.user, Capability.MANAGE_STAFF, unit)
    assignment = unit_staff(request.user, unit).filter(user_id=user_id).first()
    if assignment is None:
        raise NotFound()
    try:
        services.do_unlock_staff(actor=request.user, user=assignment.user, unit=unit)  # type: ignore[arg-type]
    except DomainError as exc:
        return _action_failed(request, unit, exc)
    messages.success(request, _("The account of %(name)s is unlocked.") % {"name": assignment.user})
    return HttpResponseRedirect(reverse("console:unit_detail", args=[unit.pk]))
