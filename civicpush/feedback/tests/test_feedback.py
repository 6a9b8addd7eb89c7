"""The feedback mailbox: routing, photos checked by content, acknowledgement deadline, answers,
replies and ratings, staff seeing only their units' feedback, monthly statistics, FAQ search."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from civicpush.cases.tests.helpers import new_citizen
from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.core.errors import ValidationFailed
from civicpush.core.models import AuditEntry
from civicpush.feedback import selectors, services
from civicpush.feedback.models import FaqEntry, Feedback, FeedbackCategory, FeedbackPhoto
from civicpush.feedback.tasks import flag_late_feedback
from civicpush.pushes.models import Push

pytestmark = pytest.mark.django_db
TAIPEI = datetime.timezone(datetime.timedelta(hours=8))


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def category(org: Any) -> FeedbackCategory:
    return FeedbackCategory.objects.create(county=org.county, name="消防安全", unit=org.unit("prevention"), ack_days=2)


def _client_for(citizen: Any) -> Client:
    client = Client()
    session = client.session
    session[CITIZEN_SESSION_KEY] = citizen.pk
    session.save()
    return client


def test_a_citizen_sends_feedback_with_a_photo_and_it_is_routed(
    org: Any, category: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    citizen = new_citizen()
    client = _client_for(citizen)
    response = client.post(
        "/feedback/",
        {"kind": "complaint", "category": category.pk, "text": "巷口消防栓被機車擋住", "latitude": "22.7583", "longitude": "121.1444",
         "photos": SimpleUploadedFile("x.png", _png(), content_type="image/png")},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:500]
    feedback = Feedback.objects.get()
    assert feedback.unit == org.unit("prevention") and feedback.latitude == Decimal("22.758300")
    assert FeedbackPhoto.objects.get().content_type == "image/png"


def test_a_photo_that_is_not_an_image_is_refused_and_nothing_is_stored(org: Any, category: Any) -> None:
    citizen = new_citizen()
    with pytest.raises(ValidationFailed):
        services.do_submit(citizen, category=category, kind="suggestion", text="建議", photos=[b"<?php echo 1; ?>"])
    assert not Feedback.objects.exists()


def test_acknowledge_answer_reply_and_rate(org: Any, category: Any) -> None:
    citizen = new_citizen()
    feedback = services.do_submit(citizen, category=category, kind="suggestion", text="建議增設防火宣導")
    drafter = org.user("prevention.drafter")
    services.do_acknowledge(drafter, feedback)
    services.do_answer(drafter, feedback, "感謝建議，將於下月辦理。")
    feedback.refresh_from_db()
    assert feedback.status == "answered" and feedback.closed_at is not None
    titles = list(Push.objects.filter(target_citizen=citizen).values_list("title", flat=True))
    assert set(titles) == {"意見已受理", "意見已回覆"}
    assert all("防火宣導" not in t for t in titles)  # the text itself never goes in a notice
    services.do_citizen_reply(citizen, feedback, "請問確切日期？")
    feedback.refresh_from_db()
    assert feedback.status == "acknowledged" and feedback.closed_at is None
    services.do_answer(drafter, feedback, "12月5日。")
    services.do_rate(citizen, feedback, 5)
    assert Feedback.objects.get().rating == 5


def test_staff_see_only_their_units_feedback(org: Any, category: Any) -> None:
    feedback = services.do_submit(new_citizen(), category=category, kind="complaint", text="申訴內容")
    own, other = Client(), Client()
    own.force_login(org.user("prevention.drafter"))
    other.force_login(org.user("ems.drafter"))
    assert own.get(f"/console/feedback/{feedback.pk}/").status_code == 200
    assert other.get(f"/console/feedback/{feedback.pk}/").status_code == 404
    assert "申訴內容" not in other.get("/console/feedback/").content.decode()
    assert other.post(f"/console/feedback/{feedback.pk}/", {"action": "answer", "text": "x"}).status_code == 404
    assert not Feedback.objects.get().closed_at


def test_late_acknowledgement_is_flagged_once(org: Any, category: Any) -> None:
    with time_machine.travel(datetime.datetime(2026, 12, 1, 9, tzinfo=TAIPEI), tick=False):  # Tuesday
        services.do_submit(new_citizen(), category=category, kind="complaint", text="內容")
    with time_machine.travel(datetime.datetime(2026, 12, 3, 20, tzinfo=TAIPEI), tick=False):
        assert flag_late_feedback.apply().get() == 0  # due end of Thursday 3rd
    with time_machine.travel(datetime.datetime(2026, 12, 4, 9, tzinfo=TAIPEI), tick=False):
        assert flag_late_feedback.apply().get() == 1
        assert flag_late_feedback.apply().get() == 0
    assert AuditEntry.objects.filter(action="feedback.acknowledgement_late").count() == 1


def test_monthly_statistics_by_unit(org: Any, category: Any) -> None:
    drafter = org.user("prevention.drafter")
    with time_machine.travel(datetime.datetime(2026, 11, 2, 9, tzinfo=TAIPEI), tick=False):
        items = [
            services.do_submit(new_citizen(), category=category, kind="complaint", text=f"第{i}件") for i in range(3)
        ]
    with time_machine.travel(datetime.datetime(2026, 11, 4, 9, tzinfo=TAIPEI), tick=False):
        services.do_answer(drafter, items[0], "已處理")
        services.do_answer(drafter, items[1], "已處理")
        services.do_rate(items[0].citizen, items[0], 5)
        services.do_rate(items[1].citizen, items[1], 2)
    rows = selectors.monthly_stats(drafter, 2026, 11)
    assert len(rows) == 1
    row = rows[0]
    assert (row.received, row.closed, row.average_days_to_close, row.satisfaction) == (
        3,
        2,
        Decimal("2.0"),
        Decimal("50.0"),
    )
    client = Client()
    client.force_login(drafter)
    csv_text = client.get("/console/feedback/stats.csv?month=2026-11").content.decode("utf-8-sig")
    assert "預防科,3,2,2.0,50.0" in csv_text
    assert client.get("/console/feedback/stats/?month=2026-11").status_code == 200
    assert client.get("/console/feedback/stats.xlsx?month=2026-11").content[:2] == b"PK"


def test_citizens_search_published_faq(org: Any) -> None:
    citizen = new_citizen()
    FaqEntry.objects.create(
        unit=org.unit("prevention"), question="住宅用火災警報器要裝在哪裡？", answer="臥室、廚房與樓梯間。"
    )
    FaqEntry.objects.create(
        unit=org.unit("ems"), question="救護車收費嗎？", answer="緊急救護不收費。", is_published=False
    )
    client = _client_for(citizen)
    page = client.get("/faq/?q=警報器").content.decode()
    assert "住宅用火災警報器要裝在哪裡？" in page
    assert "救護車收費嗎？" not in client.get("/faq/").content.decode()
