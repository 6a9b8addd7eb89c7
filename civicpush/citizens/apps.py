from django.apps import AppConfig


class CitizensConfig(AppConfig):
    name = "civicpush.citizens"
    label = "citizens"
    verbose_name = "Citizens"
