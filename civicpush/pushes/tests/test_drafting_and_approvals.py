"""Drafting, targeting rules, unit isolation, and the sign-off chain (invariant 1)."""

from __future__ import annotations

import pytest

from civicpush.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from civicpush.core.models import AuditEntry
from civicpush.org.models import RoleAssignment
from civicpush.org.roles import Role
from civicpush.pushes import services
from civicpush.pushes.chains import EVERYONE_CHAIN, GROUPS_CHAIN, ensure_default_chains, resolve_chain
from civicpush.pushes.models import Decision, Push, PushApproval, PushStatus, PushType, TargetKind
from civicpush.pushes.selectors import approval_queue, get_push
from civicpush.pushes.tests.conftest import draft_fields, make_citizen, make_group


def test_staff_unit_cannot_push_to_everyone(org) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.do_create_draft(
            org.user("admin.drafter"), org.unit("admin"), **draft_fields(target_kind=TargetKind.EVERYONE)
        )
    assert "target_kind" in exc.value.field_errors
    assert not Push.objects.exists()


def test_business_unit_may_push_to_everyone(org) -> None:
    push = services.do_create_draft(
        org.user("prevention.drafter"), org.unit("prevention"), **draft_fields(target_kind=TargetKind.EVERYONE)
    )
    assert push.target_kind == TargetKind.EVERYONE


def test_staff_unit_may_push_to_its_groups_and_a_notice_to_one_person(org) -> None:
    citizen = make_citizen(org.county)
    group = make_group(org.unit("admin"), [citizen])
    to_group = services.do_create_draft(
        org.user("admin.drafter"), org.unit("admin"), **draft_fields(target_group_ids=[group.pk])
    )
    assert list(to_group.target_group_links.values_list("group_id", flat=True)) == [group.pk]
    to_person = services.do_create_draft(
        org.user("admin.drafter"),
        org.unit("admin"),
        **draft_fields(
            push_type=PushType.NOTICE, target_kind=TargetKind.PERSON, target_person="0" + citizen.phone_e164[4:]
        ),
    )
    assert to_person.target_citizen == citizen


def test_a_promotion_cannot_go_to_one_person(org) -> None:
    citizen = make_citizen(org.county)
    with pytest.raises(ValidationFailed) as exc:
        services.do_create_draft(
            org.user("prevention.drafter"),
            org.unit("prevention"),
            **draft_fields(target_kind=TargetKind.PERSON, target_person=citizen.phone_e164),
        )
    assert "target_kind" in exc.value.field_errors


def test_groups_of_another_unit_are_refused(org) -> None:
    foreign = make_group(org.unit("investigation"), [make_citizen(org.county)])
    with pytest.raises(ValidationFailed) as exc:
        services.do_create_draft(
            org.user("prevention.drafter"), org.unit("prevention"), **draft_fields(target_group_ids=[foreign.pk])
        )
    assert "target_group_ids" in exc.value.field_errors


def test_events_need_the_contact_persons_details(org) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.do_create_draft(
            org.user("prevention.drafter"),
            org.unit("prevention"),
            **draft_fields(push_type=PushType.EVENT, contact_phone="", contact_email=""),
        )
    assert {"contact_phone", "contact_email"} <= set(exc.value.field_errors)


def test_links_must_be_http_or_https(org) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.do_create_draft(
            org.user("prevention.drafter"), org.unit("prevention"), **draft_fields(link="javascript:alert(1)")
        )
    assert "link" in exc.value.field_errors


def test_other_units_cannot_read_or_edit_a_push(org) -> None:
    push = services.do_create_draft(org.user("prevention.drafter"), org.unit("prevention"), **draft_fields())
    outsider = org.user("investigation.drafter")
    with pytest.raises(NotFound):
        get_push(outsider, push.pk)
    with pytest.raises(NotFound):
        services.do_update_draft(outsider, push, body="改掉")
    with pytest.raises(NotFound):
        services.do_submit(outsider, push)
    push.refresh_from_db()
    assert push.body != "改掉"


def test_drafter_cannot_approve_own_push_even_holding_the_role(org) -> None:
    drafter = org.user("prevention.drafter")
    RoleAssignment.objects.create(
        user=drafter, role=Role.UNIT_HEAD, unit=org.unit("prevention"), agency=org.agency, county=org.county
    )
    push = services.do_create_draft(drafter, org.unit("prevention"), **draft_fields(target_group_ids=[]))
    group = make_group(org.unit("prevention"), [make_citizen(org.county)])
    drafter = type(drafter).objects.get(pk=drafter.pk)  # fresh role cache
    push = services.do_update_draft(drafter, push, target_group_ids=[group.pk])
    services.do_submit(drafter, push)
    with pytest.raises(PermissionDenied):
        services.do_decide(drafter, push, Decision.APPROVED)
    assert not PushApproval.objects.filter(push=push).exists()
    assert push not in approval_queue(drafter)


def test_approver_must_hold_the_current_steps_role(org) -> None:
    group = make_group(org.unit("prevention"), [make_citizen(org.county)])
    push = services.do_create_draft(
        org.user("prevention.drafter"), org.unit("prevention"), **draft_fields(target_group_ids=[group.pk])
    )
    services.do_submit(org.user("prevention.drafter"), push)
    with pytest.raises(PermissionDenied):
        services.do_decide(org.user("fire.director"), push, Decision.APPROVED)  # step 1 is the unit head
    assert push in approval_queue(org.user("prevention.head"))
    assert push not in approval_queue(org.user("fire.director"))
    services.do_decide(org.user("prevention.head"), push, Decision.APPROVED)
    push.refresh_from_db()
    assert push.status == PushStatus.APPROVED
    assert AuditEntry.objects.filter(action="pushes.push.approved", object_id=str(push.pk)).exists()


def test_everyone_push_passes_the_six_boxes_in_order(org, approve_all) -> None:
    push = services.do_create_draft(
        org.user("prevention.drafter"), org.unit("prevention"), **draft_fields(target_kind=TargetKind.EVERYONE)
    )
    services.do_submit(org.user("prevention.drafter"), push)
    push.refresh_from_db()
    assert push.chain_roles == EVERYONE_CHAIN
    services.do_decide(org.user("prevention.head"), push, Decision.APPROVED)
    with pytest.raises(PermissionDenied):
        services.do_decide(org.user("fire.director"), push, Decision.APPROVED)  # not yet the director's turn
    push = approve_all(push)
    assert push.status == PushStatus.APPROVED
    approvals = list(PushApproval.objects.filter(push=push).order_by("step"))
    assert [a.role for a in approvals] == EVERYONE_CHAIN[1:]
    assert all(a.approver_name and a.decided_at for a in approvals)


def test_return_sends_it_back_to_the_drafter_and_rejection_ends_it(org) -> None:
    group = make_group(org.unit("prevention"), [make_citizen(org.county)])
    push = services.do_create_draft(
        org.user("prevention.drafter"), org.unit("prevention"), **draft_fields(target_group_ids=[group.pk])
    )
    services.do_submit(org.user("prevention.drafter"), push)
    with pytest.raises(ValidationFailed):
        services.do_decide(org.user("prevention.head"), push, Decision.RETURNED)  # a reason is required
    services.do_decide(org.user("prevention.head"), push, Decision.RETURNED, "請補上活動日期")
    push.refresh_from_db()
    assert push.status == PushStatus.RETURNED
    services.do_submit(org.user("prevention.drafter"), push)
    services.do_decide(org.user("prevention.head"), push, Decision.REJECTED, "不宜推播")
    push.refresh_from_db()
    assert push.status == PushStatus.REJECTED
    with pytest.raises(Conflict):
        services.do_update_draft(org.user("prevention.drafter"), push, body="再試一次")


def test_an_edit_resets_approvals_and_returns_to_draft(org, approve_all) -> None:
    push = services.do_create_draft(
        org.user("prevention.drafter"), org.unit("prevention"), **draft_fields(target_kind=TargetKind.EVERYONE)
    )
    services.do_submit(org.user("prevention.drafter"), push)
    services.do_decide(org.user("prevention.head"), push, Decision.APPROVED)
    services.do_decide(org.user("fire.liaison"), push, Decision.APPROVED)
    push = services.do_update_draft(org.user("prevention.drafter"), push, body="內容改了")
    assert push.status == PushStatus.DRAFT
    assert push.revision == 2
    old = PushApproval.objects.filter(push=push)
    assert old.count() == 2 and all(a.revision == 1 and not a.is_current for a in old)
    services.do_submit(org.user("prevention.drafter"), push)
    services.do_decide(org.user("prevention.head"), push, Decision.APPROVED)
    push.refresh_from_db()
    assert push.status == PushStatus.SUBMITTED  # the liaison must sign again for revision 2
    assert push in approval_queue(org.user("fire.liaison"))


def test_an_edit_without_changes_keeps_the_revision(org) -> None:
    push = services.do_create_draft(org.user("prevention.drafter"), org.unit("prevention"), **draft_fields())
    same = services.do_update_draft(org.user("prevention.drafter"), push, body=push.body)
    assert same.revision == 1


def test_unit_chain_overrides_agency_and_county_chains(org) -> None:
    operator = org.user("county.operator")
    ensure_default_chains(org.county)
    services.do_set_chain(
        operator,
        org.county,
        applies_to="groups_or_person",
        roles=["drafter", "unit_head", "push_liaison"],
        agency=org.agency,
    )
    services.do_set_chain(
        operator,
        org.county,
        applies_to="groups_or_person",
        roles=["drafter", "unit_head", "secretary"],
        unit=org.unit("investigation"),
    )
    assert resolve_chain(org.unit("investigation"), TargetKind.GROUPS) == ["drafter", "unit_head", "secretary"]
    assert resolve_chain(org.unit("prevention"), TargetKind.GROUPS) == ["drafter", "unit_head", "push_liaison"]
    assert resolve_chain(org.unit("prevention"), TargetKind.EVERYONE) == EVERYONE_CHAIN
    assert GROUPS_CHAIN == ["drafter", "unit_head"]


def test_only_county_configurers_set_chains_and_bad_chains_are_refused(org) -> None:
    with pytest.raises(PermissionDenied):
        services.do_set_chain(
            org.user("fire.director"), org.county, applies_to="everyone", roles=["drafter", "director"]
        )
    with pytest.raises(ValidationFailed):
        services.do_set_chain(org.user("county.operator"), org.county, applies_to="everyone", roles=["unit_head"])
    with pytest.raises(ValidationFailed):
        services.do_set_chain(
            org.user("county.operator"), org.county, applies_to="everyone", roles=["drafter", "accounting"]
        )
