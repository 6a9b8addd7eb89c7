from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path
from django.utils.translation import gettext as _

from .api import api
from .problems import problem_response


def unknown_endpoint(request: HttpRequest) -> HttpResponse:
    """Anything under /api/v1/ that no route matches: a problem+json 404, not the HTML page."""
    return problem_response(404, detail=_("There is no API endpoint at this address."))


urlpatterns = [
    path("", api.urls),
    re_path(r"^.*$", unknown_endpoint),
]
