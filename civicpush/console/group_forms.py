"""Console forms for groups: choosing unit and kind, the dynamic filter builder, members, sharing.

The filter form only turns the page's fields into a `Group.filters` dict; the domain
(`audiences.segments.validate_filters`) decides what is valid, so the rules live in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicpush.audiences.models import GroupKind
from civicpush.audiences.services import DESCRIPTION_MAX, NAME_MAX
from civicpush.citizens.models import Gender, Residency, Township, Village
from civicpush.citizens.topics import Topic
from civicpush.org.models import Unit

HAS_APP_CHOICES = [("", _("Either")), ("yes", _("Has used the app")), ("no", _("Has not used the app"))]
FILTER_FIELDS = ("townships", "villages", "age_min", "age_max", "genders", "topics", "residency", "tags", "has_app")


def townships_of(county_id: int) -> QuerySet[Township]:
    return Township.objects.filter(county_id=county_id).order_by("sort_order", "code")


def villages_of(township_ids: Iterable[int]) -> QuerySet[Village]:
    """Villages valid today in the chosen townships (reference data, public)."""
    today = timezone.localdate()
    return (
        Village.objects.filter(township_id__in=list(township_ids), valid_from__lte=today)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
        .select_related("township")
        .order_by("township__sort_order", "township__code", "name")
    )


class GroupStartForm(forms.Form):
    """Step one of "New group": which unit owns it and whether it is a list or a segment."""

    unit = forms.TypedChoiceField(label=_("Unit"), coerce=int)
    kind = forms.ChoiceField(label=_("Kind"), choices=GroupKind.choices, widget=forms.RadioSelect)

    def __init__(self, *args: Any, units: Iterable[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [(u.pk, u.name) for u in units]  # type: ignore[attr-defined]


class GroupForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=NAME_MAX)
    description = forms.CharField(
        label=_("Description"), max_length=DESCRIPTION_MAX, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class FilterForm(forms.Form):
    """The dynamic group builder. Every field is optional; the filled ones become filters (ANDed)."""

    townships = forms.TypedMultipleChoiceField(label=_("Townships"), coerce=int, required=False)
    villages = forms.TypedMultipleChoiceField(label=_("Villages"), coerce=int, required=False)
    age_min = forms.IntegerField(label=_("Lowest age"), required=False, min_value=0, max_value=130)
    age_max = forms.IntegerField(label=_("Highest age"), required=False, min_value=0, max_value=130)
    genders = forms.MultipleChoiceField(
        label=_("Genders"), choices=Gender.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    topics = forms.TypedMultipleChoiceField(
        label=_("Topics of interest"),
        choices=Topic.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    residency = forms.MultipleChoiceField(
        label=_("Residency"), choices=Residency.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=1000,
        help_text=_("Separate tags with commas. Citizens with any of the tags match."),
    )
    has_app = forms.ChoiceField(label=_("Uses the app"), choices=HAS_APP_CHOICES, required=False)

    def __init__(self, *args: Any, county_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        townships = list(townships_of(county_id))
        self.fields["townships"].choices = [(t.pk, t.name) for t in townships]  # type: ignore[attr-defined]
        chosen = self._chosen_townships()
        # Villages of the chosen townships only (the builder reloads this list when townships change).
        self.fields["villages"].choices = [  # type: ignore[attr-defined]
            (v.pk, f"{v.township.name} {v.name}") for v in villages_of(chosen)
        ]

    def _chosen_townships(self) -> list[int]:
        if self.is_bound:
            raw = self.data.getlist(self.add_prefix("townships")) if hasattr(self.data, "getlist") else []
        else:
            raw = self.initial.get("townships") or []
        out = []
        for value in raw:
            try:
                out.append(int(value))
            except (TypeError, ValueError):
                continue
        return out

    def filters(self) -> dict[str, Any]:
        """The filled fields as a `Group.filters` dict (call after is_valid())."""
        data = self.cleaned_data
        filters: dict[str, Any] = {}
        for key in ("townships", "villages", "genders", "topics", "residency"):
            if data.get(key):
                filters[key] = list(data[key])
        for key in ("age_min", "age_max"):
            if data.get(key) is not None:
                filters[key] = data[key]
        tags = [t.strip() for t in (data.get("tags") or "").replace("，", ",").split(",") if t.strip()]
        if tags:
            filters["tags"] = tags
        if data.get("has_app") in ("yes", "no"):
            filters["has_app"] = data["has_app"] == "yes"
        return filters

    @staticmethod
    def initial_from(filters: dict[str, Any]) -> dict[str, Any]:
        """Form initial values from stored filters (for a group's new version)."""
        initial = {k: v for k, v in filters.items() if k in FILTER_FIELDS and k not in ("tags", "has_app")}
        if filters.get("tags"):
            initial["tags"] = ", ".join(filters["tags"])
        if "has_app" in filters:
            initial["has_app"] = "yes" if filters["has_app"] else "no"
        return initial


class AddMemberForm(forms.Form):
    number = forms.CharField(
        label=_("Mobile number or ID number"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Member file (CSV or XLSX)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
    )


class ShareForm(forms.Form):
    units = forms.TypedMultipleChoiceField(
        label=_("Units"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    with_agency = forms.BooleanField(label=_("The whole agency"), required=False)

    def __init__(self, *args: Any, units: Iterable[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["units"].choices = [(u.pk, u.name) for u in units]  # type: ignore[attr-defined]


def describe_filters(filters: dict[str, Any]) -> list[tuple[str, str]]:
    """A dynamic group's filters in words, (label, value) pairs in the builder's order."""
    out: list[tuple[str, str]] = []
    sep = "、"
    if filters.get("townships"):
        names = Township.objects.filter(pk__in=filters["townships"]).order_by("sort_order", "code")
        out.append((str(_("Townships")), sep.join(t.name for t in names)))
    if filters.get("villages"):
        villages = Village.objects.filter(pk__in=filters["villages"]).select_related("township").order_by("name")
        out.append((str(_("Villages")), sep.join(f"{v.township.name}{v.name}" for v in villages)))
    if "age_min" in filters or "age_max" in filters:
        low, high = filters.get("age_min"), filters.get("age_max")
        if low is not None and high is not None:
            text = str(_("%(low)s to %(high)s years") % {"low": low, "high": high})
        elif low is not None:
            text = str(_("%(low)s years or older") % {"low": low})
        else:
            text = str(_("%(high)s years or younger") % {"high": high})
        out.append((str(_("Age")), text))
    if filters.get("genders"):
        out.append((str(_("Genders")), sep.join(str(Gender(g).label) for g in filters["genders"])))
    if filters.get("topics"):
        out.append((str(_("Topics of interest")), sep.join(str(Topic(t).label) for t in filters["topics"])))
    if filters.get("residency"):
        out.append((str(_("Residency")), sep.join(str(Residency(r).label) for r in filters["residency"])))
    if filters.get("tags"):
        out.append((str(_("Tags")), sep.join(filters["tags"])))
    if "has_app" in filters:
        out.append((str(_("Uses the app")), str(HAS_APP_CHOICES[1 if filters["has_app"] else 2][1])))
    known = {"townships", "villages", "age_min", "age_max", "genders", "topics", "residency", "tags", "has_app"}
    for key in sorted(set(filters) - known):  # filters registered by later apps
        out.append((key, str(filters[key])))
    return out
