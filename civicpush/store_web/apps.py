from django.apps import AppConfig


class StoreWebConfig(AppConfig):
    name = "civicpush.store_web"
    label = "store_web"
