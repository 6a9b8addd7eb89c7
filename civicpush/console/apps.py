from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "civicpush.console"
    label = "console"
