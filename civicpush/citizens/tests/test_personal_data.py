"""Export holds everything we keep; deletion erases personal data and keeps the pseudonymous rows."""

import json

import pytest
from django.conf import settings

from civicpush.citizens import services
from civicpush.citizens.models import (
    Citizen,
    CitizenProfile,
    CitizenStatus,
    ConsentRecord,
    DemoSmsMessage,
    OneTimeCode,
    PhoneLock,
    Township,
)
from civicpush.citizens.topics import Topic
from civicpush.core.models import AuditEntry

from .factories import request_code, signed_up_citizen

pytestmark = pytest.mark.django_db
PHONE = "+886912345678"


@pytest.fixture
def citizen_with_data(django_capture_on_commit_callbacks):
    citizen = signed_up_citizen(PHONE)
    code = request_code(PHONE, django_capture_on_commit_callbacks)
    services.do_verify_code(PHONE, code, client_ip="198.51.100.1")
    township = Township.objects.get(name="池上鄉")
    services.do_update_profile(
        citizen,
        display_name="小明",
        township_id=township.pk,
        birth_year=1985,
        topic_values=[Topic.TOURISM],
        national_id="A123456789",
    )
    return citizen


def test_export_holds_phone_profile_full_national_id_consents_and_code_times(citizen_with_data):
    data = services.export_personal_data(citizen_with_data)
    json.dumps(data)  # JSON-able
    own = data["citizen"]
    assert own["phone"] == PHONE
    assert own["pseudonym"] == str(citizen_with_data.pseudonym)
    assert own["profile"]["display_name"] == "小明"
    assert own["profile"]["township"] == "池上鄉"
    assert own["profile"]["national_id"] == "A123456789"
    assert own["profile"]["national_id_masked"] == "A12*****89"
    assert own["profile"]["topics"] == ["觀光"]
    assert own["consents"][0]["notice_version"] == settings.PRIVACY_NOTICE_VERSION
    assert len(own["sign_in_codes"]) == 1
    assert set(own["sign_in_codes"][0]) == {"requested_at", "expires_at", "used_at"}


def test_deletion_erases_personal_data_and_keeps_pseudonymous_rows(citizen_with_data):
    pseudonym = citizen_with_data.pseudonym
    services.do_delete_account(citizen_with_data)

    citizen = Citizen.objects.get(pseudonym=pseudonym)
    assert citizen.status == CitizenStatus.DELETED
    assert citizen.deleted_at is not None
    assert citizen.phone_e164 is None
    assert not CitizenProfile.objects.exists()  # with it the national ID hash, ciphertext and mask
    consent = ConsentRecord.objects.get(citizen=citizen)
    assert consent.client_ip is None
    assert consent.notice_version == settings.PRIVACY_NOTICE_VERSION
    assert not OneTimeCode.objects.filter(phone_e164=PHONE).exists()
    assert not PhoneLock.objects.filter(phone_e164=PHONE).exists()
    assert not DemoSmsMessage.objects.filter(to=PHONE).exists()

    entry = AuditEntry.objects.get(action="citizens.citizen.deleted")
    assert entry.object_repr == str(pseudonym)
    assert entry.actor_label == "citizen"
    everything = json.dumps([entry.object_repr, entry.data, entry.before, entry.after])
    assert "912345678" not in everything


def test_number_can_sign_up_again_after_deletion_as_a_new_citizen(citizen_with_data):
    services.do_delete_account(citizen_with_data)
    again = services.do_sign_up(PHONE, notice_version=settings.PRIVACY_NOTICE_VERSION, client_ip=None)
    assert again.pk != citizen_with_data.pk
    assert Citizen.objects.count() == 2
