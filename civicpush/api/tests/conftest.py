"""Fixtures for API tests: unit API keys (raw secrets kept only in memory) and a CSRF-enforcing client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from civicpush.org.models import UnitApiKey
from civicpush.org.services import do_create_api_key


@dataclass
class IssuedKey:
    row: UnitApiKey
    raw: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.raw}"}

    @property
    def x_api_key(self) -> dict[str, str]:
        return {"HTTP_X_API_KEY": self.raw}


def issue_key(org: Any, unit_code: str, kind: str = "live") -> IssuedKey:
    row, raw = do_create_api_key(
        actor=org.user(f"{unit_code}.manager"), unit=org.unit(unit_code), name=f"{unit_code} case system", kind=kind
    )
    return IssuedKey(row=row, raw=raw)


@pytest.fixture
def live_key(org: Any) -> IssuedKey:
    """A live key of 火調科 (investigation)."""
    return issue_key(org, "investigation", "live")


@pytest.fixture
def test_mode_key(org: Any) -> IssuedKey:
    return issue_key(org, "investigation", "test")


@pytest.fixture
def csrf_client() -> Client:
    """A client that, like a browser, is subject to CSRF checks."""
    return Client(enforce_csrf_checks=True)
