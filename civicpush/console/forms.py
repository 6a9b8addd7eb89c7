"""Console forms: they parse and validate input; services decide and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from civicpush.org.models import ApiKeyKind, Unit
from civicpush.org.roles import COUNTY_WIDE_ROLES, Role

from .audit_selectors import AuditFilters

UNIT_ROLE_CHOICES = [(value, label) for value, label in Role.choices if value not in COUNTY_WIDE_ROLES]


class AddStaffForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    display_name = forms.CharField(label=_("Display name"), max_length=100)
    email = forms.EmailField(label=_("E-mail"), required=False)
    office_phone = forms.CharField(label=_("Office phone"), max_length=32, required=False)
    mobile = forms.CharField(label=_("Mobile"), max_length=20, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=UNIT_ROLE_CHOICES, initial=Role.DRAFTER)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "off", "autocapitalize": "none"})
        self.fields["email"].widget.attrs.update({"autocomplete": "off"})
        self.fields["office_phone"].widget = forms.TextInput(attrs={"type": "tel", "autocomplete": "off"})
        self.fields["mobile"].widget = forms.TextInput(attrs={"type": "tel", "autocomplete": "off"})


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Key name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=ApiKeyKind.choices, initial=ApiKeyKind.TEST)


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("Action (starts with)"), max_length=120, required=False)
    actor = forms.CharField(label=_("Actor user name"), max_length=150, required=False)
    unit = forms.TypedChoiceField(label=_("Unit"), required=False, coerce=int, empty_value=None)
    date_from = forms.DateField(label=_("From (date)"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To (date)"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    object_type = forms.CharField(label=_("Object type"), max_length=80, required=False)

    def __init__(self, *args: Any, units: list[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [("", _("All units"))] + [  # type: ignore[attr-defined]
            (str(u.pk), "\u3000" * u.depth + u.name) for u in units
        ]
        self.fields["action"].widget.attrs.update({"placeholder": "org.unit"})

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filters(self) -> AuditFilters:
        d = self.cleaned_data
        return AuditFilters(
            action_prefix=d.get("action") or "",
            actor_username=d.get("actor") or "",
            unit_id=d.get("unit"),
            date_from=d.get("date_from"),
            date_to=d.get("date_to"),
            object_type=d.get("object_type") or "",
        )
