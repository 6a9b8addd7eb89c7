from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

PASSWORD = "demo-password-for-tests"


@pytest.fixture
def as_staff(org: Any) -> Callable[[str], Client]:
    """A test client signed in (through the sign-in page) as the demo staff member `username`."""

    def make(username: str) -> Client:
        client = Client()
        response = client.post("/console/login/", {"username": username, "password": PASSWORD})
        assert response.status_code == 302, response.content.decode()[:500]
        return client

    return make
