"""Liveness: no authentication, no database. Also the floor for the HTTP benchmarks."""

from typing import Literal

from django.http import HttpRequest
from ninja import Router, Schema

router = Router(tags=["system"])


class HealthOut(Schema):
    status: Literal["ok"] = "ok"


@router.get("/health", auth=None, response=HealthOut, summary="Liveness check")
def health(request: HttpRequest) -> HealthOut:
    """Answers `{"status": "ok"}` while the web process serves requests."""
    return HealthOut()
