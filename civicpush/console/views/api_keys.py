"""A unit's API keys: list, create (the raw key is shown once), revoke."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from civicpush.console.decorators import staff_required
from civicpush.console.forms import ApiKeyForm
from civicpush.core.errors import DomainError, NotFound
from civicpush.core.forms import apply_domain_error
from civicpush.org import services
from civicpush.org.models import Unit
from civicpush.org.permissions import visible_unit
from civicpush.org.selectors import unit_api_keys

from .common import render_console


def _context(request: HttpRequest, unit: Unit, **extra: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {"unit": unit, "keys": list(unit_api_keys(request.user, unit)), "form": ApiKeyForm()}
    ctx.update(extra)
    return ctx


@require_http_methods(["GET", "POST"])
@staff_required
def api_keys(request: HttpRequest, unit_id: int) -> HttpResponse:
    unit = visible_unit(request.user, unit_id)  # 404 for units the user cannot see
    unit_api_keys(request.user, unit)  # 403 without MANAGE_API_KEYS, before anything else happens
    if request.method != "POST":
        return render_console(request, "console/api_keys.html", _context(request, unit), section="units")
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return render_console(
            request, "console/api_keys.html", _context(request, unit, form=form), section="units", status=400
        )
    try:
        key, raw = services.do_create_api_key(actor=request.user, unit=unit, **form.cleaned_data)  # type: ignore[arg-type]
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        apply_domain_error(form, exc)
        ctx = _context(request, unit, form=form)
        return render_console(request, "console/api_keys.html", ctx, section="units", status=exc.status)
    # The answer to this POST is the only time the raw key exists outside the caller's hands.
    ctx = _context(request, unit, new_key=key, raw_key=raw)
    return render_console(request, "console/api_keys.html", ctx, section="units")


@require_http_methods(["GET", "POST"])
@staff_required
def revoke_api_key(request: HttpRequest, unit_id: int, key_id: int) -> HttpResponse:
    unit = visible_unit(request.user, unit_id)
    key = unit_api_keys(request.user, unit).filter(pk=key_id).first()
    if key is None:
        raise NotFound()
    if request.method != "POST":
        return render_console(request, "console/api_key_revoke.html", {"unit": unit, "key": key}, section="units")
    services.do_revoke_api_key(actor=request.user, key_id=key.pk)  # type: ignore[arg-type]
    messages.success(request, _("The API key %(name)s is revoked.") % {"name": key.name})
    return HttpResponseRedirect(reverse("console:api_keys", args=[unit.pk]))
