"""The 11 TTPush topics. Stored on profiles as a bitmask so audience filters stay one integer test."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Topic(models.IntegerChoices):
    # The value is the bit position; never renumber (stored masks depend on it).
    TOURISM = 0, _("觀光")
    INTERNATIONAL = 1, _("國際發展")
    TRAFFIC = 2, _("交通措施")
    LOCAL_LIFE = 3, _("地方生活")
    COUNTY_NEWS = 4, _("縣政快訊")
    SOCIAL_CARE = 5, _("社會關懷")
    INDIGENOUS = 6, _("原住資訊")
    DISEASE_PREVENTION = 7, _("疾病防治")
    ENVIRONMENT = 8, _("環境保護")
    SPORTS_LEISURE = 9, _("體育休閒")
    EDUCATION = 10, _("教育訊息")


def topics_to_mask(topics: list[int]) -> int:
    mask = 0
    for t in topics:
        mask |= 1 << int(Topic(int(t)))
    return mask


def mask_to_topics(mask: int) -> list[int]:
    return [t.value for t in Topic if mask & (1 << t.value)]
