from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "civicpush.demo"
    label = "demo"
