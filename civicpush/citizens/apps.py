from django.apps import AppConfig


class CitizensConfig(AppConfig):
    name = "civicpush.citizens"
    label = "citizens"
    verbose_name = "Citizens"

    def ready(self) -> None:
        from civicpush.core import personal_data

        from .selectors import export_citizen_section
        from .services import erase_citizen_personal_data

        personal_data.register("citizen", exporter=export_citizen_section, eraser=erase_citizen_personal_data)
