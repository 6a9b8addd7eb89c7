from django.apps import AppConfig


class CitizenWebConfig(AppConfig):
    name = "civicpush.citizen_web"
    label = "citizen_web"

    def ready(self) -> None:
        from . import fastpath

        fastpath.register()  # GET / for a signed-in citizen, before Django (ADR 0014, "Inbox")
