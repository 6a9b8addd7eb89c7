"""The audit browser: scope, filters, paging, entry detail, CSV and XLSX exports."""

from __future__ import annotations

import csv
import datetime
import io

import openpyxl
import pytest
import time_machine

from civicpush.console.audit_selectors import AuditFilters, audit_entries_visible_to
from civicpush.core.audit import log_action
from civicpush.core.models import AuditEntry
from civicpush.org import services
from civicpush.org.models import RoleAssignment, StaffUser

pytestmark = pytest.mark.django_db

# 2026-03-01 23:30 UTC is 2026-03-02 07:30 in Taipei: the Taipei date differs from the UTC date.
DAY1 = datetime.datetime(2026, 3, 1, 23, 30, tzinfo=datetime.UTC)
DAY2 = datetime.datetime(2026, 3, 3, 2, 0, tzinfo=datetime.UTC)


@pytest.fixture
def history(org):
    """One of each staff-management action in investigation, on two different Taipei days."""
    manager, unit = org.user("investigation.manager"), org.unit("investigation")
    with time_machine.travel(DAY1, tick=False):
        services.do_add_staff(actor=manager, unit=unit, username="inv.new", display_name="新同仁", role="drafter")
        services.do_remove_role(
            actor=manager, assignment_id=RoleAssignment.objects.get(user__username="inv.new", unit=unit).pk
        )
    with time_machine.travel(DAY2, tick=False):
        StaffUser.objects.filter(username="investigation.drafter").update(
            locked_until=DAY2 + datetime.timedelta(minutes=5)
        )
        services.do_unlock_staff(actor=manager, user=StaffUser.objects.get(username="investigation.drafter"), unit=unit)
        key, _raw = services.do_create_api_key(actor=manager, unit=unit, name='=HYPERLINK("x")', kind="test")
        services.do_revoke_api_key(actor=manager, key_id=key.pk)
        services.do_create_api_key(
            actor=org.user("prevention.manager"), unit=org.unit("prevention"), name="預防科金鑰", kind="test"
        )
    return key


def test_each_staff_action_leaves_one_entry_with_actor_action_unit_and_change(org, history):
    manager, unit = org.user("investigation.manager"), org.unit("investigation")
    mine = AuditEntry.objects.filter(actor=manager).order_by("id")
    assert [e.action for e in mine] == [
        "org.staff.created",
        "org.unit.staff_added",
        "org.unit.staff_removed",
        "org.staff.unlocked",
        "org.api_key.created",
        "org.api_key.revoked",
    ]
    assert all(e.unit_id == unit.pk and e.county_id == org.county.pk for e in mine)
    by_action = {e.action: e for e in mine}
    assert by_action["org.unit.staff_added"].after == {"user": "inv.new", "role": "drafter"}
    assert by_action["org.unit.staff_removed"].before == {"user": "inv.new", "role": "drafter"}
    assert by_action["org.staff.unlocked"].before["locked_until"] is not None
    assert by_action["org.api_key.created"].after["kind"] == "test"
    assert by_action["org.api_key.revoked"].after["revoked_at"] is not None


def test_unit_manager_sees_only_their_units_entries_county_admin_sees_all(org, history):
    inv_manager = audit_entries_visible_to(org.user("investigation.manager"))
    assert {e.unit_id for e in inv_manager} == {org.unit("investigation").pk}
    log_action("org.staff.signed_in", actor=org.user("prevention.drafter"), obj=org.user("prevention.drafter"))
    admin = audit_entries_visible_to(org.user("county.admin"))
    assert admin.count() == AuditEntry.objects.count()
    assert audit_entries_visible_to(org.user("investigation.drafter")).count() == 0
    assert audit_entries_visible_to(org.user("fire.director")).count() == 0


def test_filter_by_action_prefix_and_taipei_dates(as_staff, org, history):
    client = as_staff("investigation.manager")
    body = client.get("/console/audit/?action=org.api_key").content.decode()
    assert "org.api_key.created" in body and "org.api_key.revoked" in body and "org.unit.staff_added" not in body
    # DAY1 is 2026-03-02 in Taipei (2026-03-01 in UTC).
    day1 = client.get("/console/audit/?date_from=2026-03-02&date_to=2026-03-02").content.decode()
    assert "org.unit.staff_added" in day1 and "org.api_key.created" not in day1
    assert "2026-03-02 07:30:00" in day1
    assert (
        "org.unit.staff_added"
        not in client.get("/console/audit/?date_from=2026-03-01&date_to=2026-03-01").content.decode()
    )
    day2 = client.get("/console/audit/?date_from=2026-03-03").content.decode()
    assert "org.api_key.created" in day2 and "org.unit.staff_added" not in day2
    selector = audit_entries_visible_to(
        org.user("investigation.manager"),
        AuditFilters(object_type="org.unitapikey", actor_username="INVESTIGATION.manager"),
    )
    assert sorted(e.action for e in selector) == ["org.api_key.created", "org.api_key.revoked"]


def test_bad_filters_are_explained_and_show_nothing(as_staff, org, history):
    response = as_staff("investigation.manager").get("/console/audit/?date_from=2026-03-05&date_to=2026-03-01")
    assert response.status_code == 400 and "結束日期早於起始日期" in response.content.decode()
    assert "org.api_key.created" not in response.content.decode()


def test_newest_first_and_50_a_page(as_staff, org):
    unit = org.unit("investigation")
    manager = org.user("investigation.manager")
    for i in range(60):
        log_action("test.step", actor=manager, unit_id=unit.pk, data={"i": i}, object_repr=f"step-{i:02d}")
    client = as_staff("investigation.manager")
    first = client.get("/console/audit/?action=test.").content.decode()
    assert first.count("<code>test.step</code>") == 50
    assert "step-59" in first and "step-09" not in first
    assert first.index("step-59") < first.index("step-58")
    second = client.get("/console/audit/?action=test.&page=2").content.decode()
    assert second.count("<code>test.step</code>") == 10 and "step-00" in second


def test_entry_detail_shows_before_and_after_escaped(as_staff, org):
    manager, unit = org.user("investigation.manager"), org.unit("investigation")
    entry = log_action(
        "test.detail", actor=manager, unit_id=unit.pk, before={"name": "<b>old</b>"}, after={"name": "新名稱"}
    )
    body = as_staff("investigation.manager").get(f"/console/audit/{entry.pk}/").content.decode()
    assert "&lt;b&gt;old&lt;/b&gt;" in body and "<b>old</b>" not in body
    assert '"name": "新名稱"' in body.replace("&quot;", '"')


def test_csv_export_has_bom_header_and_the_filtered_rows(as_staff, org, history):
    response = as_staff("investigation.manager").get("/console/audit/export.csv?action=org.api_key")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:4] == ["時間（臺灣）", "操作者", "動作", "單位"]
    assert sorted(r[2] for r in rows[1:]) == ["org.api_key.created", "org.api_key.revoked"]
    assert all(r[1] == "investigation.manager" and r[3] == "火調科" for r in rows[1:])
    assert rows[1][0] == "2026-03-03 10:00:00"
    created = next(r for r in rows[1:] if r[2] == "org.api_key.created")
    assert created[6].startswith("'=HYPERLINK")  # a key name cannot become a spreadsheet formula
    assert AuditEntry.objects.filter(action="console.audit.exported").count() == 1


def test_xlsx_export_reads_back_with_bold_header_and_widths(as_staff, org, history):
    response = as_staff("investigation.manager").get("/console/audit/export.xlsx?action=org.")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][2] == "動作" and sheet["A1"].font.bold
    assert sheet.column_dimensions["A"].width >= 18
    actions = [r[2] for r in rows[1:]]
    assert len(actions) == 6 and actions[0] == "org.api_key.revoked"
    assert "預防科金鑰" not in str(rows)
    assert all(sheet.cell(row=i, column=7).data_type != "f" for i in range(2, len(rows) + 1))
