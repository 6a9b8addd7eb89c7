"""Citizen forms: they only parse; the services validate the meaning and write."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicpush.citizens.models import Gender, Residency, Township, Village
from civicpush.citizens.selectors import villages_valid_on
from civicpush.citizens.topics import Topic
from civicpush.core.forms import apply_domain_error

__all__ = ["apply_domain_error"]  # re-exported for the citizen views


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=32,
        help_text=_("For example 0912-345-678. We send a 6-digit code by SMS."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("6-digit code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*", "autofocus": True}
        ),
    )


class ConsentForm(forms.Form):
    accept = forms.BooleanField(
        label=_("I have read the privacy notice and agree to the collection and use of my data as it describes."),
        required=True,
        error_messages={"required": _("Please tick the box to accept the privacy notice.")},
    )
    notice_version = forms.CharField(widget=forms.HiddenInput)


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=50, required=False)
    township = forms.TypedChoiceField(label=_("Township"), coerce=int, required=False, empty_value=None)
    village = forms.TypedChoiceField(label=_("Village"), coerce=int, required=False, empty_value=None)
    birth_year = forms.IntegerField(
        label=_("Birth year (Western calendar)"),
        required=False,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    gender = forms.ChoiceField(label=_("Gender"), choices=Gender.choices, initial=Gender.UNDISCLOSED)
    residency = forms.ChoiceField(
        label=_("I am a"), choices=Residency.choices, initial=Residency.RESIDENT, widget=forms.RadioSelect
    )
    topics = forms.TypedMultipleChoiceField(
        label=_("Topics I want to hear about"),
        choices=Topic.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    national_id = forms.CharField(
        label=_("National ID or resident certificate number"),
        max_length=16,
        required=False,
        help_text=_("Needed later for tax and parking notices. Stored encrypted; staff only ever see it masked."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
    )
    remove_national_id = forms.BooleanField(label=_("Remove my ID number"), required=False)

    def __init__(self, *args: Any, county_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        townships = list(Township.objects.filter(county_id=county_id))
        cast(forms.ChoiceField, self.fields["township"]).choices = [
            ("", _("Choose…")),
            *((t.pk, t.name) for t in townships),
        ]
        # Without JavaScript every village is listed under its township; the script narrows the list.
        today = timezone.localdate()
        grouped: list[tuple[str, list[tuple[int, str]]]] = []
        for township in townships:
            villages: list[Village] = list(villages_valid_on(township, today))
            if villages:
                grouped.append((township.name, [(v.pk, v.name) for v in villages]))
        cast(forms.ChoiceField, self.fields["village"]).choices = [("", _("Choose…")), *grouped]
