"""Demo groups and pushes: the console and a demo citizen's inbox look alive after load_demo."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from civicpush.audiences.models import Group, GroupKind
from civicpush.citizens.models import Citizen
from civicpush.demo.citizens import demo_phones
from civicpush.org.models import StaffUser
from civicpush.pushes.chains import assert_chain_complete
from civicpush.pushes.inbox import inbox_for
from civicpush.pushes.models import ApprovalChain, Push, PushClick, PushRead, PushStatus, PushType, TargetKind
from civicpush.pushes.selectors import approval_queue

pytestmark = pytest.mark.django_db


def _load(*flags: str) -> str:
    out = io.StringIO()
    call_command("load_demo", *flags, stdout=out)
    return out.getvalue()


def test_load_demo_creates_the_default_chains_and_groups_of_both_kinds():
    _load()
    assert ApprovalChain.objects.filter(unit__isnull=True, agency__isnull=True).count() == 2
    groups = list(Group.objects.all())
    assert {g.kind for g in groups} == {GroupKind.STATIC, GroupKind.DYNAMIC}
    today = timezone.localdate()
    shared = [g for g in groups if g.shared_with_agency and g.retired_at is None]
    # The five all-staff groups of the adoption roster (seed 000), shared agency-wide; this month's
    # 局本部 version replaced the 40-member one the demo pushes were sent to.
    assert sorted(g.name for g in shared) == sorted(
        f"消防局{base}{today:%m%d}" for base in ("局本部", "臺東大隊", "關山大隊", "成功大隊", "大武大隊")
    )
    headquarters = next(g for g in shared if "局本部" in g.name)
    assert headquarters.replaces is not None and headquarters.replaces.member_count == 40
    assert headquarters.replaces.retired_at is not None


def test_load_demo_creates_pushes_of_every_type_in_many_states():
    output = _load()
    pushes = list(Push.objects.filter(is_system_notice=False))  # staff pushes (not receipts and reminders)
    made_by_the_push_demo = re.search(r"pushes: +4 groups, (\d+) pushes", output)
    assert made_by_the_push_demo is not None and 15 <= int(made_by_the_push_demo.group(1)) <= 20
    assert {p.push_type for p in pushes} == set(PushType.values)
    assert {p.target_kind for p in pushes} == set(TargetKind.values)
    assert {PushStatus.DRAFT, PushStatus.SUBMITTED, PushStatus.RETURNED, PushStatus.APPROVED} <= {
        p.status for p in pushes
    }
    assert {PushStatus.SCHEDULED, PushStatus.SENT} <= {p.status for p in pushes}
    assert PushRead.objects.exists() and PushClick.objects.exists()
    assert re.search(r"pushes: +4 groups, \d+ pushes", output)


def test_every_demo_push_that_went_out_has_its_full_chain_signed():
    _load()
    sent = Push.objects.filter(status=PushStatus.SENT, is_system_notice=False)  # system notices have no chain
    assert sent.count() >= 8
    for push in sent:
        assert_chain_complete(push)  # raises when a step is missing or signed by the drafter


def test_the_first_demo_citizen_has_personal_group_and_everyone_pushes_in_the_inbox():
    _load()
    citizen = Citizen.objects.get(phone_e164=demo_phones(1)[0])
    entries = inbox_for(citizen)
    assert {e.push.target_kind for e in entries} == set(TargetKind.values)
    assert any(e.is_read for e in entries) and any(not e.is_read for e in entries)
    assert entries[0].pinned


def test_the_approver_login_has_a_push_waiting_in_the_sign_off_queue():
    _load()
    assert [p.title for p in approval_queue(StaffUser.objects.get(username="prevention.head"))] == ["戲水安全宣導"]
    assert len(approval_queue(StaffUser.objects.get(username="fire.liaison"))) == 1


def test_demo_logins_names_the_approver_login():
    _load()
    out = io.StringIO()
    call_command("demo_logins", stdout=out)
    assert "Sign-off queue" in out.getvalue()
    assert "prevention.head" in out.getvalue()


def test_reset_loads_the_same_pushes_again_and_if_empty_adds_none():
    _load()
    first = sorted(Push.objects.values_list("title", "status", "target_kind"))
    _load("--reset")
    assert sorted(Push.objects.values_list("title", "status", "target_kind")) == first
    count = Push.objects.count()
    assert "nothing to do" in _load("--if-empty")
    assert Push.objects.count() == count
