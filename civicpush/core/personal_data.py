"""Registry of personal-data exporters and erasers (個資法: a citizen can download and delete their data).

Each domain that holds data about a citizen registers one exporter (returns JSON-able data) and
one eraser (erases personal data, keeps records that must stay under the pseudonymous id).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Exporter = Callable[[Any], dict[str, Any]]
Eraser = Callable[[Any], None]

_exporters: dict[str, Exporter] = {}
_erasers: dict[str, Eraser] = {}


def register(section: str, *, exporter: Exporter, eraser: Eraser | None = None) -> None:
    _exporters[section] = exporter
    if eraser is not None:
        _erasers[section] = eraser


def export_all(citizen: Any) -> dict[str, Any]:
    return {section: exporter(citizen) for section, exporter in sorted(_exporters.items())}


# Erased last: it removes the mobile number, which other erasers may still need to find rows.
ERASED_LAST = "citizen"


def erase_all(citizen: Any) -> None:
    for _section, eraser in sorted(_erasers.items(), key=lambda item: (item[0] == ERASED_LAST, item[0])):
        eraser(citizen)
