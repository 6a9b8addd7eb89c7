"""Sign-up needs the current privacy notice; no profile data is stored before consent."""

import datetime

import pytest
from django.conf import settings

from civicpush.citizens import services
from civicpush.citizens.models import Citizen, CitizenProfile, ConsentRecord, Township, Village
from civicpush.citizens.topics import Topic, mask_to_topics
from civicpush.core.errors import Conflict, PermissionDenied, ValidationFailed
from civicpush.core.models import AuditEntry

from .factories import signed_up_citizen, taitung

pytestmark = pytest.mark.django_db
PHONE = "+886912345678"


def test_sign_up_creates_citizen_and_consent_together():
    taitung()
    citizen = services.do_sign_up(
        "0912-345-678", notice_version=settings.PRIVACY_NOTICE_VERSION, client_ip="198.51.100.1"
    )
    assert citizen.phone_e164 == PHONE
    consent = ConsentRecord.objects.get(citizen=citizen)
    assert consent.notice_version == settings.PRIVACY_NOTICE_VERSION
    assert consent.client_ip == "198.51.100.1"
    assert services.has_current_consent(citizen)
    entry = AuditEntry.objects.get(action="citizens.citizen.created")
    assert entry.object_repr == str(citizen.pseudonym)
    assert "0912" not in str(entry.data) + entry.object_repr


def test_sign_up_without_the_current_notice_creates_nothing():
    taitung()
    with pytest.raises(ValidationFailed) as exc:
        services.do_sign_up(PHONE, notice_version="2020-01", client_ip=None)
    assert exc.value.field_errors["accept"]
    assert not Citizen.objects.exists()
    assert not ConsentRecord.objects.exists()


def test_second_sign_up_for_the_same_number_is_refused():
    signed_up_citizen(PHONE)
    with pytest.raises(Conflict):
        services.do_sign_up(PHONE, notice_version=settings.PRIVACY_NOTICE_VERSION, client_ip=None)
    assert Citizen.objects.count() == 1


def test_profile_update_without_current_consent_is_refused_and_writes_nothing():
    citizen = signed_up_citizen(PHONE)
    ConsentRecord.objects.filter(citizen=citizen).update(notice_version="2020-01")
    assert not services.has_current_consent(citizen)
    with pytest.raises(PermissionDenied):
        services.do_update_profile(citizen, display_name="小明", birth_year=1990, national_id="A123456789")
    assert not CitizenProfile.objects.exists()


def test_new_notice_version_is_recorded_and_then_profile_can_be_saved():
    citizen = signed_up_citizen(PHONE)
    ConsentRecord.objects.filter(citizen=citizen).update(notice_version="2020-01")
    services.do_record_consent(citizen, notice_version=settings.PRIVACY_NOTICE_VERSION, client_ip="198.51.100.2")
    assert services.has_current_consent(citizen)
    profile = services.do_update_profile(citizen, display_name="小明")
    assert profile.consent.notice_version == settings.PRIVACY_NOTICE_VERSION


def test_profile_is_saved_with_village_topics_and_masked_encrypted_id():
    citizen = signed_up_citizen(PHONE)
    lanyu = Township.objects.get(name="蘭嶼鄉")
    village = Village.objects.get(township=lanyu, name="紅頭村")
    services.do_update_profile(
        citizen,
        display_name="  小明 ",
        township_id=lanyu.pk,
        village_id=village.pk,
        birth_year=1990,
        gender="female",
        topic_values=[Topic.TOURISM, Topic.EDUCATION],
        residency="digital",
        national_id="a123456789",
    )
    profile = CitizenProfile.objects.get(citizen=citizen)
    assert (profile.display_name, profile.township, profile.village, profile.birth_year) == (
        "小明",
        lanyu,
        village,
        1990,
    )
    assert mask_to_topics(profile.topics_mask) == [Topic.TOURISM, Topic.EDUCATION]
    assert profile.national_id_masked == "A12*****89"
    assert "A123456789" not in profile.national_id_encrypted
    assert "A123456789" not in (profile.national_id_hmac or "")


def test_blank_national_id_keeps_the_stored_one_and_empty_string_removes_it():
    citizen = signed_up_citizen(PHONE)
    services.do_update_profile(citizen, national_id="A123456789")
    services.do_update_profile(citizen, display_name="x", national_id=None)
    assert CitizenProfile.objects.get(citizen=citizen).national_id_masked == "A12*****89"
    services.do_update_profile(citizen, national_id="")
    profile = CitizenProfile.objects.get(citizen=citizen)
    assert (profile.national_id_hmac, profile.national_id_encrypted, profile.national_id_masked) == (None, "", "")


def test_village_from_another_township_is_refused_and_nothing_is_written():
    citizen = signed_up_citizen(PHONE)
    lanyu = Township.objects.get(name="蘭嶼鄉")
    other = Village.objects.get(name="南寮村")  # 綠島鄉
    with pytest.raises(ValidationFailed) as exc:
        services.do_update_profile(citizen, display_name="小明", township_id=lanyu.pk, village_id=other.pk)
    assert exc.value.field_errors["village"]
    assert not CitizenProfile.objects.exists()


def test_village_deleted_in_the_2021_adjustment_is_refused():
    citizen = signed_up_citizen(PHONE)
    city = Township.objects.get(name="臺東市")
    gone = Village.objects.get(township=city, name="鐵花里")
    assert gone.valid_to == datetime.date(2021, 10, 17)
    with pytest.raises(ValidationFailed) as exc:
        services.do_update_profile(citizen, township_id=city.pk, village_id=gone.pk)
    assert exc.value.field_errors["village"]


@pytest.mark.parametrize("year", [1899, 2999])
def test_birth_year_outside_the_range_is_refused(year):
    citizen = signed_up_citizen(PHONE)
    with pytest.raises(ValidationFailed) as exc:
        services.do_update_profile(citizen, birth_year=year)
    assert exc.value.field_errors["birth_year"]


def test_invalid_national_id_is_refused_and_nothing_is_written():
    citizen = signed_up_citizen(PHONE)
    with pytest.raises(ValidationFailed) as exc:
        services.do_update_profile(citizen, display_name="小明", national_id="A123456788")
    assert exc.value.field_errors["national_id"]
    assert not CitizenProfile.objects.exists()


def test_national_id_held_by_another_account_is_refused():
    first = signed_up_citizen(PHONE)
    second = signed_up_citizen("+886987654321")
    services.do_update_profile(first, national_id="A123456789")
    with pytest.raises(ValidationFailed) as exc:
        services.do_update_profile(second, national_id="A123456789")
    assert "已被其他帳號登錄" in str(exc.value.field_errors["national_id"][0])
    assert not CitizenProfile.objects.filter(citizen=second).exists()
