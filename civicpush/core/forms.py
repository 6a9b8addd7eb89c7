"""Showing a service's DomainError on a Django form (shared by every surface)."""

from __future__ import annotations

from django import forms

from .errors import DomainError


def apply_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Field errors go on their fields (or on top when the form has no such field); an error with no
    field errors shows its message on top."""
    placed = False
    for field, messages in exc.field_errors.items():
        target = field if field in form.fields else None
        for message in messages or [exc.message]:
            form.add_error(target, str(message))
            placed = True
    if not placed:
        form.add_error(None, str(exc.message))
