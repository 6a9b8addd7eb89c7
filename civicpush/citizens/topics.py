"""The 11 TTPush topics. Stored on profiles as a bitmask so audience filters stay one integer test."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Topic(models.IntegerChoices):
    # The value is the bit position; never renumber (stored masks depend on it).
    TOURISM = 0, _("Tourism")
    INTERNATIONAL = 1, _("International development")
    TRAFFIC = 2, _("Traffic measures")
    LOCAL_LIFE = 3, _("Local life")
    COUNTY_NEWS = 4, _("County news")
    SOCIAL_CARE = 5, _("Social care")
    INDIGENOUS = 6, _("Indigenous affairs")
    DISEASE_PREVENTION = 7, _("Disease prevention")
    ENVIRONMENT = 8, _("Environmental protection")
    SPORTS_LEISURE = 9, _("Sports and leisure")
    EDUCATION = 10, _("Education")


def topics_to_mask(topics: list[int]) -> int:
    mask = 0
    for t in topics:
        mask |= 1 << int(Topic(int(t)))
    return mask


def mask_to_topics(mask: int) -> list[int]:
    return [t.value for t in Topic if mask & (1 << t.value)]
