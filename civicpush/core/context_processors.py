from django.conf import settings
from django.http import HttpRequest


def civicpush(request: HttpRequest) -> dict[str, object]:
    return {"DEMO_MODE": settings.DEMO_MODE, "APP_NAME": settings.APP_NAME}
