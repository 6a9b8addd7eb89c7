"""Synthetic citizens that look like Taitung's: township mix, an ageing population, Taiwanese and
indigenous names, topics, consent. Deterministic for a given seed.

Used by `load_demo` (2,000 citizens with sign-in-able phone numbers) and by `generate_citizens`
(millions, for benchmarks, with numbers in the +886 99 block that no real mobile uses).
"""

from __future__ import annotations

import bisect
import datetime
import itertools
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from civicpush.citizens.models import (
    Citizen,
    CitizenProfile,
    ConsentRecord,
    Gender,
    Residency,
    Township,
    Village,
)
from civicpush.citizens.topics import Topic, topics_to_mask
from civicpush.org.models import County

DEMO_SEED = 20261122
DEMO_CITIZENS = 2_000

# Share of the county's people per township (TOWNCODE → weight, normalised when drawn).
TOWNSHIP_WEIGHTS: dict[str, float] = {
    "10014010": 45,  # 臺東市
    "10014020": 6,  # 成功鎮
    "10014030": 4,  # 關山鎮
    "10014040": 8,  # 卑南鄉
    "10014050": 4,  # 鹿野鄉
    "10014060": 4,  # 池上鄉
    "10014070": 4,  # 東河鄉
    "10014080": 3,  # 長濱鄉
    "10014090": 5,  # 太麻里鄉
    "10014100": 3,  # 大武鄉
    "10014110": 2,  # 綠島鄉
    "10014120": 2,  # 海端鄉
    "10014130": 2,  # 延平鄉
    "10014140": 2,  # 金峰鄉
    "10014150": 2,  # 達仁鄉
    "10014160": 2,  # 蘭嶼鄉
}
# Mountain and island townships where most people are indigenous (Bunun, Paiwan, Rukai, Tao).
MOSTLY_INDIGENOUS = {"10014120", "10014130", "10014140", "10014150", "10014160"}

# Birth years: an ageing rural county (more people born in the 1950s–70s than after 2000).
BIRTH_BANDS: list[tuple[int, int, float]] = [
    (1940, 1944, 3),
    (1945, 1949, 4),
    (1950, 1954, 6),
    (1955, 1959, 8),
    (1960, 1964, 9),
    (1965, 1969, 9),
    (1970, 1974, 8),
    (1975, 1979, 8),
    (1980, 1984, 7.5),
    (1985, 1989, 7),
    (1990, 1994, 6),
    (1995, 1999, 5.5),
    (2000, 2004, 5),
    (2005, 2008, 3.5),
]
GENDERS: list[tuple[str, float]] = [
    (Gender.FEMALE, 49),
    (Gender.MALE, 48.5),
    (Gender.OTHER, 0.5),
    (Gender.UNDISCLOSED, 2),
]
TOPIC_WEIGHTS: list[tuple[int, float]] = [
    (Topic.LOCAL_LIFE, 16),
    (Topic.TOURISM, 13),
    (Topic.COUNTY_NEWS, 12),
    (Topic.SOCIAL_CARE, 10),
    (Topic.DISEASE_PREVENTION, 9),
    (Topic.TRAFFIC, 9),
    (Topic.EDUCATION, 8),
    (Topic.SPORTS_LEISURE, 7),
    (Topic.ENVIRONMENT, 6),
    (Topic.INDIGENOUS, 6),
    (Topic.INTERNATIONAL, 4),
]
TOPIC_COUNTS: list[tuple[int, float]] = [(1, 30), (2, 35), (3, 22), (4, 13)]
RESIDENT_SHARE = 0.85
# Residents who gave their village; with 85% residents this is about 70% of all citizens.
VILLAGE_SHARE_OF_RESIDENTS = 0.82

# Common Taiwanese surnames with rough frequencies (per cent of the population).
SURNAMES: list[tuple[str, float]] = [
    ("陳", 11.1), ("林", 8.3), ("黃", 6.0), ("張", 5.3), ("李", 5.1), ("王", 4.1), ("吳", 4.0),
    ("劉", 3.2), ("蔡", 2.9), ("楊", 2.7), ("許", 2.3), ("鄭", 1.9), ("謝", 1.8), ("洪", 1.5),
    ("郭", 1.5), ("邱", 1.4), ("曾", 1.4), ("廖", 1.3), ("賴", 1.3), ("徐", 1.3), ("周", 1.2),
    ("葉", 1.2), ("蘇", 1.1), ("莊", 1.0), ("呂", 1.0), ("江", 1.0), ("何", 0.9), ("蕭", 0.9),
    ("羅", 0.9), ("高", 0.9), ("潘", 0.7), ("簡", 0.7), ("朱", 0.7), ("鍾", 0.7), ("游", 0.6),
    ("彭", 0.6), ("詹", 0.6), ("胡", 0.6), ("施", 0.6), ("沈", 0.5), ("余", 0.5), ("盧", 0.5),
]  # fmt: skip
GIVEN_FEMALE = "淑美麗惠雅婷怡君芳玲秀珍華慧靜佳欣宜萱涵庭瑜琪筱雯心晴玉蓉鳳琴"
GIVEN_MALE = "志明文俊建宏家豪偉國榮信傑誠德冠宇翔哲承彥嘉銘正輝昌耀仁勇"
# Indigenous personal and family names in their usual Chinese transliteration (name·family).
INDIGENOUS_GIVEN_FEMALE = ["巴奈", "撒韻", "拉娃", "伊苞", "烏瑪", "吉娃斯"]
INDIGENOUS_GIVEN_MALE = ["馬耀", "阿道", "尤幹", "瓦旦", "比令", "達利"]
INDIGENOUS_FAMILY = ["谷木", "拉罕", "伊斯坦大", "達給", "卡造", "拿撒", "法拉", "巴督", "嘎照", "馬亨亨"]

CONSENT_WINDOW_START = datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC)
CONSENT_WINDOW_SECONDS = int(
    (datetime.datetime(2026, 11, 15, tzinfo=datetime.UTC) - CONSENT_WINDOW_START).total_seconds()
)

T = TypeVar("T")

# Demo mobiles: +886 9 then two digits below 90 (all valid mobile prefixes), then six digits.
# Benchmark mobiles: +886 99… — no operator's block, so they can never collide with a real sign-up.
BENCH_PHONE_PREFIX = "+88699"


@dataclass(frozen=True)
class TownshipPick:
    township_id: int
    code: str
    village_ids: tuple[int, ...]


@dataclass(slots=True)
class SyntheticCitizen:
    pseudonym: uuid.UUID
    phone: str
    display_name: str
    township_id: int | None
    village_id: int | None
    birth_year: int
    gender: str
    topics_mask: int
    residency: str
    accepted_at: datetime.datetime


class _Weighted(Generic[T]):
    """Draw from a fixed weighted list with one random() call (cumulative weights + bisect)."""

    def __init__(self, items: Sequence[tuple[T, float]]) -> None:
        self.values = [v for v, _w in items]
        self.cum = list(itertools.accumulate(w for _v, w in items))
        self.total = self.cum[-1]

    def draw(self, rng: random.Random) -> T:
        return self.values[bisect.bisect_right(self.cum, rng.random() * self.total)]


def townships_for(county: County, today: datetime.date | None = None) -> list[TownshipPick]:
    """The county's townships with the villages valid on `today`, in a stable order."""
    today = today or timezone.localdate()
    villages: dict[int, list[int]] = {}
    valid = Village.objects.filter(township__county=county, valid_from__lte=today).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=today)
    )
    for township_id, village_id in valid.order_by("township_id", "code", "name", "valid_from").values_list(
        "township_id", "id"
    ):
        villages.setdefault(township_id, []).append(village_id)
    return [
        TownshipPick(township_id=t.pk, code=t.code, village_ids=tuple(villages.get(t.pk, ())))
        for t in Township.objects.filter(county=county).order_by("code")
    ]


class CitizenGenerator:
    """Deterministic stream of synthetic citizens for one seed and township list."""

    def __init__(self, seed: int | str, townships: Sequence[TownshipPick]) -> None:
        if not townships:
            raise ValueError("No townships: load the reference data first (ensure_reference_data).")
        self.rng = random.Random(seed)
        self.townships = _Weighted([(t, TOWNSHIP_WEIGHTS.get(t.code, 2.0)) for t in townships])
        self.bands = _Weighted([((lo, hi), w) for lo, hi, w in BIRTH_BANDS])
        self.genders = _Weighted([(str(g), w) for g, w in GENDERS])
        self.topics = _Weighted([(int(t), w) for t, w in TOPIC_WEIGHTS])
        self.topic_counts = _Weighted(TOPIC_COUNTS)
        self.surnames = _Weighted(SURNAMES)

    def _name(self, gender: str, indigenous: bool) -> str:
        rng = self.rng
        if indigenous:
            given = INDIGENOUS_GIVEN_FEMALE if gender == Gender.FEMALE else INDIGENOUS_GIVEN_MALE
            return f"{rng.choice(given)}·{rng.choice(INDIGENOUS_FAMILY)}"
        pool = (
            GIVEN_FEMALE
            if gender == Gender.FEMALE
            else GIVEN_MALE
            if gender == Gender.MALE
            else GIVEN_FEMALE + GIVEN_MALE
        )
        first, second = rng.sample(pool, 2)
        return f"{self.surnames.draw(rng)}{first}{second}"

    def _topics_mask(self) -> int:
        wanted = self.topic_counts.draw(self.rng)
        chosen: set[int] = set()
        while len(chosen) < wanted:
            chosen.add(int(self.topics.draw(self.rng)))
        return topics_to_mask(sorted(chosen))

    def next(self, phone: str) -> SyntheticCitizen:
        rng = self.rng
        township = self.townships.draw(rng)
        lo, hi = self.bands.draw(rng)
        gender = str(self.genders.draw(rng))
        resident = rng.random() < RESIDENT_SHARE
        village_id = None
        if resident and township.village_ids and rng.random() < VILLAGE_SHARE_OF_RESIDENTS:
            village_id = rng.choice(township.village_ids)
        indigenous = rng.random() < (0.6 if township.code in MOSTLY_INDIGENOUS else 0.12)
        return SyntheticCitizen(
            pseudonym=uuid.UUID(int=rng.getrandbits(128), version=4),
            phone=phone,
            display_name=self._name(gender, indigenous),
            township_id=township.township_id,
            village_id=village_id,
            birth_year=rng.randint(lo, hi),
            gender=gender,
            topics_mask=self._topics_mask(),
            residency=Residency.RESIDENT if resident else Residency.DIGITAL,
            accepted_at=CONSENT_WINDOW_START + datetime.timedelta(seconds=rng.randrange(CONSENT_WINDOW_SECONDS)),
        )


def demo_phones(n: int = DEMO_CITIZENS, seed: int = DEMO_SEED) -> list[str]:
    """`n` distinct, valid-looking Taiwan mobiles (+8869XXXXXXXX below the 99 block), always the same."""
    rng = random.Random(f"{seed}-phones")
    seen: set[str] = set()
    phones: list[str] = []
    while len(phones) < n:
        phone = f"+8869{rng.randrange(0, 90):02d}{rng.randrange(1_000_000):06d}"
        if phone not in seen:
            seen.add(phone)
            phones.append(phone)
    return phones


def bench_phone(citizen_id: int) -> str:
    """A benchmark citizen's number, unique because the id is (+88699 and at least 7 digits)."""
    return f"{BENCH_PHONE_PREFIX}{citizen_id:07d}"


def write_citizens_orm(county: County, people: Sequence[SyntheticCitizen], *, ids: Sequence[int] | None = None) -> int:
    """Insert citizens with a consent each and a profile linked to it, through bulk_create."""
    notice = settings.PRIVACY_NOTICE_VERSION
    citizens = [
        Citizen(
            id=ids[i] if ids is not None else None,
            county=county,
            pseudonym=p.pseudonym,
            phone_e164=p.phone,
        )
        for i, p in enumerate(people)
    ]
    citizens = Citizen.objects.bulk_create(citizens, batch_size=2_000)
    consents = ConsentRecord.objects.bulk_create(
        [
            ConsentRecord(citizen_id=c.pk, notice_version=notice, accepted_at=p.accepted_at)
            for c, p in zip(citizens, people, strict=True)
        ],
        batch_size=2_000,
    )
    CitizenProfile.objects.bulk_create(
        [
            CitizenProfile(
                citizen_id=c.pk,
                consent_id=consent.pk,
                display_name=p.display_name,
                township_id=p.township_id,
                village_id=p.village_id,
                birth_year=p.birth_year,
                gender=p.gender,
                topics_mask=p.topics_mask,
                residency=p.residency,
            )
            for c, consent, p in zip(citizens, consents, people, strict=True)
        ],
        batch_size=2_000,
    )
    return len(citizens)


def demo_citizens_exist(seed: int = DEMO_SEED) -> bool:
    return Citizen.objects.filter(phone_e164__in=demo_phones(50, seed)).exists()


@transaction.atomic
def load_demo_citizens(county: County, n: int = DEMO_CITIZENS, seed: int = DEMO_SEED) -> int:
    """Create the `n` demo citizens (profile + consent each). Assumes none of them exist yet."""
    generator = CitizenGenerator(seed, townships_for(county))
    people = [generator.next(phone) for phone in demo_phones(n, seed)]
    return write_citizens_orm(county, people)


@transaction.atomic
def remove_citizens(county: County) -> int:
    """Delete the county's citizens with their profiles and consents (the audit log stays)."""
    CitizenProfile.objects.filter(citizen__county=county).delete()
    ConsentRecord.objects.filter(citizen__county=county).delete()
    _total, per_model = Citizen.objects.filter(county=county).delete()
    return per_model.get(Citizen._meta.label, 0)


def uses_postgresql() -> bool:
    return connection.vendor == "postgresql"
