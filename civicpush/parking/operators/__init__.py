"""Choose the parking-operator adapter from settings (PARKING_OPERATOR, PARKING_OPERATOR_URL)."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from .base import ParkingOperator

ADAPTERS = {
    "simulator": "civicpush.parking.operators.simulator.SimulatedOperator",
    "http": "civicpush.parking.operators.http.HttpOperator",
}


def get_operator() -> ParkingOperator:
    """The configured adapter: "simulator" (default, demo and tests), "http", or a dotted class path."""
    name = getattr(settings, "PARKING_OPERATOR", "simulator") or "simulator"
    cls = import_string(ADAPTERS.get(name, name))
    return cls()  # type: ignore[no-any-return]
