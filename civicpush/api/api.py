"""The CivicPush JSON API (django-ninja) at /api/v1/: authentication, problem+json errors, routers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.urls import URLPattern, URLResolver
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Swagger
from ninja.openapi.schema import OpenAPISchema

from . import problems
from .auth import API_AUTH
from .routers import audit, org, pushes, system


class CivicPushAPI(NinjaAPI):
    """NinjaAPI whose every error, including 405 from its own URL dispatch, is problem+json, and whose
    OpenAPI document says so."""

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = _method_not_allowed_as_problem(pattern.callback)
        return urls

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if str(status)[0] in "45" and "application/json" in content:
                        content[problems.PROBLEM_CONTENT_TYPE] = content.pop("application/json")
        return schema


def _method_not_allowed_as_problem(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    # ninja answers an unsupported method from its path view directly (not through an exception).
    @functools.wraps(view)  # keeps csrf_exempt: ninja does its own CSRF check in StaffSession
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and response.get("Content-Type", "") != problems.PROBLEM_CONTENT_TYPE:
            return problems.problem_response(
                405,
                detail=_("This endpoint does not accept the %(method)s method.") % {"method": request.method},
                headers={"Allow": response.get("Allow", "")},
            )
        return response

    return wrapper


api = CivicPushAPI(
    title="CivicPush API",
    version="1",
    description=(
        "JSON API of CivicPush. Authenticate with a unit API key (`Authorization: Bearer cpk_…` or "
        "`X-API-Key: cpk_…`) or a staff session (unsafe methods need the `X-CSRFToken` header). "
        "Errors are `application/problem+json` (RFC 9457) in the language asked for by `Accept-Language`."
    ),
    urls_namespace="api",
    auth=API_AUTH,
    # Swagger UI from ninja's bundled static files; no validator badge (it would call validator.swagger.io).
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": False}),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
problems.install(api)
api.add_router("", system.router)
api.add_router("", org.router)
api.add_router("", audit.router)
api.add_router("", pushes.router)
api.add_router("", "civicpush.api.routers.coins.router")
api.add_router("", "civicpush.api.routers.surveys.router")
api.add_router("", "civicpush.api.routers.devices.router")
api.add_router("", "civicpush.api.routers.stores.router")
api.add_router("", "civicpush.api.routers.cases.router")
