"""Citizen pages (surface code of the citizen app, kept with its domain): send feedback, follow it,
reply, rate the answer; search the units' FAQ."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.citizen_web.views import citizen_required
from civicpush.core.errors import DomainError, NotFound
from civicpush.core.forms import apply_domain_error

from . import selectors, services
from .models import FeedbackCategory, FeedbackKind


class FeedbackForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("This is a"), choices=FeedbackKind.choices, widget=forms.RadioSelect)
    category = forms.ModelChoiceField(label=gettext_lazy("About"), queryset=FeedbackCategory.objects.none())
    text = forms.CharField(
        label=gettext_lazy("Your feedback"), max_length=services.MAX_TEXT, widget=forms.Textarea(attrs={"rows": 6})
    )
    latitude = forms.CharField(required=False, widget=forms.HiddenInput)
    longitude = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: object, county_id: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["category"].queryset = FeedbackCategory.objects.filter(county_id=county_id, is_active=True)  # type: ignore[attr-defined]


@require_http_methods(["GET", "POST"])
@citizen_required
def feedback_home(request: HttpRequest) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    form = FeedbackForm(county_id=citizen.county_id)
    status = 200
    if request.method == "POST":
        form = FeedbackForm(request.POST, request.FILES, county_id=citizen.county_id)
        if form.is_valid():
            try:
                feedback = services.do_submit(
                    citizen, category=form.cleaned_data["category"], kind=form.cleaned_data["kind"],
                    text=form.cleaned_data["text"], photos=request.FILES.getlist("photos"),
                    latitude=form.cleaned_data["latitude"], longitude=form.cleaned_data["longitude"],
                )  # fmt: skip
            except DomainError as exc:
                apply_domain_error(form, exc)
                status = exc.status
            else:
                messages.success(
                    request, _("Thank you. Your feedback was sent to %(unit)s.") % {"unit": feedback.unit.name}
                )
                return redirect("citizen_web:feedback_detail", feedback.pk)
        else:
            status = 400
    return render(
        request, "feedback/citizen/home.html",
        {"form": form, "items": selectors.feedback_of_citizen(citizen)[:50], "active_nav": "me"}, status=status,
    )  # fmt: skip


@require_GET
@citizen_required
def feedback_detail(request: HttpRequest, feedback_id: int) -> HttpResponse:
    try:
        feedback = selectors.one_of_citizen(request.citizen, feedback_id)  # type: ignore[attr-defined]
    except NotFound as exc:
        raise Http404() from exc
    return render(
        request, "feedback/citizen/detail.html",
        {"feedback": feedback, "thread": feedback.messages.all(), "photos": feedback.photos.all(), "active_nav": "me", "stars": range(1, 6)},
    )  # fmt: skip


@require_POST
@citizen_required
def feedback_act(request: HttpRequest, feedback_id: int) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    try:
        feedback = selectors.one_of_citizen(citizen, feedback_id)
    except NotFound as exc:
        raise Http404() from exc
    try:
        if request.POST.get("action") == "rate":
            services.do_rate(citizen, feedback, int(request.POST.get("rating") or 0))
            messages.success(request, _("Thank you for rating the answer."))
        else:
            services.do_citizen_reply(citizen, feedback, request.POST.get("text", ""))
            messages.success(request, _("Your reply was sent."))
    except (DomainError, ValueError) as exc:
        messages.error(request, str(getattr(exc, "message", _("Some of the information is not valid."))))
    return redirect("citizen_web:feedback_detail", feedback.pk)


@require_GET
@citizen_required
def faq(request: HttpRequest) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    query = request.GET.get("q", "")
    return render(
        request, "feedback/citizen/faq.html",
        {"query": query, "entries": selectors.search_faq(citizen.county_id, query)[:50], "active_nav": "me"},
    )  # fmt: skip
