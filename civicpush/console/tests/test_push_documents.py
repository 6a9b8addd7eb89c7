"""The review form (HTML and PDF), statistics exports and the dashboards."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from civicpush.pushes import dispatching, services
from civicpush.pushes.models import Push, PushStatus

from .push_helpers import approve_in_order, compose_data, make_citizen, make_group

pytestmark = pytest.mark.django_db


def _sent_push(org, as_staff, *, title: str = "[防火]居家安全宣導", readers: int = 1) -> Push:
    unit = org.unit("prevention")
    citizens = [make_citizen(org.county) for _ in range(4)]
    group = make_group(unit, citizens)
    drafter = as_staff("prevention.drafter")
    saved = drafter.post(
        f"/console/pushes/new/autosave/?unit={unit.pk}",
        compose_data(title=title, target_kind="groups", target_group_ids=[group.pk], urgency="urgent"),
        HTTP_ACCEPT="application/json",
    )
    push = Push.objects.get(pk=saved.json()["push_id"])
    drafter.post(f"/console/pushes/{push.pk}/submit/")
    approve_in_order(as_staff, push)
    assert drafter.post(f"/console/pushes/{push.pk}/schedule/", {"kind": "now"}).status_code == 302
    dispatching.dispatch_due(now=datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1))
    push.refresh_from_db()
    assert push.status == PushStatus.SENT
    for citizen in citizens[:readers]:
        services.do_record_read(citizen, push)
    return push


def test_review_form_shows_the_form_fields_in_roc_year_and_the_approvers_names(org, as_staff):
    unit = org.unit("prevention")
    drafter = as_staff("prevention.drafter")
    saved = drafter.post(
        f"/console/pushes/new/autosave/?unit={unit.pk}",
        compose_data(planned_date="2026-06-05", remarks="<b>不是 HTML</b>"),
        HTTP_ACCEPT="application/json",
    )
    push = Push.objects.get(pk=saved.json()["push_id"])
    drafter.post(f"/console/pushes/{push.pk}/submit/")
    approve_in_order(as_staff, push)

    html = drafter.get(f"/console/pushes/{push.pk}/review-form/").content.decode()
    assert "115 年 06 月 05 日" in html
    assert "■宣導" in html and "□問卷" in html
    for label in ("預計推播日期", "推播類型", "訊息標題", "副標題", "訊息內容", "問卷內容", "金幣贈送額度", "金幣贈送方式",
                  "業務承辦人", "電話", "信箱", "備註", "承辦人", "科長", "TTPush專責窗口", "秘書", "副局長", "局長"):  # fmt: skip
        assert label in html, label
    for name in ("預防科承辦人", "預防科主管", "TTPush 專責窗口 林怡君", "秘書 陳志明", "副局長 王建國", "局長 張文雄"):
        assert name in html, name
    assert "&lt;b&gt;不是 HTML&lt;/b&gt;" in html and "<b>不是 HTML</b>" not in html
    assert "@media print" in open_static("console/pushes/pushes.css")


def open_static(path: str) -> str:
    from django.contrib.staticfiles import finders

    found = finders.find(path)
    assert found
    with open(found, encoding="utf-8") as f:
        return f.read()


def test_review_form_pdf_is_a_pdf_with_the_title(org, as_staff):
    unit = org.unit("prevention")
    drafter = as_staff("prevention.drafter")
    saved = drafter.post(
        f"/console/pushes/new/autosave/?unit={unit.pk}", compose_data(), HTTP_ACCEPT="application/json"
    )
    push = Push.objects.get(pk=saved.json()["push_id"])
    response = drafter.get(f"/console/pushes/{push.pk}/review-form.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) >= 1
    assert "推播審核表" in (reader.metadata.title or "")


def test_stats_exports_read_back_with_one_row_per_sent_push(org, as_staff):
    push = _sent_push(org, as_staff, title="[防火]=SUM(A1)", readers=2)
    _draft_only = Push.objects.create(
        county=org.county, unit=org.unit("prevention"), push_type="promotion", title="未發送", body="x",
        created_by=org.user("prevention.drafter"),
    )  # fmt: skip
    client = as_staff("prevention.drafter")
    unit = org.unit("prevention")

    csv_response = client.get(f"/console/stats/export.csv?unit={unit.pk}")
    assert csv_response.status_code == 200
    rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["push_id", "unit", "type", "title"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (
        row["push_id"] == str(push.pk) and row["audience"] == "4" and row["reads"] == "2" and row["read_rate"] == "0.5"
    )
    assert row["unit"] == "預防科"

    xlsx_response = client.get(f"/console/stats/export.xlsx?unit={unit.pk}")
    assert xlsx_response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(xlsx_response.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 2
    xrow = dict(zip(values[0], values[1], strict=True))
    assert xrow["push_id"] == push.pk and xrow["reads"] == 2 and xrow["audience"] == 4

    county = as_staff("county.operator").get("/console/stats/export.csv?scope=county")
    assert len(list(csv.reader(io.StringIO(county.content.decode("utf-8-sig"))))) == 2
    assert client.get("/console/stats/export.csv?scope=county").status_code == 404


def test_push_stats_page_and_dashboards_show_numbers_and_accessible_charts(org, as_staff):
    push = _sent_push(org, as_staff, readers=3)
    drafter = as_staff("prevention.drafter")
    page = drafter.get(f"/console/pushes/{push.pk}/stats/").content.decode()
    assert '<dd id="stat-audience">4</dd>' in page and "75%" in page
    assert "<title" in page and "<desc" in page and "<details" in page

    unit_dash = drafter.get("/console/stats/").content.decode()
    assert "預防科" in unit_dash and push.full_title in unit_dash and "<svg" in unit_dash

    county_dash = as_staff("county.operator").get("/console/stats/").content.decode()
    assert "臺東縣" in county_dash and push.full_title in county_dash
    other = as_staff("investigation.drafter")
    assert other.get(f"/console/stats/?unit={org.unit('prevention').pk}").status_code == 404
