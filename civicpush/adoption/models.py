"""Staff adoption roster (下載使用TTPush雲端推播系統人員一覽表, seed 000), the all-staff groups built
from it, and awards (獎懲): rules on measured facts, periods, and the recommendations they yield."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicpush.org.models import Agency, County, StaffUser, Unit


class RosterKind(models.TextChoices):
    """Staff and, counted separately, each volunteer group (seed 000 §8(2))."""

    STAFF = "staff", pgettext_lazy("roster group", "Staff")
    VOLUNTEER_FIRE = "volunteer_fire", _("Volunteer firefighters (義消)")
    WOMEN_PREVENTION = "women_prevention", _("Women's fire prevention team (婦宣)")
    PHOENIX = "phoenix", _("Phoenix volunteers (鳳志)")


VOLUNTEER_KINDS = (RosterKind.VOLUNTEER_FIRE, RosterKind.WOMEN_PREVENTION, RosterKind.PHOENIX)


class Override(models.TextChoices):
    NONE = "", _("From the mobile number")
    ADOPTED = "adopted", _("Uses the app")
    NOT_ADOPTED = "not_adopted", _("Does not use the app")


class RosterEntry(models.Model):
    """One person on a unit's roster. Whether they use the app comes from a citizen account with
    the same mobile number, unless someone overrode it by hand (e.g. a shared family phone)."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="roster_entries")
    kind = models.CharField(
        pgettext_lazy("roster", "group"), max_length=20, choices=RosterKind.choices, default=RosterKind.STAFF
    )
    name = models.CharField(_("name"), max_length=50)
    mobile = models.CharField(_("mobile"), max_length=16, blank=True)  # E.164
    staff_user = models.ForeignKey(StaffUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    override = models.CharField(_("manual override"), max_length=12, choices=Override.choices, blank=True, default="")
    override_reason = models.CharField(_("reason"), max_length=200, blank=True)
    override_by = models.ForeignKey(StaffUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    override_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["unit__path", "kind", "name", "id"]
        indexes = [models.Index(fields=["unit", "kind"], name="adoption_roster_unit_kind_idx")]

    def __str__(self) -> str:
        return self.name


class StaffGroupDefinition(models.Model):
    """A shared all-staff group (seed 000 §4(2): 局本部, 臺東大隊, 關山大隊, 成功大隊, 大武大隊), rebuilt
    each month from the roster's staff who use the app under `root_units` (and their sub-units)."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    base_name = models.CharField(_("name"), max_length=40)  # e.g. 局本部 → 消防局局本部1201
    owner_unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    root_units = models.ManyToManyField(Unit, related_name="+")
    current_group = models.ForeignKey(
        "audiences.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["agency", "base_name"], name="adoption_staff_group_unique")]


class Fact(models.TextChoices):
    UNIT_STAFF_RATE = "unit_staff_rate", _("Unit staff using the app (%)")
    VOLUNTEER_GROUP_RATE = "volunteer_group_rate", _("Volunteer group using the app (%)")
    PUSH_WITHOUT_SIGNOFF = "push_without_signoff", _("Push published without its completed sign-off")
    CASES_CLOSED = "cases_closed", _("Cases closed in the period (count)")
    CASES_ON_TIME_RATE = "cases_on_time_rate", _("Cases closed within the standard time (%)")
    CASE_FIRST_RESPONSE_HOURS = (
        "case_first_response_hours",
        _("Average hours from receipt to the first progress notice"),
    )


class Recipient(models.TextChoices):
    DRAFTER = "drafter", _("Unit drafter (承辦人)")
    UNIT_HEAD = "unit_head", _("Unit head (單位主管)")
    PUSH_DRAFTER = "push_drafter", _("Drafter of the push")


class Outcome(models.TextChoices):
    COMMENDATION_1 = "commendation_1", "嘉獎一次"
    COMMENDATION_2 = "commendation_2", "嘉獎二次"
    MINOR_MERIT_1 = "minor_merit_1", "記功一次"
    REPRIMAND_1 = "reprimand_1", "申誡一次"
    REVIEW = "review", "移付議處"


class AwardRule(models.Model):
    """A row of the rules table the administration section keeps: when `fact` lies in
    [threshold, upper) — upper open when empty — recommend `outcome` for `recipient`."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    fact = models.CharField(_("measured fact"), max_length=32, choices=Fact.choices)
    threshold = models.DecimalField(_("at least"), max_digits=9, decimal_places=2)
    upper = models.DecimalField(_("below"), max_digits=9, decimal_places=2, null=True, blank=True)
    at_most = models.BooleanField(_("lower is better (at most the threshold)"), default=False)
    recipient = models.CharField(_("for whom"), max_length=16, choices=Recipient.choices)
    outcome = models.CharField(_("recommendation"), max_length=20, choices=Outcome.choices)
    basis = models.CharField(_("basis"), max_length=200, blank=True)  # the plan's article or standard
    is_active = models.BooleanField(_("in force"), default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class AwardPeriod(models.Model):
    """A period whose facts are measured (adoption as of `deadline`, activity from `starts_on` to it)."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    starts_on = models.DateField(_("from"))
    deadline = models.DateField(_("deadline"))
    evaluated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-deadline", "-id"]

    def __str__(self) -> str:
        return self.name


class Recommendation(models.Model):
    """One line of the list to print and sign: who, for what measured value, which award or penalty."""

    period = models.ForeignKey(AwardPeriod, on_delete=models.CASCADE, related_name="recommendations")
    rule = models.ForeignKey(AwardRule, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(max_length=120, blank=True)  # e.g. 義消, or the push's title
    fact_value = models.DecimalField(max_digits=9, decimal_places=2)
    recipient_user = models.ForeignKey(StaffUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recipient_name = models.CharField(max_length=100)
    recipient_role = models.CharField(max_length=16, choices=Recipient.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    push = models.ForeignKey("pushes.Push", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["unit__path", "rule__sort_order", "id"]
