"""No two apps translate the same (msgctxt, msgid) differently.

Django merges every app's catalogue into one per language: a msgid gets ONE translation, taken from
the first app in INSTALLED_APPS that has it. When two apps translate the same English text
differently, one of them silently shows the other's wording (e.g. parking's "Issued" 開單時間 on the
console's budgets page instead of 已發放). Same meaning: use one wording everywhere. Different
meaning: give the newer app's text a context (pgettext / {% translate "…" context "…" %}) or a more
specific English text.
"""

from __future__ import annotations

from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[2]  # the civicpush package
CATALOGUE_GLOB = "locale/zh_Hant/LC_MESSAGES/django.po"

Key = tuple[str | None, str]  # (msgctxt, msgid)


def _translation(entry: polib.POEntry) -> str:
    if entry.msgid_plural:
        return " | ".join(entry.msgstr_plural[index] for index in sorted(entry.msgstr_plural))
    return entry.msgstr


def find_conflicts(po_paths: list[Path], root: Path) -> dict[Key, dict[str, list[str]]]:
    """(msgctxt, msgid) -> {translation: [catalogues]} for every key translated in more than one way."""
    seen: dict[Key, dict[str, list[str]]] = {}
    for po_path in po_paths:
        for entry in polib.pofile(str(po_path)):
            text = _translation(entry)
            if entry.obsolete or "fuzzy" in entry.flags or not text.strip(" |"):
                continue
            catalogue = str(po_path.relative_to(root))
            seen.setdefault((entry.msgctxt, entry.msgid), {}).setdefault(text, []).append(catalogue)
    return {key: by_text for key, by_text in seen.items() if len(by_text) > 1}


def _describe(conflicts: dict[Key, dict[str, list[str]]]) -> str:
    lines = [f"{len(conflicts)} msgid(s) are translated differently by different catalogues:"]
    for (ctx, msgid), by_text in sorted(conflicts.items(), key=lambda item: (item[0][1], item[0][0] or "")):
        label = f"{msgid!r}" + (f" (context {ctx!r})" if ctx else "")
        variants = "; ".join(f"{text!r} in {', '.join(sorted(where))}" for text, where in sorted(by_text.items()))
        lines.append(f"  {label}: {variants}")
    lines.append("Same meaning: use one wording. Different meaning: add a context or a more specific msgid.")
    return "\n".join(lines)


def test_no_msgid_is_translated_differently_by_two_catalogues() -> None:
    conflicts = find_conflicts(sorted(ROOT.rglob(CATALOGUE_GLOB)), ROOT)
    assert conflicts == {}, _describe(conflicts)


def _write_po(path: Path, entries: list[tuple[str | None, str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": "zh_Hant"}
    for ctx, msgid, msgstr in entries:
        po.append(polib.POEntry(msgctxt=ctx, msgid=msgid, msgstr=msgstr))
    po.save(str(path))
    return path


def test_the_check_reports_a_conflict_and_accepts_contexts(tmp_path: Path) -> None:
    first = _write_po(
        tmp_path / "console" / CATALOGUE_GLOB,
        [(None, "Issued", "已發放"), (None, "Total", "合計"), (None, "Open", "圈存中")],
    )
    second = _write_po(
        tmp_path / "parking" / CATALOGUE_GLOB,
        [(None, "Issued", "開單時間"), (None, "Total", "合計"), ("parking flag", "Open", "待處理")],
    )
    conflicts = find_conflicts([first, second], tmp_path)
    assert list(conflicts) == [(None, "Issued")]  # same wording and a distinct context are fine
    assert conflicts[(None, "Issued")] == {
        "已發放": [f"console/{CATALOGUE_GLOB}"],
        "開單時間": [f"parking/{CATALOGUE_GLOB}"],
    }
    message = _describe(conflicts)
    assert "'Issued'" in message and "已發放" in message and "開單時間" in message
