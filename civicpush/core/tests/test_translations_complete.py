"""Every user-visible string in the project has a hand-written zh-Hant translation.

The UI is zh-Hant first: a string missing from the catalogues would show in English to every user.
Scans Python code (gettext and pgettext calls) and templates ({% translate %}, {% blocktranslate %},
with or without a context) across all apps, and checks the union of the apps' zh_Hant catalogues.
Entries are keyed by (msgctxt, msgid): a string with a context needs an entry with that msgctxt.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[2]  # the civicpush package
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy"}
PGETTEXT_NAMES = {"pgettext", "pgettext_lazy", "npgettext", "npgettext_lazy"}
MsgKey = tuple[str | None, str]  # (msgctxt, msgid)


def _python_files() -> list[Path]:
    return [
        p
        for p in ROOT.rglob("*.py")
        if "tests" not in p.parts and "migrations" not in p.parts and "management" not in p.parts
    ]


def _msgids_in_python(path: Path) -> set[MsgKey]:
    ids: set[MsgKey] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in GETTEXT_NAMES and isinstance(node.args[0].value, str):
            ids.add((None, node.args[0].value))
        elif (
            name in PGETTEXT_NAMES
            and len(node.args) > 1
            and isinstance(node.args[0].value, str)
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            ids.add((node.args[0].value, node.args[1].value))
    return ids


_CONTEXT = r"""(?:\s[^%]*?\bcontext\s+(?:"([^"]*)"|'([^']*)'))?"""


def _msgids_in_template(path: Path) -> set[MsgKey]:
    text = path.read_text(encoding="utf-8")
    ids: set[MsgKey] = set()
    for quoted in (r'"([^"]*)"', r"'([^']*)'"):
        for msgid, ctx_dq, ctx_sq in re.findall(r"{%\s*translate\s+" + quoted + _CONTEXT + r"[^%]*%}", text):
            ids.add((ctx_dq or ctx_sq or None, msgid))
    block_re = r"{%\s*blocktranslate(\s[^%]*)?%}(.*?){%\s*endblocktranslate\s*%}"
    for args, block in re.findall(block_re, text, re.S):
        if "{% plural %}" in block:
            block = block.split("{% plural %}")[0]
        ctx = re.search(r"""\bcontext\s+(?:"([^"]*)"|'([^']*)')""", args or "")
        ids.add(((ctx.group(1) or ctx.group(2)) if ctx else None, re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", block)))
    return ids


def _translated() -> set[MsgKey]:
    out: set[MsgKey] = set()
    for po_path in ROOT.rglob("locale/zh_Hant/LC_MESSAGES/django.po"):
        for entry in polib.pofile(str(po_path)):
            has_text = bool(entry.msgstr or any(entry.msgstr_plural.values()))
            if has_text and not entry.obsolete and "fuzzy" not in entry.flags:
                out.add((entry.msgctxt, entry.msgid))
    return out


def test_every_user_visible_string_has_a_zh_hant_translation() -> None:
    translated = _translated()
    missing: dict[MsgKey, list[str]] = {}
    for path in _python_files():
        for msgid in _msgids_in_python(path) - translated:
            missing.setdefault(msgid, []).append(str(path.relative_to(ROOT)))
    for path in ROOT.rglob("templates/**/*.html"):
        for msgid in _msgids_in_template(path) - translated:
            missing.setdefault(msgid, []).append(str(path.relative_to(ROOT)))
    assert missing == {}, "\n".join(
        f"{msgid!r}{f' (context {ctx!r})' if ctx else ''}: {', '.join(sorted(set(p)))}"
        for (ctx, msgid), p in sorted(missing.items(), key=lambda item: (item[0][1], item[0][0] or ""))
    )
