"""Factories for audiences tests: townships, villages, citizens with a profile, groups."""

from __future__ import annotations

from typing import Any

import factory
from django.utils import timezone

from civicpush.audiences.models import CitizenTag, Group, GroupKind
from civicpush.citizens import national_id
from civicpush.citizens.models import Citizen, CitizenProfile, ConsentRecord, Township, Village
from civicpush.citizens.topics import topics_to_mask
from civicpush.org.models import County
from civicpush.org.tests.factories import CountyFactory


def county() -> County:
    return CountyFactory(code="10014", name="臺東縣")


class TownshipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Township

    county = factory.LazyFunction(county)
    code = factory.Sequence(lambda n: f"T{n:07d}")
    name = factory.Sequence(lambda n: f"測試鄉{n}")


class VillageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Village

    township = factory.SubFactory(TownshipFactory)
    name = factory.Sequence(lambda n: f"測試村{n}")
    valid_from = factory.LazyFunction(lambda: timezone.localdate().replace(year=2000))


class CitizenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Citizen

    county = factory.LazyFunction(county)
    phone_e164 = factory.Sequence(lambda n: f"+8869{n:08d}")


def valid_national_id(letter: str = "A", serial: int = 12345670) -> str:
    """A checksum-valid national ID: letter, '1', eight digits, the last chosen to make the checksum."""
    stem = f"{letter}1{serial:07d}"
    for last in range(10):
        candidate = f"{stem}{last}"
        if national_id.has_valid_checksum(candidate):
            return candidate
    raise AssertionError("unreachable")


def make_citizen(
    *,
    township: Township | None = None,
    village: Village | None = None,
    birth_year: int | None = None,
    gender: str = "undisclosed",
    topics: list[int] | None = None,
    residency: str = "resident",
    tags: list[str] | None = None,
    national_id_number: str | None = None,
    profile: bool = True,
    **citizen_fields: Any,
) -> Citizen:
    """A citizen with consent and a profile (unless profile=False)."""
    citizen = CitizenFactory(**citizen_fields)
    if profile:
        consent = ConsentRecord.objects.create(citizen=citizen, notice_version="test-1", accepted_at=timezone.now())
        CitizenProfile.objects.create(
            citizen=citizen,
            consent=consent,
            township=township,
            village=village,
            birth_year=birth_year,
            gender=gender,
            topics_mask=topics_to_mask(topics or []),
            residency=residency,
            national_id_hmac=national_id.lookup_hash(national_id_number) if national_id_number else None,
            national_id_masked=national_id.mask(national_id_number) if national_id_number else "",
        )
    for tag in tags or []:
        CitizenTag.objects.create(citizen=citizen, tag=tag)
    return citizen


class GroupFactory(factory.django.DjangoModelFactory):
    """A group row straight in the database (services are what the tests exercise)."""

    class Meta:
        model = Group

    unit = None
    county = factory.SelfAttribute("unit.county")
    name = factory.Sequence(lambda n: f"群組{n}")
    kind = GroupKind.STATIC
