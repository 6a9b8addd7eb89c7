from django.apps import AppConfig


class CoinsConfig(AppConfig):
    name = "civicpush.coins"
    label = "coins"
    verbose_name = "Taitung Coin"
