"""Every user-visible string in the project has a hand-written zh-Hant translation.

The UI is zh-Hant first: a string missing from the catalogues would show in English to every user.
Scans Python code (gettext calls) and templates ({% translate %}, {% blocktranslate %}) across all
apps, and checks the union of the apps' zh_Hant catalogues.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[2]  # the civicpush package
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy"}


def _python_files() -> list[Path]:
    return [
        p
        for p in ROOT.rglob("*.py")
        if "tests" not in p.parts and "migrations" not in p.parts and "management" not in p.parts
    ]


def _msgids_in_python(path: Path) -> set[str]:
    ids = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in GETTEXT_NAMES and isinstance(node.args[0].value, str):
            ids.add(node.args[0].value)
    return ids


def _msgids_in_template(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    ids = set(re.findall(r'{%\s*translate\s+"([^"]*)"', text))
    ids.update(re.findall(r"{%\s*translate\s+'([^']*)'", text))
    for block in re.findall(r"{%\s*blocktranslate(?:\s[^%]*)?%}(.*?){%\s*endblocktranslate\s*%}", text, re.S):
        if "{% plural %}" in block:
            block = block.split("{% plural %}")[0]
        ids.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", block))
    return ids


def _translated() -> set[str]:
    out: set[str] = set()
    for po_path in ROOT.rglob("locale/zh_Hant/LC_MESSAGES/django.po"):
        for entry in polib.pofile(str(po_path)):
            has_text = bool(entry.msgstr or any(entry.msgstr_plural.values()))
            if has_text and not entry.obsolete and "fuzzy" not in entry.flags:
                out.add(entry.msgid)
    return out


def test_every_user_visible_string_has_a_zh_hant_translation() -> None:
    translated = _translated()
    missing: dict[str, list[str]] = {}
    for path in _python_files():
        for msgid in _msgids_in_python(path) - translated:
            missing.setdefault(msgid, []).append(str(path.relative_to(ROOT)))
    for path in ROOT.rglob("templates/**/*.html"):
        for msgid in _msgids_in_template(path) - translated:
            missing.setdefault(msgid, []).append(str(path.relative_to(ROOT)))
    assert missing == {}, "\n".join(f"{m!r}: {', '.join(sorted(set(p)))}" for m, p in sorted(missing.items()))
