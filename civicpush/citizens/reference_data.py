"""Taitung reference data: the 16 townships (TOWNCODE, name, English name, postal code).

Source: shared/reference/taiwan-context.md §5.1. Villages are loaded from villages_taitung.csv
(versioned with valid-from/valid-to, see `ensure_reference_data`).
"""

from __future__ import annotations

TAITUNG_COUNTY_CODE = "10014"
TAITUNG_COUNTY_NAME = "臺東縣"

TAITUNG_TOWNSHIPS: list[tuple[str, str, str, str]] = [
    ("10014010", "臺東市", "Taitung City", "950"),
    ("10014020", "成功鎮", "Chenggong", "961"),
    ("10014030", "關山鎮", "Guanshan", "956"),
    ("10014040", "卑南鄉", "Beinan", "954"),
    ("10014050", "鹿野鄉", "Luye", "955"),
    ("10014060", "池上鄉", "Chishang", "958"),
    ("10014070", "東河鄉", "Donghe", "959"),
    ("10014080", "長濱鄉", "Changbin", "962"),
    ("10014090", "太麻里鄉", "Taimali", "963"),
    ("10014100", "大武鄉", "Dawu", "965"),
    ("10014110", "綠島鄉", "Ludao (Green Island)", "951"),
    ("10014120", "海端鄉", "Haiduan", "957"),
    ("10014130", "延平鄉", "Yanping", "953"),
    ("10014140", "金峰鄉", "Jinfeng", "964"),
    ("10014150", "達仁鄉", "Daren", "966"),
    ("10014160", "蘭嶼鄉", "Lanyu (Orchid Island)", "952"),
]
