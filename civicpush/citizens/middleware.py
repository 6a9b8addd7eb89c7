"""Attach the signed-in citizen (if any) to the request as `request.citizen`."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

CITIZEN_SESSION_KEY = "citizen_id"


def _load_citizen(request: HttpRequest):  # type: ignore[no-untyped-def]
    from .models import Citizen, CitizenStatus

    citizen_id = request.session.get(CITIZEN_SESSION_KEY)
    if not citizen_id:
        return None
    return Citizen.objects.filter(pk=citizen_id, status=CitizenStatus.ACTIVE).first()


class CitizenMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.citizen = SimpleLazyObject(lambda: _load_citizen(request))  # type: ignore[attr-defined]
        return self.get_response(request)
