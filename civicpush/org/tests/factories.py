"""Organisation factories for tests."""

from __future__ import annotations

import factory

from civicpush.demo.organisation import DemoOrganisation, create_fire_bureau
from civicpush.org.models import Agency, County, StaffUser, Unit, UnitKind


def build_fire_bureau() -> DemoOrganisation:
    return create_fire_bureau(password="demo-password-for-tests")


class CountyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = County
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"9{n:04d}")
    name = factory.Sequence(lambda n: f"測試縣{n}")


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    county = factory.SubFactory(CountyFactory)
    code = factory.Sequence(lambda n: f"agency{n}")
    name = factory.Sequence(lambda n: f"測試局{n}")


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit

    agency = factory.SubFactory(AgencyFactory)
    county = factory.SelfAttribute("agency.county")
    code = factory.Sequence(lambda n: f"unit{n}")
    name = factory.Sequence(lambda n: f"測試科{n}")
    kind = UnitKind.BUSINESS


class StaffUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffUser
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    display_name = factory.Sequence(lambda n: f"職員{n}")
    password = factory.django.Password("demo-password-for-tests")
