"""`{% can_view_stores user as flag %}`: whether the console shows the stores entry (operator or accounting)."""

from __future__ import annotations

from typing import Any

from django import template

from civicpush.stores import access

register = template.Library()


@register.simple_tag
def can_view_stores(user: Any) -> bool:
    return access.can_view_settlement(user)
