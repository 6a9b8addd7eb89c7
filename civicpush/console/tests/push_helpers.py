"""Helpers shared by the console push tests (compose form data, citizens, groups, approvals)."""

from __future__ import annotations

from typing import Any

from django.test import Client

from civicpush.pushes.chains import next_step
from civicpush.pushes.models import Push
from civicpush.pushes.tests.conftest import make_citizen, make_group

__all__ = ["approve_in_order", "compose_data", "make_citizen", "make_group"]

APPROVER_BY_ROLE = {
    "push_liaison": "fire.liaison",
    "secretary": "fire.secretary",
    "deputy_director": "fire.deputy",
    "director": "fire.director",
}


def compose_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "push_type": "promotion",
        "title": "[防火]居家安全宣導",
        "subtitle": "住警器守護您的家",
        "body": "請記得每月測試住宅用火災警報器。",
        "planned_date": "2026-12-01",
        "contact_name": "王小明",
        "contact_phone": "089-322112",
        "contact_email": "ming@fire.example.gov.tw",
        "urgency": "normal",
        "target_kind": "everyone",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def approve_in_order(as_staff: Any, push: Push) -> list[str]:
    """Each approver of the push's chain signs in through the console and approves, in order."""
    signed = []
    clients: dict[str, Client] = {}
    push.refresh_from_db()
    while (step := next_step(push)) is not None:
        role = push.chain_roles[step]
        username = APPROVER_BY_ROLE.get(role) or f"{push.unit.code}.head"
        client = clients.setdefault(username, as_staff(username))
        detail = client.get(f"/console/pushes/{push.pk}/")
        assert 'value="approved"' in detail.content.decode(), f"{username} sees no approve button"
        response = client.post(f"/console/pushes/{push.pk}/decide/", {"decision": "approved"})
        assert response.status_code == 302, response.content.decode()[:2000]
        signed.append(username)
        push.refresh_from_db()
    return signed
