"""System notices: in the citizen's inbox at once, idempotent on their reference, validated."""

from __future__ import annotations

import pytest

from civicpush.core.errors import ValidationFailed
from civicpush.delivery.models import SystemNotice
from civicpush.delivery.notices import send_system_notice
from civicpush.pushes.inbox import inbox_for
from civicpush.pushes.tests.conftest import make_citizen

pytestmark = pytest.mark.django_db


def test_a_system_notice_reaches_the_inbox_once_per_reference(org) -> None:
    citizen = make_citizen(org.county)
    unit = org.unit("rescue")
    first = send_system_notice(
        citizen, unit=unit, kind="test", reference="test:1", title="付款完成", body="您已付款 50 枚臺東幣。"
    )
    again = send_system_notice(
        citizen, unit=unit, kind="test", reference="test:1", title="付款完成", body="您已付款 50 枚臺東幣。"
    )
    assert first.pk == again.pk
    assert SystemNotice.objects.count() == 1
    assert first.is_system_notice and not first.created_by.is_active
    entries = inbox_for(citizen)
    assert [e.push_id for e in entries] == [first.pk]
    other = make_citizen(org.county)
    assert inbox_for(other) == []


def test_a_notice_too_long_is_refused_and_nothing_is_written(org) -> None:
    citizen = make_citizen(org.county)
    with pytest.raises(ValidationFailed) as caught:
        send_system_notice(citizen, unit=org.unit("rescue"), kind="test", reference="r", title="t", body="長" * 121)
    assert "body" in caught.value.field_errors
    assert SystemNotice.objects.count() == 0
