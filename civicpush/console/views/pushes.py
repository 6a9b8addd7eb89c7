"""Pushes in the console: the list, composing (with autosave, live audience estimate, images) and
the detail page. Every write goes through civicpush.pushes.services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.audiences.selectors import estimate_audience, groups_usable_by
from civicpush.citizens.models import Citizen, CitizenStatus
from civicpush.console.decorators import staff_required
from civicpush.console.push_forms import ComposeForm, ImageForm, PushFilterForm, initial_from_push
from civicpush.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from civicpush.org.models import Unit, UnitKind
from civicpush.org.permissions import has_county_capability, require, units_with, visible_unit
from civicpush.org.roles import Capability
from civicpush.org.selectors import visible_units
from civicpush.pushes import selectors, services
from civicpush.pushes.models import EDITABLE_STATUSES, Push, PushImage, PushStatus, TargetKind
from civicpush.pushes.scheduling import TAIPEI

from .common import render_console
from .push_detail import detail_context, progress_context

# --- list -----------------------------------------------------------------------------------------


@require_GET
@staff_required
def push_list(request: HttpRequest) -> HttpResponse:
    units = list(visible_units(request.user))
    form = PushFilterForm(request.GET or None, units=units)
    qs = selectors.pushes_visible_to(request.user).order_by("-updated_at", "-id")
    if form.is_valid():
        d = form.cleaned_data
        if d.get("status"):
            qs = qs.filter(status=d["status"])
        if d.get("push_type"):
            qs = qs.filter(push_type=d["push_type"])
        if d.get("unit"):
            qs = qs.filter(unit_id=d["unit"])
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    draft_units = list(units_with(request.user, Capability.DRAFT_PUSH).order_by("path"))
    return render_console(
        request,
        "console/pushes/list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "draft_units": draft_units,
            "can_configure_county": has_county_capability(request.user, Capability.CONFIGURE_COUNTY),
        },
        section="pushes",
    )


# --- composing ------------------------------------------------------------------------------------


def _group_choices(unit: Unit) -> list[tuple[int, str]]:
    out = []
    for g in groups_usable_by(unit).select_related("unit").order_by("unit_id", "name"):
        label = _("%(name)s (%(count)s people)") % {"name": g.name, "count": g.member_count}
        if g.unit_id != unit.pk:
            label = _("%(label)s · shared by %(unit)s") % {"label": label, "unit": g.unit.name}
        out.append((g.pk, label))
    return out


def _compose_form(unit: Unit, data: Any = None, initial: dict[str, Any] | None = None) -> ComposeForm:
    return ComposeForm(
        data,
        initial=initial,
        group_choices=_group_choices(unit),
        offer_everyone=unit.kind == UnitKind.BUSINESS,
    )


def audience_estimate(unit: Unit, target_kind: str, group_ids: list[int], has_person: bool = False) -> int:
    """How many citizens the target reaches now (before sending; dispatch freezes the real number)."""
    if target_kind == TargetKind.EVERYONE:
        return Citizen.objects.filter(county_id=unit.county_id, status=CitizenStatus.ACTIVE).count()
    if target_kind == TargetKind.PERSON:
        return 1 if has_person else 0
    usable = list(groups_usable_by(unit).filter(pk__in=group_ids).values_list("pk", flat=True))
    return estimate_audience(usable)


def _draft_unit(request: HttpRequest) -> Unit | None:
    """The unit a new push is for: ?unit=ID, or the only unit where the user may draft."""
    raw = request.GET.get("unit") or request.POST.get("unit")
    if raw:
        try:
            unit = visible_unit(request.user, int(raw))
        except ValueError as exc:
            raise NotFound() from exc
        require(request.user, Capability.DRAFT_PUSH, unit)
        return unit
    units = list(units_with(request.user, Capability.DRAFT_PUSH)[:2])
    if not units:
        raise PermissionDenied(_("You may not draft pushes in any unit."))
    return units[0] if len(units) == 1 else None


def _compose_context(
    request: HttpRequest, unit: Unit, form: ComposeForm, push: Push | None, **extra: Any
) -> dict[str, Any]:
    kind = form["target_kind"].value() or TargetKind.GROUPS
    raw_groups = form["target_group_ids"].value() or []
    try:
        group_ids = [int(g) for g in raw_groups]
    except (TypeError, ValueError):
        group_ids = []
    has_person = bool(push and push.target_citizen_id)
    ctx: dict[str, Any] = {
        "unit": unit,
        "form": form,
        "push": push,
        "images": list(push.images.all()) if push else [],
        "image_form": ImageForm(),
        "estimate": audience_estimate(unit, kind, group_ids, has_person),
        "has_person": has_person,
        "autosave": push is None or push.status in (PushStatus.DRAFT, PushStatus.RETURNED),
        "restarts_signoff": push is not None
        and push.status in (PushStatus.SUBMITTED, PushStatus.APPROVED, PushStatus.SCHEDULED),
        "can_submit": push is not None and push.status in (PushStatus.DRAFT, PushStatus.RETURNED),
        "is_business": unit.kind == UnitKind.BUSINESS,
    }
    ctx.update(extra)
    return ctx


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _error_dict(form: ComposeForm) -> dict[str, list[str]]:
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


def _save(request: HttpRequest, unit: Unit, push: Push | None, form: ComposeForm) -> Push:
    """Parse, then call the one service: create the draft or update it. Raises ValidationFailed."""
    if not form.is_valid():
        raise ValidationFailed()
    fields = form.service_fields(has_person=bool(push and push.target_citizen_id))
    if push is None:
        return services.do_create_draft(request.user, unit, **fields)
    return services.do_update_draft(request.user, push, **fields)


def _urls(push: Push) -> dict[str, str]:
    return {
        "edit_url": reverse("console:push_edit", args=[push.pk]),
        "autosave_url": reverse("console:push_autosave", args=[push.pk]),
        "images_url": reverse("console:push_add_image", args=[push.pk]),
        "submit_url": reverse("console:push_submit", args=[push.pk]),
        "detail_url": reverse("console:push_detail", args=[push.pk]),
    }


def _compose(request: HttpRequest, unit: Unit, push: Push | None) -> HttpResponse:
    if request.method == "GET":
        form = _compose_form(unit, initial=initial_from_push(push) if push else {"target_kind": TargetKind.GROUPS})
        return render_console(
            request, "console/pushes/compose.html", _compose_context(request, unit, form, push), section="pushes"
        )
    form = _compose_form(unit, request.POST)
    was = push.status if push else None
    try:
        saved = _save(request, unit, push, form)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        form.add_service_errors(exc.field_errors)
        if not exc.field_errors and not form.errors:
            form.add_error(None, str(exc.message))
        ctx = _compose_context(request, unit, form, push)
        return render_console(request, "console/pushes/compose.html", ctx, section="pushes", status=exc.status)
    if was and was != PushStatus.DRAFT and saved.status == PushStatus.DRAFT and saved.revision != push.revision:  # type: ignore[union-attr]
        messages.warning(request, _("The push is a draft again: the sign-off starts over once you submit it."))
    else:
        messages.success(request, _("The draft is saved."))
    return HttpResponseRedirect(reverse("console:push_edit", args=[saved.pk]))


@require_http_methods(["GET", "POST"])
@staff_required
def push_new(request: HttpRequest) -> HttpResponse:
    unit = _draft_unit(request)
    if unit is None:
        units = list(units_with(request.user, Capability.DRAFT_PUSH).select_related("agency").order_by("path"))
        return render_console(request, "console/pushes/choose_unit.html", {"units": units}, section="pushes")
    return _compose(request, unit, None)


def _editable_push(request: HttpRequest, push_id: int) -> Push:
    push = selectors.get_push(request.user, push_id)
    require(request.user, Capability.DRAFT_PUSH, push.unit)
    return push


@require_http_methods(["GET", "POST"])
@staff_required
def push_edit(request: HttpRequest, push_id: int) -> HttpResponse:
    push = _editable_push(request, push_id)
    if push.status not in EDITABLE_STATUSES:
        messages.error(request, _("This push can no longer be edited."))
        return HttpResponseRedirect(reverse("console:push_detail", args=[push.pk]))
    return _compose(request, push.unit, push)


def _autosave(request: HttpRequest, unit: Unit, push: Push | None) -> JsonResponse:
    form = _compose_form(unit, request.POST)
    before = (push.status, push.revision) if push else None
    try:
        saved = _save(request, unit, push, form)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        form.add_service_errors(exc.field_errors)
        errors = _error_dict(form)
        message = str(exc.message) if not errors or not isinstance(exc, ValidationFailed) else ""
        return JsonResponse(
            {"ok": False, "errors": errors, "message": message or _("Not saved: correct the marked fields.")},
            status=exc.status,
        )
    now = timezone.localtime(timezone.now(), TAIPEI)
    return JsonResponse(
        {
            "ok": True,
            "created": push is None,
            "push_id": saved.pk,
            "status": saved.status,
            "status_label": saved.get_status_display(),
            "revision": saved.revision,
            "changed": before != (saved.status, saved.revision),
            "saved_at": now.strftime("%H:%M"),
            "message": _("Saved %(time)s") % {"time": now.strftime("%H:%M")},
            **_urls(saved),
        }
    )


@require_POST
@staff_required
def push_new_autosave(request: HttpRequest) -> JsonResponse:
    unit = _draft_unit(request)
    if unit is None:
        raise NotFound()
    return _autosave(request, unit, None)


@require_POST
@staff_required
def push_autosave(request: HttpRequest, push_id: int) -> JsonResponse:
    push = _editable_push(request, push_id)
    return _autosave(request, push.unit, push)


@require_GET
@staff_required
def push_estimate(request: HttpRequest) -> JsonResponse:
    """The live audience size of the compose form's target (JSON)."""
    unit = _draft_unit(request)
    if unit is None:
        raise NotFound()
    try:
        group_ids = [int(g) for g in request.GET.getlist("target_group_ids")]
    except ValueError:
        group_ids = []
    kind = request.GET.get("target_kind") or TargetKind.GROUPS
    count = audience_estimate(unit, kind, group_ids, has_person=bool(request.GET.get("has_person")))
    return JsonResponse({"count": count, "text": _("About %(n)s citizens") % {"n": count}})


# --- images ---------------------------------------------------------------------------------------


@require_POST
@staff_required
def push_add_image(request: HttpRequest, push_id: int) -> HttpResponse:
    push = _editable_push(request, push_id)
    form = ImageForm(request.POST, request.FILES)
    try:
        if not form.is_valid():
            raise ValidationFailed(field_errors={"image": [e for errs in form.errors.values() for e in errs]})
        image = services.do_add_image(
            request.user, push, form.cleaned_data["image"], alt_text=form.cleaned_data.get("alt_text") or ""
        )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        message = "; ".join(str(e) for errs in exc.field_errors.values() for e in errs) or str(exc.message)
        if _wants_json(request):
            return JsonResponse({"ok": False, "message": message}, status=exc.status)
        messages.error(request, message)
        return HttpResponseRedirect(reverse("console:push_edit", args=[push.pk]))
    if _wants_json(request):
        return JsonResponse(
            {
                "ok": True,
                "id": image.pk,
                "alt": image.alt_text,
                "thumb_url": reverse("console:push_image", args=[push.pk, image.pk, "thumb"]),
                "remove_url": reverse("console:push_remove_image", args=[push.pk, image.pk]),
                "message": _("The image is added."),
            }
        )
    messages.success(request, _("The image is added."))
    return HttpResponseRedirect(reverse("console:push_edit", args=[push.pk]))


def _image_of(request: HttpRequest, push_id: int, image_id: int) -> tuple[Push, PushImage]:
    push = selectors.get_push(request.user, push_id)
    image = PushImage.objects.filter(push=push, pk=image_id).first()
    if image is None:
        raise NotFound()
    return push, image


@require_POST
@staff_required
def push_remove_image(request: HttpRequest, push_id: int, image_id: int) -> HttpResponse:
    push, image = _image_of(request, push_id, image_id)
    require(request.user, Capability.DRAFT_PUSH, push.unit)
    try:
        services.do_remove_image(request.user, image)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The image is removed."))
    return HttpResponseRedirect(reverse("console:push_edit", args=[push.pk]))


@require_GET
@staff_required
def push_image(request: HttpRequest, push_id: int, image_id: int, variant: str) -> FileResponse:
    """An image of a push the user may see (images are not public before the push is sent)."""
    _push, image = _image_of(request, push_id, image_id)
    field = image.thumbnail if variant == "thumb" else image.image
    response = FileResponse(field.open("rb"), content_type=image.content_type)
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Disposition"] = "inline"
    return response


# --- detail ---------------------------------------------------------------------------------------


@require_GET
@staff_required
def push_detail(request: HttpRequest, push_id: int) -> HttpResponse:
    push = selectors.get_push(request.user, push_id)
    if request.GET.get("part") == "progress":  # the delivery progress bar, polled by htmx
        context = progress_context(push, request.user)
        return render_console(request, "console/pushes/_progress.html", context, section="pushes")
    return render_console(request, "console/pushes/detail.html", detail_context(request, push), section="pushes")
