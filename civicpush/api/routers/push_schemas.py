"""Request and response schemas of the pushes API (routers/pushes.py)."""

from __future__ import annotations

import datetime
from typing import Literal

from ninja import Field, Schema

PushTypeIn = Literal["questionnaire", "promotion", "event", "notice"]
TargetKindIn = Literal["person", "groups", "everyone"]
UrgencyIn = Literal["normal", "urgent"]


class _PushContent(Schema):
    """Content fields, as on the console's push form (seed 000's review form)."""

    title: str | None = Field(None, description="`[tag]title`: the tag in brackets is split off into `title_tag`.")
    title_tag: str | None = Field(None, description="Used when `title` carries no `[tag]`.")
    subtitle: str | None = None
    body: str | None = Field(None, description="Plain text, at most 120 full-width characters (half-width = ½).")
    link: str | None = Field(None, description="http:// or https:// address.")
    planned_date: datetime.date | None = Field(None, description="Planned date (needed to submit).")
    topic: int | None = Field(None, description="Topic number (citizen interests).")
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    takes_registrations: bool | None = None
    urgency: UrgencyIn | None = None
    valid_from: datetime.datetime | None = None
    valid_to: datetime.datetime | None = None
    is_routine_promotion: bool | None = None
    pinned: bool | None = Field(None, description="Notices only.")
    questionnaire_text: str | None = None
    coin_amount: int | None = Field(None, description="Coins awarded (0, or at least 20).")
    coin_method: str | None = None
    remarks: str | None = None
    target_kind: TargetKindIn | None = Field(
        None, description="`everyone` is for business units (業務單位) only; `person` is for notices only."
    )
    target_person: str | None = Field(None, description="For `person`: the citizen's mobile or national ID number.")
    target_group_ids: list[int] | None = Field(None, description="For `groups`: groups the unit may use.")


class PushCreateIn(_PushContent):
    push_type: PushTypeIn
    title: str  # type: ignore[assignment]
    body: str  # type: ignore[assignment]
    target_kind: TargetKindIn = "groups"
    unit_id: int | None = Field(
        None,
        description="The drafting unit. Staff sessions: required. API keys: the key's unit (or one of its sub-units).",
    )


class PushUpdateIn(_PushContent):
    """Only the fields sent are changed. Any change to a submitted or approved push starts its sign-off again."""

    push_type: PushTypeIn | None = None


class NoticeIn(Schema):
    """A personal notice (通知) to one citizen, drafted and submitted in one call."""

    target_person: str = Field(description="The citizen's mobile (09xxxxxxxx or +8869…) or national ID number.")
    title: str = Field(description="`[tag]title`, at most 30 full-width characters.")
    body: str = Field(description="At most 120 full-width characters (half-width = ½).")
    subtitle: str | None = None
    link: str | None = None
    planned_date: datetime.date | None = Field(None, description="Defaults to today (Asia/Taipei).")
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    urgency: UrgencyIn | None = None
    valid_to: datetime.datetime | None = None
    remarks: str | None = None
    unit_id: int | None = Field(None, description="Staff sessions: required. API keys: defaults to the key's unit.")


class ScheduleIn(Schema):
    kind: Literal["now", "at"] = Field(description="`now`, or `at` a time (`send_at`).")
    send_at: datetime.datetime | None = Field(None, description="For `at`: ISO 8601 with a time zone.")


class ChainStepOut(Schema):
    step: int = Field(description="0 = the drafter (signs by submitting), then one per approval.")
    role: str
    role_label: str
    signed: bool
    signed_by: str | None = None
    signed_at: datetime.datetime | None = None


class DispatchOut(Schema):
    scheduled_for: datetime.datetime
    status: str
    frozen_at: datetime.datetime | None
    audience_size: int | None


class ScheduleOut(Schema):
    kind: str
    send_at: datetime.datetime | None
    daily_time: datetime.time | None
    daily_until: datetime.date | None
    dispatches: list[DispatchOut]


class PushOut(Schema):
    id: int
    unit_id: int
    unit_name: str
    push_type: str
    title: str = Field(description="The full title, `[tag]title`.")
    title_tag: str
    subtitle: str
    body: str
    link: str
    planned_date: datetime.date | None
    topic: int | None
    urgency: str
    valid_from: datetime.datetime | None
    valid_to: datetime.datetime | None
    pinned: bool
    is_routine_promotion: bool
    contact_name: str
    contact_phone: str
    contact_email: str
    takes_registrations: bool
    coin_amount: int | None
    target_kind: str
    target_group_ids: list[int]
    has_target_person: bool = Field(description="A personal push has its citizen (never named here).")
    status: str
    status_label: str
    revision: int
    is_test: bool = Field(description="Made with a test API key: never scheduled, never sent to citizens.")
    drafted_by: str
    created_at: datetime.datetime
    submitted_at: datetime.datetime | None
    approved_at: datetime.datetime | None
    first_sent_at: datetime.datetime | None
    chain: list[ChainStepOut] = Field(description="The sign-off chain (推播審核表) of the current revision.")
    next_role: str | None = Field(description="The role whose signature is awaited, while submitted.")
    remaining_roles: list[str] = Field(description="Roles still to sign, in order.")
    next_action: str = Field(description="What remains to be done, in the caller's language.")
    schedule: ScheduleOut | None


class PushSummaryOut(Schema):
    id: int
    unit_id: int
    push_type: str
    title: str
    status: str
    status_label: str
    target_kind: str
    is_test: bool
    created_at: datetime.datetime
    submitted_at: datetime.datetime | None
    first_sent_at: datetime.datetime | None


class PushListOut(Schema):
    count: int
    items: list[PushSummaryOut]


class PushStatsOut(Schema):
    push_id: int
    audience: int = Field(description="Audience frozen at the latest dispatch.")
    delivered: int
    failed: int
    reads: int = Field(description="Citizens who opened it (each once).")
    read_rate: float | None = Field(description="reads / audience, 0–1; null before sending.")
    clicks: int
    first_sent_at: datetime.datetime | None
    reads_per_hour: list[int] = Field(description="Reads in each hour since the first dispatch (`hours` entries).")
