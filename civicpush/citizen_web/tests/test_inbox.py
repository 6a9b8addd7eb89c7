"""The citizen's inbox and message pages: visibility, reads, clicks, filters, images, sign-out."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from civicpush.audiences.models import GroupMembership
from civicpush.citizens.tests.factories import taitung
from civicpush.citizens.topics import Topic
from civicpush.pushes.models import PushClick, PushRead, PushType, TargetKind

from .pushes import client_for, group_of, new_citizen, send_push

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    taitung()


def test_a_personal_notice_is_visible_only_to_its_citizen(org: Any) -> None:
    alice, bob = new_citizen(), new_citizen()
    push = send_push(
        org,
        push_type=PushType.NOTICE,
        target_kind=TargetKind.PERSON,
        target_person=alice.phone_e164,
        title="[申辦進度]您的案件已受理",
    )
    alice_client, bob_client = client_for(alice), client_for(bob)
    assert "您的案件已受理" in alice_client.get("/").content.decode()
    assert alice_client.get(f"/m/{push.pk}/").status_code == 200

    assert "您的案件已受理" not in bob_client.get("/").content.decode()
    assert bob_client.get(f"/m/{push.pk}/").status_code == 404
    assert not PushRead.objects.filter(citizen=bob).exists()


def test_a_group_push_reaches_members_at_the_freeze_but_not_someone_who_joined_later(org: Any) -> None:
    member, joiner = new_citizen(), new_citizen()
    group = group_of(org, [member])
    sent_at = timezone.now() - datetime.timedelta(hours=1)
    push = send_push(org, target_kind=TargetKind.GROUPS, target_group_ids=[group.pk], at=sent_at)
    GroupMembership.objects.create(group=group, citizen=joiner, added_at=sent_at + datetime.timedelta(minutes=10))

    assert client_for(member).get(f"/m/{push.pk}/").status_code == 200
    joiner_client = client_for(joiner)
    assert joiner_client.get(f"/m/{push.pk}/").status_code == 404
    assert push.title not in joiner_client.get("/").content.decode()


def test_opening_a_message_twice_records_one_read_and_the_unread_badge_goes_down(org: Any) -> None:
    citizen = new_citizen()
    first = send_push(org, title="第一則宣導")
    send_push(org, title="第二則宣導")
    client = client_for(citizen)
    inbox = client.get("/").content.decode()
    assert '<span class="nav-badge">2</span>' in inbox
    assert "<title>(2) " in inbox

    page = client.get(f"/m/{first.pk}/")
    assert page.status_code == 200
    client.get(f"/m/{first.pk}/")
    assert PushRead.objects.filter(citizen=citizen, push=first).count() == 1

    after = client.get("/").content.decode()
    assert '<span class="nav-badge">1</span>' in after
    assert "<title>(1) " in after


def test_the_message_page_shows_the_text_escaped_with_line_breaks_and_the_contact(org: Any) -> None:
    citizen = new_citizen()
    push = send_push(org, body="第一行<b>粗體</b>\n第二行", valid_to=timezone.now() + datetime.timedelta(days=3))
    body = client_for(citizen).get(f"/m/{push.pk}/").content.decode()
    assert "第一行&lt;b&gt;粗體&lt;/b&gt;<br>第二行" in body
    assert "王小明" in body and "089-322112" in body
    assert "[防火]" in body and "居家安全宣導" in body
    assert "有效期限" in body or "Valid until" in body


def test_the_link_goes_through_a_counted_redirect_and_is_refused_for_pushes_not_visible(org: Any) -> None:
    reader, outsider = new_citizen(), new_citizen()
    group = group_of(org, [reader])
    push = send_push(
        org, target_kind=TargetKind.GROUPS, target_group_ids=[group.pk], link="https://www.taitung.gov.tw/"
    )
    page = client_for(reader).get(f"/m/{push.pk}/").content.decode()
    assert f'href="/m/{push.pk}/go/"' in page and "https://www.taitung.gov.tw/" not in page

    response = client_for(reader).get(f"/m/{push.pk}/go/")
    assert response.status_code == 302 and response["Location"] == "https://www.taitung.gov.tw/"
    assert PushClick.objects.filter(push=push, citizen=reader).count() == 1

    assert client_for(outsider).get(f"/m/{push.pk}/go/").status_code == 404
    assert not PushClick.objects.filter(citizen=outsider).exists()


def test_a_push_without_a_link_has_no_link_through(org: Any) -> None:
    citizen = new_citizen()
    push = send_push(org)
    assert client_for(citizen).get(f"/m/{push.pk}/go/").status_code == 404
    assert not PushClick.objects.exists()


def test_filters_and_search_narrow_the_list_and_pinned_notices_come_first(org: Any) -> None:
    citizen = new_citizen()
    now = timezone.now()
    send_push(org, title="登革熱防治", topic=Topic.DISEASE_PREVENTION, at=now - datetime.timedelta(hours=3))
    send_push(org, title="停水通知", push_type=PushType.NOTICE, pinned=True, at=now - datetime.timedelta(hours=2))
    send_push(
        org, title="淨灘活動", push_type=PushType.EVENT, topic=Topic.ENVIRONMENT, at=now - datetime.timedelta(hours=1)
    )
    client = client_for(citizen)

    everything = client.get("/").content.decode()
    assert everything.index("停水通知") < everything.index("淨灘活動") < everything.index("登革熱防治")

    by_topic = client.get("/", {"topic": Topic.DISEASE_PREVENTION}).content.decode()
    assert "登革熱防治" in by_topic and "淨灘活動" not in by_topic and "停水通知" not in by_topic
    by_type = client.get("/", {"type": "event"}).content.decode()
    assert "淨灘活動" in by_type and "登革熱防治" not in by_type
    by_search = client.get("/", {"q": "淨灘"}).content.decode()
    assert "淨灘活動" in by_search and "登革熱防治" not in by_search
    nothing = client.get("/", {"q": "不存在的字"}).content.decode()
    assert "沒有符合的訊息" in nothing
    garbage = client.get("/", {"topic": "x", "type": "spam", "before": "yesterday"})
    assert garbage.status_code == 200 and "登革熱防治" in garbage.content.decode()


def test_load_more_pages_with_the_before_cursor(org: Any) -> None:
    from civicpush.citizen_web import inbox_views

    citizen = new_citizen()
    now = timezone.now()
    for i in range(3):
        send_push(org, title=f"通知{i}", push_type=PushType.NOTICE, at=now - datetime.timedelta(hours=3 - i))
    client = client_for(citizen)
    original = inbox_views.PAGE_SIZE
    inbox_views.PAGE_SIZE = 2
    try:
        first = client.get("/").content.decode()
        assert "通知2" in first and "通知1" in first and "通知0" not in first
        more = first.split('class="load-more"><a class="button secondary" href="')[1].split('"')[0]
        second = client.get("/" + more.replace("&amp;", "&")).content.decode()
        assert "通知0" in second and "通知2" not in second
    finally:
        inbox_views.PAGE_SIZE = original


def test_push_images_are_served_only_to_citizens_who_can_see_the_push(org: Any) -> None:
    reader, outsider = new_citizen(), new_citizen()
    group = group_of(org, [reader])
    push = send_push(org, target_kind=TargetKind.GROUPS, target_group_ids=[group.pk], image_alt="住警器安裝位置圖")
    image = push.images.get()
    page = client_for(reader).get(f"/m/{push.pk}/").content.decode()
    assert f'src="{image.image.url}"' in page and 'alt="住警器安裝位置圖"' in page
    inbox = client_for(reader).get("/").content.decode()
    assert image.thumbnail.url in inbox

    response = client_for(reader).get(image.image.url)
    assert response.status_code == 200
    assert response["Content-Type"] == image.content_type
    assert "private" in response["Cache-Control"]
    assert client_for(outsider).get(image.image.url).status_code == 404
    assert client_for(outsider).get(image.thumbnail.url).status_code == 404
    assert client_for(reader).get("/media/../secrets.txt").status_code == 404
    assert client_for(reader).get("/media/pushes/images/nothing.png").status_code == 404


def test_inbox_and_message_pages_are_private_but_kept_offline_on_the_device(org: Any) -> None:
    citizen = new_citizen()
    push = send_push(org)
    client = client_for(citizen)
    for response in (client.get("/"), client.get(f"/m/{push.pk}/")):
        assert "private" in response["Cache-Control"]
        assert response["CivicPush-Offline"] == "keep"


def test_signing_out_clears_the_device_cache(org: Any) -> None:
    client = client_for(new_citizen())
    response = client.post("/signout/")
    assert response.status_code == 302
    assert '"cache"' in response["Clear-Site-Data"] and '"storage"' in response["Clear-Site-Data"]


def test_the_service_worker_keeps_marked_pages_and_media(client: Any) -> None:
    body = client.get("/sw.js").content.decode()
    assert 'response.headers.get("CivicPush-Offline") === "keep"' in body
    assert 'const MEDIA_PREFIX = "/media/"' in body
    assert 'data.type === "signout"' in body
    assert "/offline/" in body
