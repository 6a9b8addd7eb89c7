"""Console forms for pushes: they parse input into the values the pushes services take.

The services (civicpush.pushes.services) hold every rule; these forms only turn strings into types
and carry the services' field errors back to the page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from civicpush.citizens.topics import Topic
from civicpush.org.roles import Role
from civicpush.pushes.chains import approver_roles
from civicpush.pushes.models import ChainScope, Push, PushStatus, PushType, ScheduleKind, TargetKind, Urgency

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format=DATETIME_LOCAL)


class ComposeForm(forms.Form):
    """Every field a drafter fills in. Nothing here is required: the service says what is missing."""

    push_type = forms.ChoiceField(
        label=_("Push type"), choices=PushType.choices, widget=forms.RadioSelect, required=False
    )
    title = forms.CharField(
        label=_("Title"),
        help_text=_("Written as [tag]title, for example [防火]居家安全宣導; at most 30 full-width characters."),
        max_length=120,
        required=False,
    )
    subtitle = forms.CharField(label=_("Subtitle"), max_length=120, required=False)
    body = forms.CharField(
        label=_("Message text"),
        help_text=_("At most 120 full-width characters; a half-width character counts ½."),
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
    )
    link = forms.CharField(label=_("Link (http or https)"), max_length=500, required=False)
    planned_date = forms.DateField(
        label=_("Planned date (or event date)"), widget=forms.DateInput(attrs={"type": "date"}), required=False
    )
    topic = forms.TypedChoiceField(
        label=_("Topic"), choices=[("", "—"), *Topic.choices], coerce=int, empty_value=None, required=False
    )
    contact_name = forms.CharField(label=_("Contact person"), max_length=60, required=False)
    contact_phone = forms.CharField(
        label=_("Office phone"), max_length=40, required=False, widget=forms.TextInput(attrs={"type": "tel"})
    )
    contact_email = forms.CharField(
        label=_("Contact e-mail"), max_length=254, required=False, widget=forms.TextInput(attrs={"type": "email"})
    )
    takes_registrations = forms.BooleanField(label=_("Takes registrations or applications"), required=False)
    urgency = forms.ChoiceField(
        label=_("Urgency"), choices=Urgency.choices, widget=forms.RadioSelect, required=False, initial=Urgency.NORMAL
    )
    valid_from = forms.DateTimeField(label=_("Valid from"), widget=DateTimeLocalInput(), required=False)
    valid_to = forms.DateTimeField(label=_("Valid until"), widget=DateTimeLocalInput(), required=False)
    is_routine_promotion = forms.BooleanField(
        label=_("Routine promotion (例行性宣導): goes out in a county slot"), required=False
    )
    pinned = forms.BooleanField(label=_("Pinned at the top of the inbox (notices only)"), required=False)
    questionnaire_text = forms.CharField(
        label=_("Questionnaire"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    coin_amount = forms.CharField(label=_("Coins awarded"), max_length=10, required=False)
    coin_method = forms.CharField(label=_("How coins are awarded"), max_length=220, required=False)
    remarks = forms.CharField(label=_("Remarks"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    target_kind = forms.ChoiceField(
        label=_("Send it to"), choices=TargetKind.choices, widget=forms.RadioSelect, required=False
    )
    target_person = forms.CharField(
        label=_("Citizen's mobile or ID number"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    target_group_ids = forms.TypedMultipleChoiceField(
        label=_("Groups"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, group_choices: list[tuple[int, str]], offer_everyone: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target_group_ids"].choices = group_choices  # type: ignore[attr-defined]
        if not offer_everyone:
            # Only hidden from the page: a posted "everyone" still reaches the service, which refuses
            # it with the rule's own message (seed 000 §3).
            self.fields["target_kind"].widget.choices = [  # type: ignore[attr-defined]
                c for c in TargetKind.choices if c[0] != TargetKind.EVERYONE
            ]
        self.fields["body"].widget.attrs.update(
            {
                "data-width-counter": "#body-count",
                "data-width-max": "120",
                "aria-describedby": "body-count id_body_help",
            }
        )
        self.fields["coin_amount"].widget.attrs.update({"inputmode": "numeric"})

    def service_fields(self, *, has_person: bool) -> dict[str, Any]:
        """The cleaned values as keyword arguments for do_create_draft / do_update_draft.

        An empty person field keeps the citizen already chosen (it is never shown back)."""
        d = self.cleaned_data
        out: dict[str, Any] = {
            k: d.get(k)
            for k in (
                "push_type", "title", "subtitle", "body", "link", "planned_date", "topic",
                "contact_name", "contact_phone", "contact_email", "takes_registrations", "urgency",
                "valid_from", "valid_to", "is_routine_promotion", "pinned", "questionnaire_text",
                "coin_amount", "coin_method", "remarks", "target_kind",
            )
        }  # fmt: skip
        out["urgency"] = out["urgency"] or Urgency.NORMAL
        out["target_kind"] = out["target_kind"] or TargetKind.GROUPS
        if out["target_kind"] == TargetKind.PERSON and (d.get("target_person") or not has_person):
            out["target_person"] = d.get("target_person") or ""
        if out["target_kind"] == TargetKind.GROUPS:
            out["target_group_ids"] = d.get("target_group_ids") or []
        return out

    def add_service_errors(self, field_errors: dict[str, list[Any]]) -> None:
        for field, errors in field_errors.items():
            name = {"national_id": "target_person", "phone": "target_person", "image": None}.get(field, field)
            for error in errors:
                self.add_error(name if name in self.fields else None, str(error))


def initial_from_push(push: Push) -> dict[str, Any]:
    """The form's values for an existing push (aware datetimes render in Asia/Taipei)."""
    return {
        "push_type": push.push_type,
        "title": push.full_title,
        "subtitle": push.subtitle,
        "body": push.body,
        "link": push.link,
        "planned_date": push.planned_date,
        "topic": push.topic,
        "contact_name": push.contact_name,
        "contact_phone": push.contact_phone,
        "contact_email": push.contact_email,
        "takes_registrations": push.takes_registrations,
        "urgency": push.urgency,
        "valid_from": push.valid_from,
        "valid_to": push.valid_to,
        "is_routine_promotion": push.is_routine_promotion,
        "pinned": push.pinned,
        "questionnaire_text": push.questionnaire_text,
        "coin_amount": "" if push.coin_amount is None else str(push.coin_amount),
        "coin_method": push.coin_method,
        "remarks": push.remarks,
        "target_kind": push.target_kind,
        "target_group_ids": list(push.target_group_links.values_list("group_id", flat=True)),
    }


class PushFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False)
    push_type = forms.ChoiceField(label=_("Push type"), required=False)
    unit = forms.TypedChoiceField(label=_("Unit"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, units: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("All statuses")), *PushStatus.choices]  # type: ignore[attr-defined]
        self.fields["push_type"].choices = [("", _("All types")), *PushType.choices]  # type: ignore[attr-defined]
        self.fields["unit"].choices = [("", _("All units"))] + [  # type: ignore[attr-defined]
            (str(u.pk), "\u3000" * u.depth + u.name) for u in units
        ]


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approved", "approved"), ("returned", "returned"), ("rejected", "rejected")])
    comment = forms.CharField(
        label=_("Comment (needed to return or reject)"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


SLOT = "slot"


class ScheduleForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("When to send"),
        choices=[
            (ScheduleKind.NOW, _("Now (held to the end of quiet hours)")),
            (ScheduleKind.AT, _("At a set time")),
            (ScheduleKind.DAILY, _("Daily at a fixed time until a date")),
            (SLOT, _("In a county slot (routine promotion)")),
        ],
        widget=forms.RadioSelect,
        initial=ScheduleKind.NOW,
    )
    send_at = forms.DateTimeField(label=_("Send at"), widget=DateTimeLocalInput(), required=False)
    daily_time = forms.TimeField(
        label=_("Daily at"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"), required=False
    )
    daily_until = forms.DateField(label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}), required=False)
    slot = forms.TypedChoiceField(label=_("County slot"), coerce=int, empty_value=None, required=False)

    def __init__(self, *args: Any, slot_choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slot"].choices = [("", "—"), *slot_choices]  # type: ignore[attr-defined]


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)


class ImageForm(forms.Form):
    image = forms.FileField(label=_("Image (JPEG, PNG or WebP, at most 5 MB)"))
    alt_text = forms.CharField(label=_("Image description (for screen readers)"), max_length=200, required=False)


class SlotForm(forms.Form):
    starts_at = forms.DateTimeField(label=_("Starts at"), widget=DateTimeLocalInput())
    capacity = forms.IntegerField(label=_("Capacity (pushes)"), min_value=1, max_value=100, initial=5)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


CHAIN_STEPS = 5


class ChainForm(forms.Form):
    """A chain is the drafter followed by up to five approving roles, in order."""

    level = forms.ChoiceField(
        label=_("Applies to"),
        choices=[("county", _("The whole county (default)")), ("agency", _("One agency")), ("unit", _("One unit"))],
    )
    agency = forms.TypedChoiceField(label=_("Agency"), coerce=int, empty_value=None, required=False)
    unit = forms.TypedChoiceField(label=_("Unit"), coerce=int, empty_value=None, required=False)
    applies_to = forms.ChoiceField(label=_("For pushes to"), choices=ChainScope.choices)

    def __init__(self, *args: Any, agencies: list[Any], units: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agency"].choices = [("", "—")] + [(str(a.pk), a.name) for a in agencies]  # type: ignore[attr-defined]
        self.fields["unit"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (str(u.pk), f"{u.agency.name} {u.name}") for u in units
        ]
        role_choices = [("", "—")] + [(r, Role(r).label) for r in approver_roles()]
        for i in range(1, CHAIN_STEPS + 1):
            self.fields[f"step_{i}"] = forms.ChoiceField(
                label=_("Approval step %(n)s") % {"n": i}, choices=role_choices, required=False
            )

    def step_fields(self) -> list[forms.BoundField]:
        return [self[f"step_{i}"] for i in range(1, CHAIN_STEPS + 1)]

    def roles(self) -> list[str]:
        return [Role.DRAFTER] + [
            self.cleaned_data[f"step_{i}"] for i in range(1, CHAIN_STEPS + 1) if self.cleaned_data.get(f"step_{i}")
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("level") == "agency" and not data.get("agency"):
            self.add_error("agency", _("Choose the agency."))
        if data.get("level") == "unit" and not data.get("unit"):
            self.add_error("unit", _("Choose the unit."))
        return data


class PolicyForm(forms.Form):
    quiet_start = forms.TimeField(
        label=_("Quiet hours start"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    quiet_end = forms.TimeField(
        label=_("Quiet hours end"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    daily_promotion_cap = forms.IntegerField(
        label=_("Promotional pushes a citizen receives a day, at most"), min_value=0, max_value=50
    )
