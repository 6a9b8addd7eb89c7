from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParkingConfig(AppConfig):
    """Roadside parking fees paid with coins (seed 001): plates, operator bills, holds, auto-deduct."""

    name = "civicpush.parking"
    label = "parking"
    verbose_name = _("Parking")

    def ready(self) -> None:
        from civicpush.core import personal_data

        from .personal_data import erase_parking, export_parking

        personal_data.register("parking", exporter=export_parking, eraser=erase_parking)
