from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    """Case progress (申辦進度): agency systems open cases and post events; citizens follow them."""

    name = "civicpush.cases"
    label = "cases"
    verbose_name = _("Case progress")
