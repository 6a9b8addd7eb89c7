"""The 120 full-width rule, shared by the server and the editor's JavaScript counter."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from civicpush.core.errors import ValidationFailed
from civicpush.pushes import services
from civicpush.pushes.models import Push
from civicpush.pushes.tests.conftest import draft_fields
from civicpush.pushes.text import display_width, parse_title

JS = Path(__file__).resolve().parent.parent / "static" / "pushes" / "width_counter.js"

TABLE = [
    "",
    "abc",
    "臺東金幣活動開跑！Download TTPush 領 20 枚",
    "ＡＢＣ全形英數１２３",
    "ｶﾀｶﾅ半形",
    "「引號」…°○※",
    "emoji 🔥🚒 消防",
    "e\u0301 combining → NFC",
    "한국어 テスト",
    "line\nbreak\ttab",
    "𠀀𪚥 extension B",
]


@pytest.mark.parametrize(
    ("text", "width"),
    [("臺東", 2), ("ab", 1), ("臺東金幣活動開跑！Download TTPush 領 20 枚", 21), ("…", 1), ("Ａ", 1), ("ｱ", 0.5)],
)
def test_full_width_counts_one_and_half_width_half(text: str, width: float) -> None:
    assert display_width(text) == width


def test_javascript_counter_agrees_with_python_on_every_string() -> None:
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed")
    script = (
        f"const w = require({json.dumps(str(JS))});"
        f"const table = {json.dumps(TABLE, ensure_ascii=False)};"
        "process.stdout.write(JSON.stringify(table.map(w.displayWidth)));"
    )
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True, timeout=30).stdout
    assert json.loads(out) == [display_width(s) for s in TABLE]


def test_title_keeps_the_tag_of_the_seed_form() -> None:
    assert parse_title("[防火]居家安全") == ("防火", "居家安全")
    assert parse_title("【活動】 報名") == ("活動", "報名")
    assert parse_title("沒有標籤") == ("", "沒有標籤")


def test_body_of_120_full_width_characters_is_accepted(org) -> None:
    push = services.do_create_draft(
        org.user("prevention.drafter"), org.unit("prevention"), **draft_fields(body="防" * 120)
    )
    assert push.body == "防" * 120


def test_body_of_121_full_width_characters_is_refused_and_nothing_is_saved(org) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.do_create_draft(
            org.user("prevention.drafter"), org.unit("prevention"), **draft_fields(body="防" * 121)
        )
    assert "body" in exc.value.field_errors
    assert not Push.objects.exists()


def test_body_of_240_half_width_characters_is_accepted(org) -> None:
    push = services.do_create_draft(
        org.user("prevention.drafter"), org.unit("prevention"), **draft_fields(body="a" * 240)
    )
    assert len(push.body) == 240
    with pytest.raises(ValidationFailed):
        services.do_create_draft(org.user("prevention.drafter"), org.unit("prevention"), **draft_fields(body="a" * 241))


def test_body_is_stored_as_text_not_html(org) -> None:
    push = services.do_create_draft(
        org.user("prevention.drafter"), org.unit("prevention"), **draft_fields(body="<b>注意</b> & 安全")
    )
    push.refresh_from_db()
    assert push.body == "<b>注意</b> & 安全"
