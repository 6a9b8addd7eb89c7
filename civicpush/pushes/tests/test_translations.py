"""Every user-visible string of pushes has a hand-written zh-Hant translation."""

from __future__ import annotations

import ast
from pathlib import Path

import polib
from django.utils import translation

from civicpush.pushes.models import PushStatus

APP = Path(__file__).resolve().parent.parent


def _msgids() -> set[str]:
    ids = set()
    for path in APP.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                ids.add(node.args[0].value)
    return ids


def test_every_message_has_a_zh_hant_translation() -> None:
    po = polib.pofile(str(APP / "locale" / "zh_Hant" / "LC_MESSAGES" / "django.po"))
    translated = {e.msgid for e in po if e.msgstr and not e.obsolete and "fuzzy" not in e.flags}
    assert sorted(_msgids() - translated) == []


def test_status_labels_show_in_traditional_chinese() -> None:
    with translation.override("zh-hant"):
        assert str(PushStatus.SUBMITTED.label) == "待審核"
