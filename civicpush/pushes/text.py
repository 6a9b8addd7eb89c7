"""Text rules for pushes: the width-weighted count behind "限120全形字元" and the title form.

`display_width` is mirrored in `static/pushes/width_counter.js` (the editor's live counter);
`tests/test_text.py` runs one table of strings through both so they cannot drift apart.
"""

from __future__ import annotations

import math
import re
import unicodedata

BODY_MAX_WIDTH = 120
# TTPush's own admin caps titles at 30 (taiwan-context.md §6.1); "[tag]title" counts as a whole.
TITLE_MAX_WIDTH = 30
TAG_MAX_WIDTH = 8
SUBTITLE_MAX_WIDTH = 40

# W (wide) and F (full-width) render as one full cell; A (ambiguous: 「…」「°」「○」) renders
# full-width in Taiwanese fonts (and was 2 bytes in Big5), so it counts 1 too. Everything else
# (Na, H, N) counts half.
_FULL = frozenset({"W", "F", "A"})

_TITLE_RE = re.compile(r"^\s*[\[［【]\s*([^\]］】]*?)\s*[\]］】]\s*(.*)$", re.S)


def char_width(ch: str) -> float:
    return 1.0 if unicodedata.east_asian_width(ch) in _FULL else 0.5


def display_width(text: str) -> float:
    """Width in full-width units: full-width/CJK/ambiguous 1, half-width 0.5 (after NFC).

    Line breaks count like any half-width character.
    """
    return sum(char_width(ch) for ch in unicodedata.normalize("NFC", text or ""))


def display_width_rounded(text: str) -> int:
    """What the counter shows: the width rounded up ("60.5 / 120" → "61 / 120")."""
    return math.ceil(display_width(text))


def normalise_text(text: str) -> str:
    """NFC, Unix line ends, no trailing spaces on the whole; stored as text (templates escape it)."""
    return unicodedata.normalize("NFC", (text or "").replace("\r\n", "\n").replace("\r", "\n")).strip()


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text)


def parse_title(raw: str) -> tuple[str, str]:
    """ "[防火]居家安全" → ("防火", "居家安全"); full-width brackets too; no tag → ("", title)."""
    text = normalise_text(raw)
    match = _TITLE_RE.match(text)
    if match:
        return match.group(1).strip(), match.group(2).strip()
    return "", text


def format_title(tag: str, title: str) -> str:
    return f"[{tag}]{title}" if tag else title
