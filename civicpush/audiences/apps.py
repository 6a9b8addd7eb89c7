from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "civicpush.audiences"
    label = "audiences"
    verbose_name = "Audiences"

    def ready(self) -> None:
        from civicpush.core import personal_data

        from . import segments  # noqa: F401 - registers the built-in filters
        from .personal_data import erase_audience_data, export_audience_data

        personal_data.register("audiences", exporter=export_audience_data, eraser=erase_audience_data)
