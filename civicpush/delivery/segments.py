"""Delivery's entries in other domains' registries, made once when `DeliveryConfig.ready()` imports
this module:

- audiences: the dynamic-group filter "has_app" means "has an active device" (a Web Push
  subscription or an app token not removed), replacing the audiences app's stand-in ("has used the
  app"). One EXISTS on delivery_device's (citizen, removed_at) index, so a count stays one statement.
- core.personal_data: devices and channel preferences are part of the citizen's export, and are
  scrubbed when the account is deleted.
"""

from __future__ import annotations

from django.db.models import QuerySet

from civicpush.audiences.segments import register_filter, validate_bool
from civicpush.citizens.models import CitizenProfile
from civicpush.core import personal_data

from .devices import erase_delivery_data, export_delivery_data, has_active_device_q


def apply_has_active_device(qs: QuerySet[CitizenProfile], has_app: bool) -> QuerySet[CitizenProfile]:
    has_device = has_active_device_q("citizen_id")
    return qs.filter(has_device if has_app else ~has_device)


register_filter("has_app", apply_has_active_device, validate_bool("has_app"), replace=True)
personal_data.register("delivery", exporter=export_delivery_data, eraser=erase_delivery_data)
