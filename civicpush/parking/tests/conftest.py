from __future__ import annotations

from typing import Any

import pytest
import time_machine

from .world import World, make_world


@pytest.fixture
def world(org: Any) -> World:
    return make_world(org)


@pytest.fixture(autouse=True)
def daytime() -> Any:
    """Outside the operator's 02:00–04:00 maintenance window unless a test travels there itself."""
    with time_machine.travel("2026-11-20 10:00:00+08:00", tick=True):
        yield
