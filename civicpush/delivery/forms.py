"""Forms for the citizen's notification settings: they parse; `devices.do_set_channel_preferences`
validates the meaning and writes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ChannelPreference


class ChannelPreferenceForm(forms.Form):
    app_enabled = forms.BooleanField(
        label=_("Notifications on my devices"),
        help_text=_("A notification pops up on each device below where you turned notifications on."),
        required=False,
    )
    sms_enabled = forms.BooleanField(
        label=_("SMS when no device can show notifications"),
        help_text=_(
            "Personal notices, such as case progress or bill reminders, reach you by SMS from the government short code 111."
        ),
        required=False,
    )
    email_enabled = forms.BooleanField(
        label=_("Also by e-mail"),
        help_text=_("A copy of each personal notice goes to the e-mail address below."),
        required=False,
    )
    email = forms.EmailField(
        label=_("E-mail address"),
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
        error_messages={"invalid": _("Enter a valid e-mail address.")},
    )

    @classmethod
    def initial_from(cls, pref: ChannelPreference) -> dict[str, Any]:
        return {
            "app_enabled": pref.app_enabled,
            "sms_enabled": pref.sms_enabled,
            "email_enabled": pref.email_enabled,
            "email": pref.email,
        }
