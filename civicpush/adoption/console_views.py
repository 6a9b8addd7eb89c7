"""Console pages (surface code of the staff console, kept with its domain): the adoption roster per
unit (with its exports in seed 000's form) and the awards (rules table, periods, recommendation
list to print and sign). Views parse, authorise, call one service and render."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.console.decorators import staff_required
from civicpush.console.views.common import render_console
from civicpush.core.audit import log_action
from civicpush.core.errors import DomainError, NotFound, PermissionDenied
from civicpush.org.models import Agency
from civicpush.org.permissions import units_with, visible_unit
from civicpush.org.roles import Capability

from . import awards, exports, roster
from .models import AwardPeriod, AwardRule, Override, RosterEntry, RosterKind


def _download(content: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- roster -------------------------------------------------------------------------------------


@require_GET
@staff_required
def roster_overview(request: HttpRequest) -> HttpResponse:
    units = units_with(request.user, Capability.VIEW_UNIT).order_by("path")
    sheets = roster.sheets(units)
    agencies = Agency.objects.filter(pk__in=units.values("agency_id"))
    manages_awards = any(awards.can_manage_awards(request.user, a) for a in agencies)
    return render_console(
        request, "adoption/console/overview.html",
        {"sheets": sheets, "units": units, "manages_awards": manages_awards, "target": roster.TARGET_RATE},
        section="adoption",
    )  # fmt: skip


class EntryForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Group"), choices=RosterKind.choices)
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=50)
    mobile = forms.CharField(label=gettext_lazy("Mobile number"), max_length=20, required=False)


class OverrideForm(forms.Form):
    override = forms.ChoiceField(label=gettext_lazy("Uses the app"), choices=Override.choices, required=False)
    override_reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200, required=False)


@require_http_methods(["GET", "POST"])
@staff_required
def unit_roster(request: HttpRequest, unit_id: int) -> HttpResponse:
    unit = visible_unit(request.user, unit_id)
    form = EntryForm()
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "add":
                form = EntryForm(request.POST)
                if form.is_valid():
                    roster.do_add_entry(request.user, unit, **form.cleaned_data)
                    messages.success(request, _("Added to the roster."))
                    return HttpResponseRedirect(request.path)
                status = 400
            elif action == "sync":
                added = roster.do_sync_staff(request.user, unit)
                messages.success(request, _("%(n)s staff added from the unit's accounts.") % {"n": added})
                return HttpResponseRedirect(request.path)
            elif action in ("override", "remove"):
                entry = RosterEntry.objects.filter(pk=request.POST.get("entry") or 0, unit=unit, is_active=True).first()
                if entry is None:
                    raise NotFound()
                if action == "remove":
                    roster.do_remove_entry(request.user, entry)
                else:
                    roster.do_set_override(
                        request.user, entry, request.POST.get("override", ""), request.POST.get("override_reason", "")
                    )
                messages.success(request, _("Saved."))
                return HttpResponseRedirect(request.path)
        except (NotFound, PermissionDenied):
            raise
        except DomainError as exc:
            messages.error(
                request, " ".join(str(m) for ms in exc.field_errors.values() for m in ms) or str(exc.message)
            )
            status = exc.status
    return render_console(
        request, "adoption/console/unit.html",
        {"unit": unit, "sheets": roster.sheets([unit]), "form": form, "override_choices": Override.choices},
        section="adoption", status=status,
    )  # fmt: skip


@require_GET
@staff_required
def roster_export(request: HttpRequest, unit_id: int, fmt: str) -> HttpResponse:
    unit = visible_unit(request.user, unit_id)
    sheets = roster.sheets(unit.subtree() if request.GET.get("subtree") else [unit])
    if fmt == "pdf":
        return _download(exports.roster_pdf(sheets), f"roster-{unit.code}.pdf", "application/pdf")
    return _download(exports.roster_xlsx(sheets), f"roster-{unit.code}.xlsx", XLSX)


# --- awards -------------------------------------------------------------------------------------


def _agency(request: HttpRequest) -> Agency:
    for agency in Agency.objects.filter(pk__in=units_with(request.user, Capability.VIEW_UNIT).values("agency_id")):
        if awards.can_manage_awards(request.user, agency):
            return agency
    raise PermissionDenied(_("The rules and the award list are kept by the administration section."))


class RuleForm(forms.ModelForm):
    class Meta:
        model = AwardRule
        fields = [
            "name",
            "fact",
            "threshold",
            "upper",
            "at_most",
            "recipient",
            "outcome",
            "basis",
            "is_active",
            "sort_order",
        ]


@require_http_methods(["GET", "POST"])
@staff_required
def award_rules(request: HttpRequest) -> HttpResponse:
    agency = _agency(request)
    rules = AwardRule.objects.filter(agency=agency)
    rule = rules.filter(pk=request.GET.get("edit") or request.POST.get("rule") or 0).first()
    form = RuleForm(instance=rule)
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "delete" and rule is not None:
            log_action(
                "adoption.rule.deleted",
                actor=request.user,
                obj=rule,
                county_id=agency.county_id,
                before={"name": rule.name},
            )
            AwardRule.objects.filter(pk=rule.pk).update(is_active=False)
            messages.success(request, _("The rule is no longer in force."))
            return HttpResponseRedirect(reverse("console:award_rules"))
        form = RuleForm(request.POST, instance=rule)
        if form.is_valid():
            saved = form.save(commit=False)
            saved.agency = agency
            saved.save()
            log_action(
                "adoption.rule.saved", actor=request.user, obj=saved, county_id=agency.county_id,
                after={f: str(getattr(saved, f)) for f in RuleForm.Meta.fields},
            )  # fmt: skip
            messages.success(request, _("Saved."))
            return HttpResponseRedirect(reverse("console:award_rules"))
        status = 400
    return render_console(
        request, "adoption/console/rules.html", {"agency": agency, "rules": rules, "form": form, "rule": rule},
        section="adoption", status=status,
    )  # fmt: skip


class PeriodForm(forms.ModelForm):
    class Meta:
        model = AwardPeriod
        fields = ["name", "starts_on", "deadline"]
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "deadline": forms.DateInput(attrs={"type": "date"}),
        }


@require_http_methods(["GET", "POST"])
@staff_required
def award_periods(request: HttpRequest) -> HttpResponse:
    agency = _agency(request)
    form = PeriodForm()
    status = 200
    if request.method == "POST":
        form = PeriodForm(request.POST)
        if form.is_valid():
            period = form.save(commit=False)
            period.agency = agency
            period.save()
            awards.do_evaluate_period(request.user, period)
            return HttpResponseRedirect(reverse("console:award_period", args=[period.pk]))
        status = 400
    periods = AwardPeriod.objects.filter(agency=agency)
    return render_console(
        request, "adoption/console/periods.html", {"periods": periods, "form": form}, section="adoption", status=status
    )


def _period(request: HttpRequest, period_id: int) -> AwardPeriod:
    agency = _agency(request)
    period = AwardPeriod.objects.filter(pk=period_id, agency=agency).select_related("agency").first()
    if period is None:
        raise NotFound()
    return period


@require_GET
@staff_required
def award_period(request: HttpRequest, period_id: int) -> HttpResponse:
    period = _period(request, period_id)
    return render_console(
        request,
        "adoption/console/period.html",
        {"period": period, "rows": awards.recommendation_rows(period)},
        section="adoption",
    )


@require_POST
@staff_required
def award_period_evaluate(request: HttpRequest, period_id: int) -> HttpResponse:
    period = _period(request, period_id)
    awards.do_evaluate_period(request.user, period)
    messages.success(request, _("The list was computed again from the rules in force."))
    return HttpResponseRedirect(reverse("console:award_period", args=[period.pk]))


@require_GET
@staff_required
def award_period_export(request: HttpRequest, period_id: int, fmt: str) -> HttpResponse:
    period = _period(request, period_id)
    rows = awards.recommendation_rows(period)
    if fmt == "pdf":
        return _download(exports.recommendations_pdf(period, rows), f"awards-{period.pk}.pdf", "application/pdf")
    return _download(exports.recommendations_xlsx(period, rows), f"awards-{period.pk}.xlsx", XLSX)
