"""Console home: who I am and where I work."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from civicpush.console.decorators import staff_required
from civicpush.console.selectors import roles_of
from civicpush.org.selectors import visible_units

from .common import render_console


@staff_required
def home(request: HttpRequest) -> HttpResponse:
    assignments = list(roles_of(request.user))
    units = list(visible_units(request.user)[:200])
    return render_console(request, "console/home.html", {"assignments": assignments, "units": units}, section="home")
