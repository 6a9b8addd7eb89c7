from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "civicpush.api"
    label = "api"
