from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    """Questionnaires and quizzes on questionnaire pushes, with first-N coin rewards."""

    name = "civicpush.surveys"
    label = "surveys"
    verbose_name = _("Questionnaires")

    def ready(self) -> None:
        from civicpush.audiences.segments import register_filter
        from civicpush.core import personal_data
        from civicpush.pushes.services import register_hook

        from . import services
        from .personal_data import erase_survey_data, export_survey_data
        from .segments import apply_answered_survey, validate_survey_ids

        # Pushes know nothing of surveys: these hooks run inside the pushes services' transactions.
        register_hook("submit", services.on_push_submitted)
        register_hook("approved", services.on_push_approved)
        register_hook("cancelled", services.on_push_cancelled)
        register_filter("answered_survey", apply_answered_survey, validate_survey_ids, replace=True)
        personal_data.register("surveys", exporter=export_survey_data, eraser=erase_survey_data)
