from django.apps import AppConfig


class StoresConfig(AppConfig):
    name = "civicpush.stores"
    label = "stores"
    verbose_name = "Partner stores and settlement"
