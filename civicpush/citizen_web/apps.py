from django.apps import AppConfig


class CitizenWebConfig(AppConfig):
    name = "civicpush.citizen_web"
    label = "citizen_web"
