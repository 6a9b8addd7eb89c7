"""Tickets and scans: a real QR decoder reads our ticket, the scanner accepts what it decodes; a
retried scan is recorded once; clear results; windows; offline uploads; attendance coins."""

from __future__ import annotations

import datetime
import io
import json

import pytest
import zxingcpp
from django.test import Client
from django.urls import reverse
from PIL import Image

from civicpush.coins import ledger
from civicpush.events import services
from civicpush.events.models import Scan, ScanResult
from civicpush.events.tests.helpers import sent_event
from civicpush.pushes.tests.conftest import make_citizen
from civicpush.wallet.tests.helpers import citizen as signed_up_citizen

pytestmark = pytest.mark.django_db


def _staff_client(org, username: str = "prevention.drafter") -> Client:
    client = Client()
    client.force_login(org.user(username))
    return client


def _citizen_client(citizen) -> Client:
    from civicpush.citizen_web.tests.pushes import client_for

    return client_for(citizen)


def test_a_real_qr_decoder_reads_the_ticket_and_the_scanner_accepts_it(org, approve_all) -> None:
    citizen = signed_up_citizen()
    event = sent_event(org, approve_all, starts_in=datetime.timedelta(minutes=30))
    reg = services.do_register(citizen, event)
    png = _citizen_client(citizen).get(reverse("events:ticket_png", args=[event.pk]))
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert [d.format for d in decoded] == [zxingcpp.BarcodeFormat.QRCode]
    code = decoded[0].text
    assert code == services.ticket_code(reg)
    staff = _staff_client(org)
    url = reverse("console:event_scan", args=[event.pk])
    first = staff.post(url, {"code": code, "kind": "in", "nonce": "scan-0001-abcdef"}).json()
    assert first["ok"] and first["result"] == "ok"
    retried = staff.post(url, {"code": code, "kind": "in", "nonce": "scan-0001-abcdef"}).json()
    assert retried == first  # the same nonce: recorded once
    assert Scan.objects.count() == 1
    again = staff.post(url, {"code": code, "kind": "in", "nonce": "scan-0002-abcdef"}).json()
    assert again["result"] == "already" and not again["ok"]
    out = staff.post(url, {"code": code, "kind": "out", "nonce": "scan-0003-abcdef"}).json()
    assert out["ok"]
    reg.refresh_from_db()
    assert reg.checked_in_at and reg.checked_out_at


def test_clear_results_for_wrong_tickets_and_windows(org, approve_all) -> None:
    event = sent_event(org, approve_all, starts_in=datetime.timedelta(minutes=30))
    other = sent_event(org, approve_all, starts_in=datetime.timedelta(minutes=30))
    staff = org.user("prevention.drafter")
    citizen = make_citizen(org.county)
    reg_other = services.do_register(citizen, other)
    wrong = services.do_scan(staff, event, services.ticket_code(reg_other), "in", "nonce-wrong-event")
    assert wrong.result == ScanResult.WRONG_EVENT
    guessed = services.do_scan(staff, event, f"CPT1.{event.pk}.{'A' * 32}", "in", "nonce-guessed-01")
    assert guessed.result == ScanResult.NOT_REGISTERED
    garbage = services.do_scan(staff, event, "hello", "in", "nonce-garbage-01")
    assert garbage.result == ScanResult.NOT_REGISTERED
    reg = services.do_register(citizen, event)
    early = services.do_scan(
        staff,
        event,
        services.ticket_code(reg),
        "in",
        "nonce-early-0001",
        now=event.starts_at - datetime.timedelta(hours=3),
    )
    assert early.result == ScanResult.OUTSIDE_WINDOW
    out_first = services.do_scan(staff, event, services.ticket_code(reg), "out", "nonce-out-first1")
    assert out_first.result == ScanResult.NOT_CHECKED_IN
    # staff of another unit may not scan
    from civicpush.core.errors import NotFound, PermissionDenied

    with pytest.raises((NotFound, PermissionDenied)):
        services.do_scan(org.user("rescue.drafter"), event, services.ticket_code(reg), "in", "nonce-other-unit")


def test_offline_scans_upload_once_and_the_earlier_wins(org, approve_all) -> None:
    event = sent_event(org, approve_all, starts_in=datetime.timedelta(minutes=30))
    citizen = make_citizen(org.county)
    reg = services.do_register(citizen, event)
    code = services.ticket_code(reg)
    staff = _staff_client(org)
    tickets = staff.get(reverse("console:event_tickets", args=[event.pk])).json()
    assert services.ticket_hash(reg.ticket_token) in tickets["tickets"]
    assert citizen.phone_e164 not in json.dumps(tickets)
    now = datetime.datetime.now(datetime.UTC)
    device_a = {
        "code": code,
        "kind": "in",
        "nonce": "offline-a-000001",
        "scanned_at": (now - datetime.timedelta(minutes=5)).isoformat(),
    }
    device_b = {
        "code": code,
        "kind": "in",
        "nonce": "offline-b-000001",
        "scanned_at": (now - datetime.timedelta(minutes=2)).isoformat(),
    }
    url = reverse("console:event_scan_batch", args=[event.pk])
    first = staff.post(url, {"scans": json.dumps([device_a])}).json()
    assert first["results"][0]["result"] == "ok"
    second = staff.post(url, {"scans": json.dumps([device_a, device_b])}).json()  # a re-upload + the other device
    assert [r["result"] for r in second["results"]] == ["ok", "already"]
    assert Scan.objects.count() == 2
    reg.refresh_from_db()
    assert abs((reg.checked_in_at - (now - datetime.timedelta(minutes=5))).total_seconds()) < 1


def test_self_check_in_with_the_poster_code(org, approve_all) -> None:
    event = sent_event(org, approve_all, starts_in=datetime.timedelta(minutes=30))
    citizen = signed_up_citizen()
    services.do_register(citizen, event)
    client = _citizen_client(citizen)
    url = reverse("events:self_check_in")
    bad = client.post(url, {"code": "CPE1.1.nope", "nonce": "self-0000001"})
    assert bad.status_code == 400
    ok = client.post(url, {"code": services.poster_code(event), "nonce": "self-0000002"}).json()
    assert ok["ok"] and ok["result"] == "ok"
    stranger = signed_up_citizen()
    not_registered = (
        _citizen_client(stranger).post(url, {"code": services.poster_code(event), "nonce": "self-0000003"}).json()
    )
    assert not_registered["result"] == "not_registered"


def test_attendance_coins_once_each_for_those_who_checked_in(org, approve_all) -> None:
    event = sent_event(org, approve_all, coins=30, starts_in=datetime.timedelta(minutes=30))
    staff = org.user("prevention.drafter")
    came, missed = make_citizen(org.county), make_citizen(org.county)
    reg = services.do_register(came, event)
    services.do_register(missed, event)
    services.do_scan(staff, event, services.ticket_code(reg), "in", "nonce-attend-001")
    assert services.do_close_event(staff, event) == 1
    assert services.do_close_event(staff, event) == 0
    assert services.close_ended_events(now=event.ends_at + datetime.timedelta(hours=2)) == 0
    assert ledger.balance(ledger.wallet_of(came)) == 30
    assert ledger.balance(ledger.wallet_of(missed)) == 0


def test_calendar_file_and_pages_render(org, approve_all) -> None:
    citizen = signed_up_citizen()  # signed up before the push went out, so it reached them
    event = sent_event(org, approve_all, questions=[{"label": "用餐", "kind": "choice", "options": ["葷", "素"]}])
    client = _citizen_client(citizen)
    page = client.get(reverse("events:event", args=[event.pk]))
    assert page.status_code == 200 and "防災體驗營" in page.content.decode()
    registered = client.post(reverse("events:register", args=[event.pk]), {"q1": "素"})
    assert registered.status_code == 302
    ics = client.get(reverse("events:ics", args=[event.pk]))
    text = ics.content.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\n") and "SUMMARY:防災體驗營" in text and "END:VEVENT" in text
    staff = _staff_client(org)
    for name in ("console:event_detail", "console:event_scanner", "console:event_attendance_csv"):
        assert staff.get(reverse(name, args=[event.pk])).status_code == 200
    assert staff.get(reverse("console:event_list")).status_code == 200
    assert staff.get(reverse("console:event_form", args=[event.push_id])).status_code == 200
    from openpyxl import load_workbook

    xlsx = staff.get(reverse("console:event_attendance_xlsx", args=[event.pk]))
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.cell(row=3, column=8).value == "素"
    outsider = _staff_client(org, "rescue.drafter")
    assert outsider.get(reverse("console:event_detail", args=[event.pk])).status_code == 404


def test_closing_sends_the_questionnaire_to_attendees_only(org, approve_all) -> None:
    from civicpush.pushes import dispatching
    from civicpush.pushes import services as push_services
    from civicpush.pushes.inbox import inbox_for
    from civicpush.pushes.models import Dispatch, PushType, TargetKind
    from civicpush.pushes.tests.conftest import draft_fields

    came, missed = make_citizen(org.county), make_citizen(org.county)
    event = sent_event(org, approve_all, starts_in=datetime.timedelta(minutes=30))
    staff = org.user("prevention.drafter")
    reg = services.do_register(came, event)
    services.do_register(missed, event)
    survey = push_services.do_create_draft(
        staff,
        org.unit("prevention"),
        **draft_fields(
            push_type=PushType.QUESTIONNAIRE,
            title="[滿意度]體驗營問卷",
            target_kind=TargetKind.GROUPS,
            target_group_ids=[event.attendees_group_id],
        ),
    )
    push_services.do_submit(staff, survey)
    approve_all(survey)
    services.do_scan(staff, event, services.ticket_code(reg), "in", "nonce-survey-001")
    services.do_close_event(staff, event)
    dispatching.dispatch_due()
    dispatch = Dispatch.objects.get(push=survey)
    assert dispatch.frozen_at is not None and dispatch.audience_size == 1, (dispatch.status, dispatch.note)
    assert survey.pk in [e.push_id for e in inbox_for(came)]
    assert survey.pk not in [e.push_id for e in inbox_for(missed)]
