"""The sign-off: submitting, the approvers' queue, deciding, and the review form (推播審核表)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from civicpush.console.decorators import staff_required
from civicpush.console.push_forms import DecisionForm
from civicpush.core.errors import DomainError, NotFound, ValidationFailed
from civicpush.pushes import review_form, selectors, services
from civicpush.pushes.chains import next_step
from civicpush.pushes.models import Decision, Push

from .common import render_console
from .push_detail import detail_context


def action_failed(request: HttpRequest, push: Push, exc: DomainError, **extra: object) -> HttpResponse:
    """The detail page again with the service's message, answering with the error's status."""
    if isinstance(exc, NotFound):
        raise exc
    push.refresh_from_db()
    errors = [str(e) for errs in exc.field_errors.values() for e in errs]
    ctx = detail_context(request, push, action_error=str(exc.message), action_errors=errors, **extra)
    return render_console(request, "console/pushes/detail.html", ctx, section="pushes", status=exc.status)


@require_GET
@staff_required
def approval_queue(request: HttpRequest) -> HttpResponse:
    rows = []
    for push in selectors.approval_queue(request.user):
        steps = selectors.chain_progress(push)
        step = next_step(push)
        rows.append({"push": push, "step": steps[step] if step is not None else None, "steps": len(steps) - 1})
    return render_console(request, "console/pushes/queue.html", {"rows": rows}, section="approvals")


@require_POST
@staff_required
def push_submit(request: HttpRequest, push_id: int) -> HttpResponse:
    push = selectors.get_push(request.user, push_id)
    try:
        services.do_submit(request.user, push)
    except DomainError as exc:
        return action_failed(request, push, exc)
    messages.success(request, _("The push is submitted for approval."))
    return HttpResponseRedirect(reverse("console:push_detail", args=[push.pk]))


@require_POST
@staff_required
def push_decide(request: HttpRequest, push_id: int) -> HttpResponse:
    push = selectors.get_push(request.user, push_id)
    form = DecisionForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationFailed(_("Choose approve, return or reject."))
        services.do_decide(request.user, push, form.cleaned_data["decision"], form.cleaned_data.get("comment") or "")
    except DomainError as exc:
        return action_failed(request, push, exc, decision_form=form)
    done = {
        Decision.APPROVED: _("You approved the push."),
        Decision.RETURNED: _("You returned the push to the drafter."),
        Decision.REJECTED: _("You rejected the push."),
    }[form.cleaned_data["decision"]]
    messages.success(request, done)
    return HttpResponseRedirect(reverse("console:push_detail", args=[push.pk]))


@require_GET
@staff_required
def push_review_form(request: HttpRequest, push_id: int) -> HttpResponse:
    push = selectors.get_push(request.user, push_id)
    ctx = {"form": review_form.review_form_context(push), "push": push}
    return render_console(request, "console/pushes/review_form.html", ctx, section="pushes")


@require_GET
@staff_required
def push_review_form_pdf(request: HttpRequest, push_id: int) -> HttpResponse:
    push = selectors.get_push(request.user, push_id)
    response = HttpResponse(review_form.review_form_pdf(push), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="review-form-{push.pk}-r{push.revision}.pdf"'
    response["Cache-Control"] = "no-store"
    return response
