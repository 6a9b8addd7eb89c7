"""A throw-away API with one unsafe endpoint behind the real authentication, for the CSRF tests
(the foundation API has no unsafe endpoints yet)."""

from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI

from civicpush.api import problems
from civicpush.api.auth import API_AUTH, principal_of

csrf_api = NinjaAPI(urls_namespace="csrf-test", auth=API_AUTH, docs_url=None, openapi_url=None)
problems.install(csrf_api)


@csrf_api.post("/echo")
def echo(request: HttpRequest) -> dict[str, str]:
    return {"caller": principal_of(request).label}


urlpatterns = [path("api/v1/", csrf_api.urls)]
