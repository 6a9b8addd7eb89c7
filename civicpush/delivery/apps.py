from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeliveryConfig(AppConfig):
    """Devices and channels (Web Push, FCM, APNs, SMS, e-mail) and the fan-out of frozen dispatches."""

    name = "civicpush.delivery"
    label = "delivery"
    verbose_name = _("Delivery")
