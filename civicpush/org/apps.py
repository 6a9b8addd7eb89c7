from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "civicpush.org"
    label = "org"
    verbose_name = "Organisation"
