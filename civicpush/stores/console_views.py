"""Console pages for stores (county operator) and settlement (operator and accounting): the store list
with every store's settlement status, onboarding and editing a store, its staff and offers, and the
monthly statements with the county's claim summary (請款總表). Included into the console's URLs."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.citizens.models import Township
from civicpush.console.decorators import staff_required
from civicpush.console.views.common import render_console
from civicpush.core.errors import DomainError, PermissionDenied

from . import access, exports, services, settlement
from .models import Offer, Statement, StatementStatus, Store, StoreCategory, StoreKind, StoreRole, StoreStaff

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _county(request: HttpRequest) -> int:
    if not access.can_view_settlement(request.user):
        raise PermissionDenied()
    return access.operator_county_id(request.user)


def _store(request: HttpRequest, store_id: int) -> Store:
    county_id = _county(request)
    store = Store.objects.select_related("township").filter(pk=store_id, county_id=county_id).first()
    if store is None:
        raise Http404()
    return store


def _field_errors(exc: DomainError) -> dict[str, list[str]]:
    errors = {k: [str(m) for m in v] for k, v in exc.field_errors.items()}
    if not errors:
        errors["__all__"] = [str(exc.message)]
    return errors


def _form_ctx(county_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "townships": Township.objects.filter(county_id=county_id),
        "categories": StoreCategory.choices,
        "kinds": StoreKind.choices,
        **extra,
    }


@require_GET
@staff_required
def store_list(request: HttpRequest) -> HttpResponse:
    county_id = _county(request)
    year, month = settlement.previous_month()
    statements = {s.store_id: s for s in Statement.objects.filter(county_id=county_id, year=year, month=month)}
    stores = list(Store.objects.filter(county_id=county_id).select_related("township"))
    rows = [{"store": s, "statement": statements.get(s.pk)} for s in stores]
    return render_console(
        request,
        "stores/console/list.html",
        {"rows": rows, "period": f"{year}-{month:02d}", "is_operator": access.is_operator(request.user)},
        section="stores",
    )


@require_http_methods(["GET", "POST"])
@staff_required
def store_create(request: HttpRequest) -> HttpResponse:
    county_id = _county(request)
    access.require_operator(request.user, county_id)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {"kind": StoreKind.PARTNER}
    if request.method == "POST":
        values = request.POST.dict()
        try:
            store = services.do_create_store(request.user, county_id, values, request.FILES.get("photo"))  # type: ignore[arg-type]
        except DomainError as exc:
            errors = _field_errors(exc)
        else:
            messages.success(request, _("The store was added."))
            return HttpResponseRedirect(reverse("console:store_detail", args=[store.pk]))
    return render_console(
        request,
        "stores/console/form.html",
        _form_ctx(county_id, values=values, errors=errors, store=None),
        section="stores",
        status=400 if errors else 200,
    )


@require_http_methods(["GET", "POST"])
@staff_required
def store_detail(request: HttpRequest, store_id: int) -> HttpResponse:
    store = _store(request, store_id)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {
        **{f: getattr(store, f) for f in services.STORE_FIELDS},
        "ubn": store.ubn,
        "township": store.township_id,
        "is_active": store.is_active,
    }
    if request.method == "POST":
        values = dict(request.POST.dict())
        values["is_active"] = bool(request.POST.get("is_active"))
        try:
            services.do_update_store(request.user, store, values, request.FILES.get("photo"))  # type: ignore[arg-type]
        except DomainError as exc:
            errors = _field_errors(exc)
        else:
            messages.success(request, _("The store was saved."))
            return HttpResponseRedirect(reverse("console:store_detail", args=[store.pk]))
    return render_console(
        request,
        "stores/console/form.html",
        _form_ctx(
            store.county_id,
            store=store,
            values=values,
            errors=errors,
            staff=StoreStaff.objects.filter(store=store)
            .select_related("user")
            .order_by("-is_active", "user__username"),
            offers=Offer.objects.filter(store=store),
            roles=StoreRole.choices,
            is_operator=access.is_operator(request.user),
            new_password=request.session.pop("stores_new_password", None),
        ),
        section="stores",
        status=400 if errors else 200,
    )


@require_POST
@staff_required
def staff_add(request: HttpRequest, store_id: int) -> HttpResponse:
    store = _store(request, store_id)
    try:
        new = services.do_add_store_staff(
            request.user,  # type: ignore[arg-type]
            store,
            request.POST.get("username", ""),
            request.POST.get("display_name", ""),
            request.POST.get("role", StoreRole.CASHIER),
        )
    except DomainError as exc:
        for msgs in _field_errors(exc).values():
            for m in msgs:
                messages.error(request, m)
    else:
        request.session["stores_new_password"] = {"username": new.membership.user.username, "password": new.password}
        messages.success(request, _("The sign-in was created."))
    return HttpResponseRedirect(reverse("console:store_detail", args=[store.pk]) + "#staff")


@require_POST
@staff_required
def staff_action(request: HttpRequest, store_id: int, membership_id: int, action: str) -> HttpResponse:
    store = _store(request, store_id)
    try:
        if action == "remove":
            services.do_remove_store_staff(request.user, store, membership_id)  # type: ignore[arg-type]
        elif action == "unlock":
            services.do_unlock_store_staff(request.user, store, membership_id)  # type: ignore[arg-type]
        else:
            raise Http404()
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Done."))
    return HttpResponseRedirect(reverse("console:store_detail", args=[store.pk]) + "#staff")


@require_POST
@staff_required
def offer_save(request: HttpRequest, store_id: int) -> HttpResponse:
    store = _store(request, store_id)
    offer = None
    if request.POST.get("offer"):
        offer = Offer.objects.filter(
            pk=int(request.POST["offer"]) if request.POST["offer"].isdigit() else 0, store=store
        ).first()
        if offer is None:
            raise Http404()
    data: dict[str, Any] = dict(request.POST.dict())
    data["is_active"] = bool(request.POST.get("is_active"))
    try:
        services.do_save_offer(request.user, store, data, offer)  # type: ignore[arg-type]
    except DomainError as exc:
        for msgs in _field_errors(exc).values():
            for m in msgs:
                messages.error(request, m)
    else:
        messages.success(request, _("The offer was saved."))
    return HttpResponseRedirect(reverse("console:store_detail", args=[store.pk]) + "#offers")


def _period(request: HttpRequest) -> tuple[int, int]:
    year, month = settlement.previous_month()
    try:
        year = int(request.GET.get("year") or request.POST.get("year") or year)
        month = int(request.GET.get("month") or request.POST.get("month") or month)
    except ValueError:
        pass
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        year, month = settlement.previous_month()
    return year, month


@require_GET
@staff_required
def settlement_page(request: HttpRequest) -> HttpResponse:
    county_id = _county(request)
    year, month = _period(request)
    rows, totals = settlement.county_summary(county_id, year, month)
    return render_console(
        request,
        "stores/console/settlement.html",
        {
            "year": year,
            "month": month,
            "month_choices": list(range(1, 13)),
            "rows": rows,
            "totals": totals,
            "is_operator": access.is_operator(request.user, county_id),
            "is_accounting": access.is_accounting(request.user, county_id),
            "statuses": StatementStatus,
        },
        section="settlement",
    )


@require_POST
@staff_required
def settlement_action(request: HttpRequest) -> HttpResponse:
    county_id = _county(request)
    year, month = _period(request)
    action = request.POST.get("action", "")
    statement_id = int(request.POST.get("statement") or 0) if (request.POST.get("statement") or "").isdigit() else 0
    user: Any = request.user
    try:
        if action == "prepare":
            settlement.prepare_drafts(user, county_id, year, month)
        elif action == "issue_all":
            for s in Statement.objects.filter(
                county_id=county_id, year=year, month=month, status=StatementStatus.DRAFT
            ):
                settlement.issue(user, s.pk)
        elif action == "issue":
            settlement.issue(user, statement_id)
        elif action == "resolve":
            settlement.resolve_dispute(
                user, statement_id, request.POST.get("adjustment_coins", "0"), request.POST.get("resolution", "")
            )
        elif action == "approve":
            settlement.approve(user, statement_id)
        elif action == "paid":
            settlement.mark_paid(user, statement_id, request.POST.get("bank_reference", ""))
        else:
            raise Http404()
    except DomainError as exc:
        for msgs in _field_errors(exc).values():
            for m in msgs:
                messages.error(request, m)
    else:
        messages.success(request, _("Done."))
    return HttpResponseRedirect(reverse("console:store_settlement") + f"?year={year}&month={month}")


@require_GET
@staff_required
def settlement_download(request: HttpRequest, fmt: str) -> HttpResponse:
    county_id = _county(request)
    year, month = _period(request)
    name = f"store-claims-{year}-{month:02d}"
    if fmt == "xlsx":
        response = HttpResponse(exports.summary_xlsx(county_id, year, month), content_type=XLSX)
    elif fmt == "pdf":
        response = HttpResponse(exports.summary_pdf(county_id, year, month), content_type="application/pdf")
    else:
        raise Http404()
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@require_GET
@staff_required
def statement_download(request: HttpRequest, statement_id: int, fmt: str) -> HttpResponse:
    county_id = _county(request)
    statement = Statement.objects.select_related("store").filter(pk=statement_id, county_id=county_id).first()
    if statement is None:
        raise Http404()
    name = f"statement-{statement.store.ubn}-{statement.period_label}"
    if fmt == "xlsx":
        response = HttpResponse(exports.statement_xlsx(statement), content_type=XLSX)
    elif fmt == "pdf":
        response = HttpResponse(exports.statement_pdf(statement), content_type="application/pdf")
    else:
        raise Http404()
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
