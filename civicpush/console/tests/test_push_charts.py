"""The server-side SVG charts: accessible, escaped, with the numbers as a table."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from civicpush.console import charts


def _svg(markup: str) -> ET.Element:
    start = markup.index("<svg")
    end = markup.index("</svg>") + len("</svg>")
    return ET.fromstring(markup[start:end])  # noqa: S314 - our own markup, not untrusted input


def test_bar_chart_has_title_desc_axis_labels_and_a_data_table():
    out = str(
        charts.bar_chart(
            [("2026-05", 3), ("2026-06", 7)], title="每月推播", desc="說明", x_label="月份", y_label="則數"
        )
    )
    svg = _svg(out)
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.get("role") == "img"
    assert svg.find(f"{ns}title").text == "每月推播"
    assert svg.find(f"{ns}desc").text == "說明"
    assert len(svg.findall(f"{ns}rect")) == 2
    assert "月份" in out and "則數" in out
    assert "<details" in out and '<th scope="row">2026-06</th><td>7</td>' in out


def test_chart_text_from_users_is_escaped():
    out = str(
        charts.line_chart([("<script>alert(1)</script>", 1)], title="<b>t</b>", desc="d&d", x_label="x", y_label="y")
    )
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out and "&amp;" in out
    _svg(out)  # still well-formed XML


def test_line_chart_of_zeros_and_of_nothing_still_renders():
    assert "<polyline" in str(
        charts.line_chart([("+0h", 0), ("+1h", 0)], title="t", desc="d", x_label="x", y_label="y")
    )
    empty = str(charts.line_chart([], title="t", desc="d", x_label="x", y_label="y"))
    _svg(empty)


def test_percent_axis_uses_the_given_maximum():
    out = str(
        charts.bar_chart([("5月", 0.5)], title="t", desc="d", x_label="x", y_label="y", fmt=charts.percent, y_max=1.0)
    )
    assert "100%" in out and "50%" in out
