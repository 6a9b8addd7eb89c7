"""Segment filters: each built-in filter, the age edges, topics any-of, and a three-filter count."""

from __future__ import annotations

import datetime
import random
from typing import Any

import pytest
import time_machine
from django.utils import translation

from civicpush.audiences import segments
from civicpush.audiences.segments import citizens_matching, register_filter, validate_filters
from civicpush.audiences.selectors import estimate_filters
from civicpush.citizens.models import CitizenProfile, CitizenStatus
from civicpush.citizens.topics import Topic
from civicpush.core.errors import ValidationFailed

from .factories import TownshipFactory, VillageFactory, make_citizen

pytestmark = pytest.mark.django_db

# 2026-06-15 noon in Taipei: the current Taipei year is 2026.
MID_2026 = datetime.datetime(2026, 6, 15, 4, 0, tzinfo=datetime.UTC)


def matching(filters: dict[str, Any]) -> set[int]:
    return set(citizens_matching(validate_filters(filters)))


def test_townships_filter_matches_any_of_the_chosen_townships() -> None:
    a, b, c = TownshipFactory(), TownshipFactory(), TownshipFactory()
    in_a, in_b = make_citizen(township=a), make_citizen(township=b)
    make_citizen(township=c)
    make_citizen(township=None)
    assert matching({"townships": [a.pk, b.pk]}) == {in_a.pk, in_b.pk}


def test_villages_filter() -> None:
    v1, v2 = VillageFactory(), VillageFactory()
    inside = make_citizen(township=v1.township, village=v1)
    make_citizen(township=v2.township, village=v2)
    assert matching({"villages": [v1.pk]}) == {inside.pk}


@time_machine.travel(MID_2026, tick=False)
def test_age_range_includes_both_edges() -> None:
    born = {year: make_citizen(birth_year=year) for year in (1961, 1962, 1996, 1997)}
    make_citizen(birth_year=None)
    # Age 30 to 64 in 2026: born 1962 (64) to 1996 (30).
    assert matching({"age_min": 30, "age_max": 64}) == {born[1962].pk, born[1996].pk}
    assert matching({"age_min": 30}) == {born[1961].pk, born[1962].pk, born[1996].pk}
    assert matching({"age_max": 29}) == {born[1997].pk}


def test_age_uses_the_taipei_calendar_year() -> None:
    born_1997 = make_citizen(birth_year=1997)
    # 16:30 UTC on 31 December 2026 is already 1 January 2027 in Taipei: the citizen turns 30.
    with time_machine.travel(datetime.datetime(2026, 12, 31, 16, 30, tzinfo=datetime.UTC), tick=False):
        assert matching({"age_min": 30}) == {born_1997.pk}
    with time_machine.travel(datetime.datetime(2026, 12, 31, 15, 30, tzinfo=datetime.UTC), tick=False):
        assert matching({"age_min": 30}) == set()


def test_genders_filter() -> None:
    female = make_citizen(gender="female")
    other = make_citizen(gender="other")
    make_citizen(gender="male")
    assert matching({"genders": ["female", "other"]}) == {female.pk, other.pk}


def test_topics_filter_matches_citizens_following_any_of_the_topics() -> None:
    tourism = make_citizen(topics=[Topic.TOURISM])
    both = make_citizen(topics=[Topic.TOURISM, Topic.EDUCATION])
    education = make_citizen(topics=[Topic.EDUCATION, Topic.TRAFFIC])
    make_citizen(topics=[Topic.SPORTS_LEISURE])
    make_citizen(topics=[])
    assert matching({"topics": [Topic.TOURISM, Topic.EDUCATION]}) == {tourism.pk, both.pk, education.pk}
    assert matching({"topics": [Topic.EDUCATION]}) == {both.pk, education.pk}


def test_residency_filter() -> None:
    digital = make_citizen(residency="digital")
    make_citizen(residency="resident")
    assert matching({"residency": ["digital"]}) == {digital.pk}


def test_tags_filter_counts_a_citizen_with_two_of_the_tags_once() -> None:
    both = make_citizen(tags=["義消", "婦宣"])
    one = make_citizen(tags=["鳳志"])
    make_citizen(tags=["其他"])
    assert matching({"tags": ["義消", "婦宣", "鳳志"]}) == {both.pk, one.pk}
    assert estimate_filters({"tags": ["義消", "婦宣", "鳳志"]}) == 2


def test_has_app_means_the_citizen_has_an_active_device() -> None:
    # The delivery app replaces the stand-in ("has used the app") with "has an active device".
    from civicpush.delivery.models import Device

    with_device = make_citizen(last_seen_at=MID_2026)
    used_app_without_device = make_citizen(last_seen_at=MID_2026)
    device_removed = make_citizen(last_seen_at=MID_2026)
    for owner, removed in ((with_device, None), (device_removed, MID_2026)):
        Device.objects.create(
            citizen=owner, kind="fcm", address=f"token-{owner.pk}", address_hash=f"{owner.pk:064d}", removed_at=removed
        )
    assert matching({"has_app": True}) == {with_device.pk}
    assert matching({"has_app": False}) == {used_app_without_device.pk, device_removed.pk}


def test_only_active_citizens_with_a_profile_match() -> None:
    township = TownshipFactory()
    active = make_citizen(township=township)
    deleted = make_citizen(township=township)
    deleted.status = CitizenStatus.DELETED
    deleted.save()
    make_citizen(profile=False)
    assert matching({"townships": [township.pk]}) == {active.pk}
    assert estimate_filters({"has_app": False}) == 1


@time_machine.travel(MID_2026, tick=False)
def test_three_filter_count_equals_a_count_computed_in_python() -> None:
    rng = random.Random(20260615)
    townships = [TownshipFactory() for _ in range(6)]
    for _ in range(500):
        make_citizen(
            township=rng.choice([*townships, None]),
            birth_year=rng.choice([None, *range(1930, 2020)]),
            topics=rng.sample(list(Topic.values), rng.randint(0, 4)),
            gender=rng.choice(["female", "male", "other", "undisclosed"]),
        )
    chosen = {townships[0].pk, townships[2].pk, townships[4].pk}
    topics = [Topic.TOURISM, Topic.DISEASE_PREVENTION]
    mask = (1 << Topic.TOURISM) | (1 << Topic.DISEASE_PREVENTION)
    expected = sum(
        1
        for p in CitizenProfile.objects.all()
        if p.township_id in chosen
        and p.birth_year is not None
        and 30 <= 2026 - p.birth_year <= 64
        and p.topics_mask & mask
    )
    assert expected > 20  # the data set exercises the filters
    filters = {"townships": sorted(chosen), "age_min": 30, "age_max": 64, "topics": topics}
    assert estimate_filters(filters) == expected
    assert citizens_matching(validate_filters(filters)).count() == expected


def test_unknown_filter_keys_are_refused() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_filters({"townships": [], "favourite_colour": ["blue"]})
    assert set(exc.value.field_errors) == {"townships", "favourite_colour"}


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"age_min": -1}, "age_min"),
        ({"age_max": "old"}, "age_max"),
        ({"age_min": 65, "age_max": 30}, "age_max"),
        ({"genders": ["robot"]}, "genders"),
        ({"topics": [99]}, "topics"),
        ({"residency": ["martian"]}, "residency"),
        ({"townships": [999999]}, "townships"),
        ({"villages": ["x"]}, "villages"),
        ({"tags": [""]}, "tags"),
        ({"has_app": "yes"}, "has_app"),
    ],
)
def test_invalid_filter_values_are_refused_with_a_field_error(filters: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_filters(filters)
    assert field in exc.value.field_errors


def test_filter_errors_are_translated_to_traditional_chinese() -> None:
    with translation.override("zh-hant"), pytest.raises(ValidationFailed) as exc:
        validate_filters({"age_min": 65, "age_max": 30})
    assert str(exc.value.field_errors["age_max"][0]) == "最高年齡不可低於最低年齡。"
    with translation.override("zh-hant"), pytest.raises(ValidationFailed) as exc:
        validate_filters({"nope": 1})
    assert str(exc.value.field_errors["nope"][0]) == "沒有這個篩選條件。"


def test_another_app_can_register_a_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments, "_REGISTRY", dict(segments._REGISTRY))
    odd = make_citizen()
    make_citizen()

    def apply_fn(qs: Any, value: bool) -> Any:
        return qs.filter(citizen_id=odd.pk) if value else qs

    register_filter("example_filter", apply_fn, segments.validate_bool("example_filter"))
    assert matching({"example_filter": True}) == {odd.pk}
    with pytest.raises(ValueError, match="already registered"):
        register_filter("example_filter", apply_fn, segments.validate_bool("example_filter"))
