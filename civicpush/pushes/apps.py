from django.apps import AppConfig


class PushesConfig(AppConfig):
    name = "civicpush.pushes"
    label = "pushes"
    verbose_name = "Pushes"
