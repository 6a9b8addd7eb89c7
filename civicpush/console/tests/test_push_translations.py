"""Every string of the console's push pages has a zh-Hant translation."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polib

CONSOLE = Path(__file__).resolve().parent.parent
ROOT = CONSOLE.parent
PY_FILES = [
    CONSOLE / "push_forms.py",
    CONSOLE / "charts.py",
    *(CONSOLE / "views" / n for n in ("pushes.py", "push_detail.py", "approvals.py", "schedule.py", "stats.py")),
    CONSOLE / "views" / "county_settings.py",
]
TEMPLATES = sorted((CONSOLE / "templates" / "console" / "pushes").glob("*.html"))


def _msgids() -> set[str]:
    ids: set[str] = set()
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        ids.update(re.findall(r'{%\s*translate\s+"([^"]*)"', text))
        ids.update(re.findall(r"{%\s*translate\s+'([^']*)'", text))
        ids.update(re.findall(r'_\("([^"]*)"\)', text))
        for block in re.findall(r"{%\s*blocktranslate[^%]*%}(.*?){%\s*endblocktranslate\s*%}", text, re.S):
            ids.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", block))
    for path in PY_FILES:
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


def test_every_push_page_string_has_a_zh_hant_translation() -> None:
    translated: set[str] = set()
    for po_path in ROOT.rglob("locale/zh_Hant/LC_MESSAGES/django.po"):
        translated |= {e.msgid for e in polib.pofile(str(po_path)) if e.msgstr and "fuzzy" not in e.flags}
    ids = _msgids()
    assert len(ids) > 200
    assert sorted(ids - translated) == []
