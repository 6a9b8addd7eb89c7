"""Static members: temporal rows, members_at, counts, and CSV/XLSX import (all or nothing)."""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest
import time_machine
from openpyxl import Workbook

from civicpush.audiences.member_import import MAX_FILE_BYTES, RowErrorReason
from civicpush.audiences.models import Group, GroupKind, GroupMembership
from civicpush.audiences.selectors import members_at
from civicpush.audiences.services import do_add_members, do_create_group, do_import_members, do_remove_members
from civicpush.citizens.models import CitizenStatus
from civicpush.core.errors import ValidationFailed
from civicpush.core.models import AuditEntry

from .factories import make_citizen, valid_national_id

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 8, 1, 1, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def drafter(org: Any) -> Any:
    return org.user("prevention.drafter")


@pytest.fixture
def group(org: Any, drafter: Any) -> Group:
    return do_create_group(drafter, org.unit("prevention"), name="消防局預防科0801", kind=GroupKind.STATIC)


def open_ids(group: Group) -> set[int]:
    return set(
        GroupMembership.objects.filter(group=group, removed_at__isnull=True).values_list("citizen_id", flat=True)
    )


def test_membership_is_temporal(drafter: Any, group: Group) -> None:
    early, late, leaver = make_citizen(), make_citizen(), make_citizen()
    with time_machine.travel(T0, tick=False):
        do_add_members(drafter, group, [early.pk, leaver.pk])
    with time_machine.travel(T0 + 2 * HOUR, tick=False):
        do_add_members(drafter, group, [late.pk])
        do_remove_members(drafter, group, [leaver.pk])

    # A citizen added after T is not a member at T; one removed after T still is.
    assert set(members_at([group.pk], T0 + HOUR)) == {early.pk, leaver.pk}
    assert set(members_at([group.pk], T0 + 2 * HOUR)) == {early.pk, late.pk}
    assert set(members_at([group.pk], T0 - HOUR)) == set()


def test_adding_an_existing_member_keeps_one_open_row_and_count_follows(drafter: Any, group: Group) -> None:
    a, b = make_citizen(), make_citizen()
    assert do_add_members(drafter, group, [a.pk, b.pk]) == 2
    assert do_add_members(drafter, group, [a.pk]) == 0
    group.refresh_from_db()
    assert group.member_count == 2
    assert GroupMembership.objects.filter(group=group).count() == 2
    assert do_remove_members(drafter, group, [a.pk]) == 1
    assert do_remove_members(drafter, group, [a.pk]) == 0
    group.refresh_from_db()
    assert group.member_count == 1
    # Re-adding opens a new row; the closed one stays as history.
    do_add_members(drafter, group, [a.pk])
    assert GroupMembership.objects.filter(group=group, citizen=a).count() == 2
    assert open_ids(group) == {a.pk, b.pk}


def test_member_changes_are_audited(drafter: Any, group: Group) -> None:
    a = make_citizen()
    do_add_members(drafter, group, [a.pk])
    do_remove_members(drafter, group, [a.pk])
    actions = list(AuditEntry.objects.filter(object_id=str(group.pk)).order_by("id").values_list("action", flat=True))
    assert actions == ["audiences.group.created", "audiences.group.members_added", "audiences.group.members_removed"]


def test_unknown_or_deleted_citizens_are_refused_and_nothing_is_added(drafter: Any, group: Group) -> None:
    good = make_citizen()
    gone = make_citizen(status=CitizenStatus.DELETED)
    with pytest.raises(ValidationFailed):
        do_add_members(drafter, group, [good.pk, gone.pk])
    with pytest.raises(ValidationFailed):
        do_add_members(drafter, group, [good.pk, 99999999])
    assert open_ids(group) == set()


def test_members_cannot_be_added_to_a_dynamic_group(org: Any, drafter: Any) -> None:
    dynamic = do_create_group(
        drafter, org.unit("prevention"), name="d", kind=GroupKind.DYNAMIC, filters={"has_app": True}
    )
    with pytest.raises(ValidationFailed):
        do_add_members(drafter, dynamic, [make_citizen().pk])


# --- import ---------------------------------------------------------------------------------------


def csv_bytes(lines: list[str], encoding: str = "utf-8", bom: bool = False) -> bytes:
    data = "\r\n".join(lines).encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_import_csv_with_bom_and_header_adds_every_citizen(drafter: Any, group: Group) -> None:
    a = make_citizen(phone_e164="+886912345678")
    b = make_citizen(phone_e164="+886987654321")
    member = make_citizen(phone_e164="+886911111111")
    do_add_members(drafter, group, [member.pk])
    data = csv_bytes(["手機", "0912-345-678", "+886 987 654 321", "", "0911111111"], bom=True)

    result = do_import_members(drafter, group, data, "members.csv")

    assert result.ok
    assert (result.added, result.already_members) == (2, 1)
    assert open_ids(group) == {a.pk, b.pk, member.pk}
    group.refresh_from_db()
    assert group.member_count == 3
    entry = AuditEntry.objects.get(action="audiences.group.members_imported")
    assert entry.data["added"] == 2


def test_import_one_bad_row_adds_nothing_and_reports_every_bad_row(drafter: Any, group: Group) -> None:
    make_citizen(phone_e164="+886912345678")
    make_citizen(phone_e164="+886922222222")
    data = csv_bytes(["mobile", "0912345678", "hello", "0933333333", "0922222222", "0912-345-678"])

    result = do_import_members(drafter, group, io.BytesIO(data), "members.csv")

    assert not result.ok
    assert result.added == 0
    assert [(e.row, e.reason) for e in result.errors] == [
        (3, RowErrorReason.INVALID_FORMAT),
        (4, RowErrorReason.NO_SUCH_CITIZEN),
        (6, RowErrorReason.DUPLICATE_IN_FILE),
    ]
    assert result.errors[2].first_row == 2
    assert all(e.message for e in result.errors)
    assert open_ids(group) == set()
    assert not AuditEntry.objects.filter(action="audiences.group.members_imported").exists()


def test_import_big5_csv_as_excel_in_taiwan_exports_it(drafter: Any, group: Group) -> None:
    a = make_citizen(phone_e164="+886912345678")
    data = csv_bytes(["手機號碼", "0912345678"], encoding="cp950")
    result = do_import_members(drafter, group, data, "名單.csv")
    assert result.ok
    assert open_ids(group) == {a.pk}


def test_import_xlsx_with_number_cells_and_id_numbers(drafter: Any, group: Group) -> None:
    by_phone = make_citizen(phone_e164="+886912345678")
    id_number = valid_national_id("V", 1234567)
    by_id = make_citizen(national_id_number=id_number)
    unknown_id = valid_national_id("A", 7654321)
    # Excel stores 0912345678 typed as a number as 912345678.
    ok = xlsx_bytes([["身分證"], [912345678], [id_number.lower()]])
    result = do_import_members(drafter, group, ok, "list.xlsx")
    assert result.ok, result.errors
    assert open_ids(group) == {by_phone.pk, by_id.pk}

    bad = xlsx_bytes([[unknown_id], ["A123456788"]])
    result = do_import_members(drafter, group, bad, "list.xlsx")
    assert [(e.row, e.reason) for e in result.errors] == [
        (1, RowErrorReason.NO_SUCH_CITIZEN),
        (2, RowErrorReason.INVALID_FORMAT),
    ]
    # Staff see ID numbers masked, never whole.
    assert result.errors[0].value == unknown_id[:3] + "*****" + unknown_id[-2:]
    assert all(unknown_id not in e.value and "A123456788" not in e.value for e in result.errors)


def test_the_same_citizen_by_mobile_and_by_id_is_a_duplicate(drafter: Any, group: Group) -> None:
    id_number = valid_national_id("B", 2345678)
    make_citizen(phone_e164="+886912345678", national_id_number=id_number)
    result = do_import_members(drafter, group, csv_bytes(["0912345678", id_number]), "x.csv")
    assert [(e.row, e.reason) for e in result.errors] == [(2, RowErrorReason.DUPLICATE_IN_FILE)]


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"x" * (MAX_FILE_BYTES + 1), "big.csv"),
        (b"", "empty.csv"),
        (b"0912345678", "list.pdf"),
        (b"not a workbook", "list.xlsx"),
        ("手機\r\n".encode(), "header-only.csv"),
    ],
)
def test_unreadable_files_are_refused_with_a_clear_error(
    drafter: Any, group: Group, data: bytes, filename: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        do_import_members(drafter, group, data, filename)
    assert "file" in exc.value.field_errors
    assert open_ids(group) == set()


def test_too_many_rows_is_refused(drafter: Any, group: Group, monkeypatch: pytest.MonkeyPatch) -> None:
    from civicpush.audiences import member_import

    monkeypatch.setattr(member_import, "MAX_ROWS", 3)
    with pytest.raises(ValidationFailed):
        do_import_members(drafter, group, csv_bytes(["0912345678"] * 4), "x.csv")


def test_one_member_added_by_mobile_is_audited_as_added_and_a_second_time_is_a_no_op(
    group: Group, drafter: Any
) -> None:
    from civicpush.audiences.services import do_add_member_by_number

    citizen = make_citizen(phone_e164="+886912777888")
    assert do_add_member_by_number(drafter, group, "0912-777-888") is True
    assert do_add_member_by_number(drafter, group, "0912777888") is False
    assert list(GroupMembership.objects.filter(group=group).values_list("citizen_id", flat=True)) == [citizen.pk]
    assert AuditEntry.objects.filter(action="audiences.group.members_added", object_id=str(group.pk)).count() == 1


def test_one_member_with_an_unknown_number_is_refused_and_nothing_is_written(group: Group, drafter: Any) -> None:
    from civicpush.audiences.services import do_add_member_by_number

    with pytest.raises(ValidationFailed) as exc:
        do_add_member_by_number(drafter, group, "0912-000-999")
    assert "number" in exc.value.field_errors
    assert not GroupMembership.objects.filter(group=group).exists()
