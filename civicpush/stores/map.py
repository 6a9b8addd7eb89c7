"""The offers map (優惠地圖) without map tiles: a schematic SVG of Taitung's 16 townships (positions
roughly as on a map, north at the top, Green Island and Orchid Island offshore) with store markers,
plus an OpenStreetMap search link per store (a plain link; no external script)."""

from __future__ import annotations

from urllib.parse import quote

# TOWNCODE → (x, y) in a 320 × 600 viewBox.
TOWNSHIP_POSITIONS: dict[str, tuple[int, int]] = {
    "10014080": (235, 40),  # 長濱
    "10014020": (230, 130),  # 成功
    "10014060": (120, 95),  # 池上
    "10014120": (70, 150),  # 海端
    "10014030": (130, 160),  # 關山
    "10014070": (215, 225),  # 東河
    "10014050": (150, 235),  # 鹿野
    "10014130": (85, 250),  # 延平
    "10014040": (135, 315),  # 卑南
    "10014010": (195, 320),  # 臺東市
    "10014110": (285, 330),  # 綠島
    "10014090": (165, 400),  # 太麻里
    "10014140": (105, 400),  # 金峰
    "10014100": (145, 490),  # 大武
    "10014150": (100, 545),  # 達仁
    "10014160": (270, 560),  # 蘭嶼
}


def township_position(code: str) -> tuple[int, int]:
    return TOWNSHIP_POSITIONS.get(code, (160, 300))


def marker_position(code: str, index: int) -> tuple[int, int]:
    """Markers of one township on a small ring around its point."""
    x, y = township_position(code)
    offsets = [(0, -16), (14, -8), (14, 8), (0, 16), (-14, 8), (-14, -8)]
    dx, dy = offsets[index % len(offsets)]
    ring = 1 + index // len(offsets)
    return x + dx * ring, y + dy * ring


def map_link(address: str, name: str) -> str:
    return "https://www.openstreetmap.org/search?query=" + quote(f"{name} {address}")
