from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    """Events (活動): registration with capacity and waitlist, QR tickets, check-in and check-out,
    attendance coins and the satisfaction questionnaire after."""

    name = "civicpush.events"
    label = "events"
    verbose_name = _("Events")

    def ready(self) -> None:
        from . import segments  # noqa: F401  (registers the "attended_event" dynamic-group filter)
