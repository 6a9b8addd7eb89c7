from django.apps import AppConfig


class CoinsConfig(AppConfig):
    name = "civicpush.coins"
    label = "coins"
    verbose_name = "Taitung Coin"

    def ready(self) -> None:
        from . import fastpath_api

        fastpath_api.register()  # POST /api/v1/coins/transfers for unit API keys in front of Django (ADR 0014)
