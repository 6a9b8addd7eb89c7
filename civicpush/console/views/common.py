"""Rendering helpers shared by the console views."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from civicpush.console.audit_selectors import can_view_audit


def render_console(
    request: HttpRequest, template: str, context: dict[str, Any] | None = None, *, section: str = "", status: int = 200
) -> HttpResponse:
    """Render a console page with what the header needs (current section, whether to offer the audit log)."""
    ctx = {"section": section, "can_view_audit": can_view_audit(request.user)}
    ctx.update(context or {})
    response = render(request, template, ctx, status=status)
    # Pages may carry one-time secrets (first passwords, API keys) and personal data.
    response["Cache-Control"] = "no-store"
    return response
