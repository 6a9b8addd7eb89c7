from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    """The feedback mailbox (意見箱) and the units' FAQ pages."""

    name = "civicpush.feedback"
    label = "feedback"
    verbose_name = _("Feedback")
