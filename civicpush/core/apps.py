from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "civicpush.core"
    label = "core"
    verbose_name = "Core"
