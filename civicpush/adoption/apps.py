from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdoptionConfig(AppConfig):
    """Staff adoption roster (下載使用人員一覽表), awards (獎懲) and the county dashboard."""

    name = "civicpush.adoption"
    label = "adoption"
    verbose_name = _("Adoption and awards")
