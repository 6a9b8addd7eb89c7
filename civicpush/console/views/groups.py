"""Groups (群組): list, create (static or dynamic with a live count), members, import, share, new
version, retire.

Every page resolves the group with `group_for_user` (NotFound for units that cannot see it);
every change resolves it with `for_edit=True`, so a unit a group is only shared with gets 403 on a
forged POST even though it sees no edit controls.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.audiences import selectors, services
from civicpush.audiences.models import Group, GroupKind
from civicpush.audiences.services import suggest_group_name
from civicpush.citizens.phone import mask_mobile
from civicpush.console.decorators import staff_required
from civicpush.console.group_forms import (
    AddMemberForm,
    FilterForm,
    GroupForm,
    GroupStartForm,
    ImportForm,
    ShareForm,
    describe_filters,
    villages_of,
)
from civicpush.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from civicpush.core.forms import apply_domain_error
from civicpush.org.models import Unit
from civicpush.org.permissions import has_capability, units_with
from civicpush.org.roles import Capability

from .common import render_console

MEMBERS_PER_PAGE = 50
GROUPS_PER_PAGE = 50
STATUS_FILTERS = ("active", "retired", "all")


def _manageable_units(request: HttpRequest) -> QuerySet[Unit]:
    return units_with(request.user, Capability.MANAGE_GROUPS).filter(is_active=True).order_by("path")


# --- list -----------------------------------------------------------------------------------------


@require_GET
@staff_required
def group_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "active")
    if status not in STATUS_FILTERS:
        status = "active"
    groups = selectors.groups_visible_to(request.user).select_related("unit").order_by("-created_at", "-pk")
    if status == "active":
        groups = groups.filter(retired_at__isnull=True)
    elif status == "retired":
        groups = groups.filter(retired_at__isnull=False)
    page = Paginator(groups, GROUPS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"group": g, "read_only": not has_capability(request.user, Capability.MANAGE_GROUPS, g.unit)} for g in page]
    ctx = {
        "rows": rows,
        "page": page,
        "status": status,
        "can_create": _manageable_units(request).exists(),
    }
    return render_console(request, "console/groups/list.html", ctx, section="groups")


# --- create ---------------------------------------------------------------------------------------


def _builder_context(
    request: HttpRequest, unit: Unit, kind: str, form: GroupForm, filter_form: FilterForm | None, **extra: Any
) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "unit": unit,
        "kind": kind,
        "kind_label": GroupKind(kind).label,
        "form": form,
        "filter_form": filter_form,
        "estimate": None,
    }
    ctx.update(extra)
    return ctx


def _estimate_or_none(filter_form: FilterForm) -> int | None:
    if not filter_form.is_valid():
        return None
    filters = filter_form.filters()
    if not filters:
        return None
    try:
        return selectors.estimate_filters(filters)
    except ValidationFailed:
        return None


@require_http_methods(["GET", "POST"])
@staff_required
def group_create(request: HttpRequest) -> HttpResponse:
    units = list(_manageable_units(request))
    if not units:
        raise PermissionDenied()
    source = request.POST if request.method == "POST" else request.GET
    start = GroupStartForm(source if {"unit", "kind"} <= set(source) else None, units=units)
    if not start.is_bound or not start.is_valid():
        initial = {"unit": units[0].pk, "kind": GroupKind.STATIC}
        start = start if start.is_bound else GroupStartForm(initial=initial, units=units)
        return render_console(request, "console/groups/start.html", {"start": start}, section="groups")
    unit = next(u for u in units if u.pk == start.cleaned_data["unit"])
    kind = start.cleaned_data["kind"]
    dynamic = kind == GroupKind.DYNAMIC

    if request.method == "GET":
        form = GroupForm(initial={"name": suggest_group_name(unit, unit.name)})
        filter_form = FilterForm(county_id=unit.county_id) if dynamic else None
        ctx = _builder_context(request, unit, kind, form, filter_form)
        return render_console(request, "console/groups/create.html", ctx, section="groups")

    form = GroupForm(request.POST)
    filter_form = FilterForm(request.POST, county_id=unit.county_id) if dynamic else None
    valid = form.is_valid() & (filter_form.is_valid() if filter_form else True)
    if valid:
        try:
            group = services.do_create_group(
                request.user,
                unit,
                name=form.cleaned_data["name"],
                kind=kind,
                description=form.cleaned_data["description"],
                filters=filter_form.filters() if filter_form else None,
            )
        except DomainError as exc:
            if isinstance(exc, NotFound | PermissionDenied):
                raise
            apply_domain_error(filter_form if filter_form and "name" not in exc.field_errors else form, exc)
            status = exc.status
        else:
            messages.success(request, _("The group %(name)s was created.") % {"name": group.name})
            return HttpResponseRedirect(reverse("console:group_detail", args=[group.pk]))
    else:
        status = 400
    estimate = _estimate_or_none(filter_form) if filter_form else None
    ctx = _builder_context(request, unit, kind, form, filter_form, estimate=estimate)
    return render_console(request, "console/groups/create.html", ctx, section="groups", status=status)


@require_GET
@staff_required
def group_estimate(request: HttpRequest) -> HttpResponse:
    """The builder's live count (an htmx fragment): how many active citizens the filters match now."""
    units = list(_manageable_units(request))
    if not units:
        raise PermissionDenied()
    filter_form = FilterForm(request.GET, county_id=units[0].county_id)
    error = ""
    count: int | None = None
    if filter_form.is_valid():
        filters = filter_form.filters()
        if filters:
            try:
                count = selectors.estimate_filters(filters)
            except ValidationFailed as exc:
                error = str(exc.message)
    else:
        error = _("Some of the filters are not valid.")
    response = render(request, "console/groups/_estimate.html", {"estimate": count, "estimate_error": error})
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@staff_required
def group_villages(request: HttpRequest) -> HttpResponse:
    """The builder's village list for the chosen townships (an htmx fragment), keeping chosen villages."""
    if not _manageable_units(request).exists():
        raise PermissionDenied()
    try:
        townships = [int(t) for t in request.GET.getlist("townships")]
        chosen = {int(v) for v in request.GET.getlist("villages")}
    except ValueError:
        townships, chosen = [], set()
    villages = list(villages_of(townships)) if townships else []
    return render(request, "console/groups/_villages.html", {"villages": villages, "chosen": chosen})


# --- detail ---------------------------------------------------------------------------------------


def _member_rows(group: Group, page_number: str | None) -> Any:
    """Open memberships of a static group, newest first, with masked numbers only."""
    page = Paginator(selectors.open_memberships(group), MEMBERS_PER_PAGE).get_page(page_number)
    rows = []
    for m in page:
        citizen = m.citizen
        profile = getattr(citizen, "profile", None)
        rows.append(
            {
                "citizen_id": citizen.pk,
                "phone": mask_mobile(citizen.phone_e164) if citizen.phone_e164 else "—",
                "national_id": profile.national_id_masked if profile and profile.national_id_masked else "",
                "display_name": profile.display_name if profile else "",
                "added_at": m.added_at,
            }
        )
    return page, rows


def _shareable_units(group: Group) -> QuerySet[Unit]:
    return (
        Unit.objects.filter(agency_id=group.unit.agency_id, is_active=True).exclude(pk=group.unit_id).order_by("path")
    )


def _detail_context(request: HttpRequest, group: Group, **extra: Any) -> dict[str, Any]:
    can_edit = group.is_active and has_capability(request.user, Capability.MANAGE_GROUPS, group.unit)
    ctx: dict[str, Any] = {
        "group": group,
        "can_edit": can_edit,
        "read_only": not has_capability(request.user, Capability.MANAGE_GROUPS, group.unit),
        "is_static": group.kind == GroupKind.STATIC,
        "filters_described": describe_filters(group.filters) if group.kind == GroupKind.DYNAMIC else [],
        "current_count": selectors.estimate_audience([group.pk]),
        "shared_units": list(group.shared_units.order_by("path")),
        "replaced_by": Group.objects.filter(replaces_id=group.pk).first(),
    }
    if group.kind == GroupKind.STATIC:
        ctx["members_page"], ctx["members"] = _member_rows(group, request.GET.get("page"))
    if can_edit:
        shared_ids = [u.pk for u in ctx["shared_units"]]
        ctx.setdefault("add_form", AddMemberForm())
        ctx.setdefault("import_form", ImportForm())
        ctx.setdefault(
            "share_form",
            ShareForm(
                initial={"units": shared_ids, "with_agency": group.shared_with_agency},
                units=_shareable_units(group),
            ),
        )
    ctx.update(extra)
    return ctx


def _detail(request: HttpRequest, group: Group, *, status: int = 200, **extra: Any) -> HttpResponse:
    ctx = _detail_context(request, group, **extra)
    return render_console(request, "console/groups/detail.html", ctx, section="groups", status=status)


def _back(group: Group) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("console:group_detail", args=[group.pk]))


@require_GET
@staff_required
def group_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    group = selectors.group_for_user(request.user, group_id)
    return _detail(request, group)


def _action_failed(request: HttpRequest, group: Group, exc: DomainError, **extra: Any) -> HttpResponse:
    if isinstance(exc, NotFound | PermissionDenied):
        raise exc
    return _detail(request, group, status=exc.status, action_error=str(exc.message), **extra)


# --- static members -------------------------------------------------------------------------------


@require_POST
@staff_required
def group_add_member(request: HttpRequest, group_id: int) -> HttpResponse:
    group = selectors.group_for_user(request.user, group_id, for_edit=True)
    form = AddMemberForm(request.POST)
    if not form.is_valid():
        return _detail(request, group, status=400, add_form=form)
    try:
        added = services.do_add_member_by_number(request.user, group, form.cleaned_data["number"])
    except DomainError as exc:
        if isinstance(exc, NotFound | PermissionDenied):
            raise
        form.add_error("number", str(exc.message))
        return _detail(request, group, status=exc.status, add_form=form)
    if added:
        messages.success(request, _("The citizen was added to the group."))
    else:
        messages.info(request, _("The citizen is already a member of the group."))
    return _back(group)


@require_POST
@staff_required
def group_remove_member(request: HttpRequest, group_id: int) -> HttpResponse:
    group = selectors.group_for_user(request.user, group_id, for_edit=True)
    try:
        citizen_id = int(request.POST.get("citizen_id", ""))
    except ValueError:
        return _detail(request, group, status=400, action_error=_("Choose a member to remove."))
    try:
        removed = services.do_remove_members(request.user, group, [citizen_id])
    except DomainError as exc:
        return _action_failed(request, group, exc)
    if removed:
        messages.success(request, _("The member was removed from the group."))
    else:
        messages.info(request, _("That citizen was not a member of the group."))
    return _back(group)


@require_POST
@staff_required
def group_import(request: HttpRequest, group_id: int) -> HttpResponse:
    group = selectors.group_for_user(request.user, group_id, for_edit=True)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _detail(request, group, status=400, import_form=form)
    upload = form.cleaned_data["file"]
    try:
        result = services.do_import_members(request.user, group, upload, upload.name or "")
    except DomainError as exc:
        if isinstance(exc, NotFound | PermissionDenied):
            raise
        for error in exc.field_errors.get("file") or [exc.message]:
            form.add_error("file", str(error))
        return _detail(request, group, status=exc.status, import_form=form)
    if result.errors:
        group.refresh_from_db()
        return _detail(request, group, status=400, import_result=result, import_filename=upload.name)
    messages.success(
        request,
        _("Import finished: %(added)s added, %(already)s already members.")
        % {"added": result.added, "already": result.already_members},
    )
    return _back(group)


@require_GET
@staff_required
def group_import_template(request: HttpRequest) -> HttpResponse:
    """A member file to fill in: a header and one number per row (mobile or ID number), UTF-8 for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["手機號碼"])
    response = HttpResponse(("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="group-members-template.csv"'
    return response


# --- share, new version, retire ---------------------------------------------------------------------


@require_POST
@staff_required
def group_share(request: HttpRequest, group_id: int) -> HttpResponse:
    group = selectors.group_for_user(request.user, group_id, for_edit=True)
    form = ShareForm(request.POST, units=_shareable_units(group))
    if not form.is_valid():
        return _detail(request, group, status=400, share_form=form)
    try:
        services.do_share_group(request.user, group, form.cleaned_data["units"], form.cleaned_data["with_agency"])
    except DomainError as exc:
        if isinstance(exc, NotFound | PermissionDenied):
            raise
        apply_domain_error(form, exc)
        return _detail(request, group, status=exc.status, share_form=form)
    messages.success(request, _("Sharing was saved."))
    return _back(group)


@require_http_methods(["GET", "POST"])
@staff_required
def group_new_version(request: HttpRequest, group_id: int) -> HttpResponse:
    old = selectors.group_for_user(request.user, group_id, for_edit=True)
    if not old.is_active:
        return _detail(
            request, old, status=409, action_error=_("This group has been retired and can no longer be changed.")
        )
    dynamic = old.kind == GroupKind.DYNAMIC
    status = 200
    if request.method == "GET":
        form = GroupForm(initial={"name": suggest_group_name(old.unit, old.name), "description": old.description})
        filter_form = (
            FilterForm(initial=FilterForm.initial_from(old.filters), county_id=old.county_id) if dynamic else None
        )
    else:
        form = GroupForm(request.POST)
        filter_form = FilterForm(request.POST, county_id=old.county_id) if dynamic else None
        status = 400
        if form.is_valid() & (filter_form.is_valid() if filter_form else True):
            try:
                group = services.do_create_group(
                    request.user,
                    old.unit,
                    name=form.cleaned_data["name"],
                    kind=old.kind,
                    description=form.cleaned_data["description"],
                    filters=filter_form.filters() if filter_form else None,
                    replaces=old,
                )
            except DomainError as exc:
                if isinstance(exc, NotFound | PermissionDenied):
                    raise
                apply_domain_error(filter_form if filter_form and "name" not in exc.field_errors else form, exc)
                status = exc.status
            else:
                messages.success(
                    request,
                    _("%(new)s replaces %(old)s, which is now retired.") % {"new": group.name, "old": old.name},
                )
                return HttpResponseRedirect(reverse("console:group_detail", args=[group.pk]))
    estimate = _estimate_or_none(filter_form) if filter_form and filter_form.is_bound else None
    if filter_form and not filter_form.is_bound and old.filters:
        estimate = selectors.estimate_audience([old.pk])
    ctx = _builder_context(request, old.unit, old.kind, form, filter_form, estimate=estimate, replaces=old)
    return render_console(request, "console/groups/create.html", ctx, section="groups", status=status)


@require_POST
@staff_required
def group_retire(request: HttpRequest, group_id: int) -> HttpResponse:
    group = selectors.group_for_user(request.user, group_id, for_edit=True)
    try:
        services.do_retire_group(request.user, group)
    except DomainError as exc:
        return _action_failed(request, group, exc)
    messages.success(request, _("The group %(name)s was retired.") % {"name": group.name})
    return _back(group)
