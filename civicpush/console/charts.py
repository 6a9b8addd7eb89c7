"""Tiny server-side SVG charts for the console (no JavaScript chart library).

Each chart is an <svg role="img"> with <title> and <desc>, axis labels, and the same numbers as a
table under a <details> element, so screen-reader and keyboard users get the data too. Every piece
of text is escaped: labels may come from user input (push titles, unit names).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

WIDTH = 640
HEIGHT = 260
PAD_LEFT = 56
PAD_RIGHT = 16
PAD_TOP = 16
PAD_BOTTOM = 56
BAR_COLOUR = "#0b5cad"
LINE_COLOUR = "#0b5cad"
GRID_COLOUR = "#c9d1d9"
TEXT_COLOUR = "#1b1f24"

_ids = itertools.count(1)


@dataclass(frozen=True)
class Point:
    label: str
    value: float


def _fmt_default(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _axis_max(points: Sequence[Point], y_max: float | None) -> float:
    """The top of the y axis: given, or round; whole-number data gets whole-number ticks (4 steps)."""
    if y_max is not None:
        return y_max
    highest = max((p.value for p in points), default=0)
    if all(float(p.value).is_integer() for p in points):
        return 4 * max(1.0, _nice_max(highest / 4))
    return _nice_max(highest)


def _axes(y_max: float, x_label: str, y_label: str, fmt: Callable[[float], str]) -> list[str]:
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    parts = []
    for i in range(5):
        value = y_max * i / 4
        y = PAD_TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - PAD_RIGHT}" y2="{y:.1f}" stroke="{GRID_COLOUR}" />'
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{TEXT_COLOUR}">'
            f"{escape(fmt(value))}</text>"
        )
    parts.append(
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{PAD_TOP + plot_h}" stroke="{TEXT_COLOUR}" />'
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{WIDTH - PAD_RIGHT}" y2="{PAD_TOP + plot_h}" '
        f'stroke="{TEXT_COLOUR}" />'
        f'<text x="{(PAD_LEFT + WIDTH - PAD_RIGHT) / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" font-size="12" '
        f'fill="{TEXT_COLOUR}">{escape(x_label)}</text>'
        f'<text x="14" y="{PAD_TOP + plot_h / 2:.1f}" text-anchor="middle" font-size="12" fill="{TEXT_COLOUR}" '
        f'transform="rotate(-90 14 {PAD_TOP + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    return parts


def _x_labels(points: Sequence[Point], xs: list[float]) -> list[str]:
    # At most ~12 labels along the axis so that they never overlap.
    every = max(1, math.ceil(len(points) / 12))
    y = HEIGHT - PAD_BOTTOM + 16
    return [
        f'<text x="{x:.1f}" y="{y}" text-anchor="middle" font-size="11" fill="{TEXT_COLOUR}">{escape(p.label)}</text>'
        for i, (p, x) in enumerate(zip(points, xs, strict=True))
        if i % every == 0
    ]


def _wrap(svg_body: list[str], title: str, desc: str, points: Sequence[Point], x_label: str, y_label: str,
          fmt: Callable[[float], str]) -> SafeString:  # fmt: skip
    n = next(_ids)
    title_id, desc_id = f"chart-title-{n}", f"chart-desc-{n}"
    rows = "".join(f'<tr><th scope="row">{escape(p.label)}</th><td>{escape(fmt(p.value))}</td></tr>' for p in points)
    table = (
        f'<details class="chart-data"><summary>{escape(_("Show the data as a table"))}</summary>'
        f'<table class="data"><caption>{escape(title)}</caption>'
        f'<thead><tr><th scope="col">{escape(x_label)}</th><th scope="col">{escape(y_label)}</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></details>"
    )
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{title_id}">{escape(title)}</title><desc id="{desc_id}">{escape(desc)}</desc>'
        + "".join(svg_body)
        + "</svg>"
    )
    return mark_safe(f'<figure class="chart-figure">{svg}{table}</figure>')  # noqa: S308 - every text is escaped


def bar_chart(
    data: Sequence[tuple[str, float]],
    *,
    title: str,
    desc: str,
    x_label: str,
    y_label: str,
    fmt: Callable[[float], str] = _fmt_default,
    y_max: float | None = None,
) -> SafeString:
    """A vertical bar chart of (label, value) pairs."""
    points = [Point(str(label), float(value or 0)) for label, value in data]
    top = _axis_max(points, y_max)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(1, len(points))
    bar_w = max(2.0, slot * 0.7)
    body = _axes(top, x_label, y_label, fmt)
    xs = []
    for i, p in enumerate(points):
        h = plot_h * (p.value / top) if top else 0
        x = PAD_LEFT + slot * i + (slot - bar_w) / 2
        xs.append(x + bar_w / 2)
        body.append(
            f'<rect x="{x:.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{BAR_COLOUR}">'
            f"<title>{escape(p.label)}: {escape(fmt(p.value))}</title></rect>"
        )
    body += _x_labels(points, xs)
    return _wrap(body, title, desc, points, x_label, y_label, fmt)


def line_chart(
    data: Sequence[tuple[str, float]],
    *,
    title: str,
    desc: str,
    x_label: str,
    y_label: str,
    fmt: Callable[[float], str] = _fmt_default,
    y_max: float | None = None,
) -> SafeString:
    """A line chart of (label, value) pairs, evenly spaced along the x axis."""
    points = [Point(str(label), float(value or 0)) for label, value in data]
    top = _axis_max(points, y_max)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(1, len(points) - 1)
    xs = [PAD_LEFT + step * i if len(points) > 1 else PAD_LEFT + plot_w / 2 for i in range(len(points))]
    ys = [PAD_TOP + plot_h - (plot_h * p.value / top if top else 0) for p in points]
    body = _axes(top, x_label, y_label, fmt)
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        body.append(f'<polyline points="{path}" fill="none" stroke="{LINE_COLOUR}" stroke-width="2" />')
        if len(points) <= 40:
            body += [
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{LINE_COLOUR}">'
                f"<title>{escape(p.label)}: {escape(fmt(p.value))}</title></circle>"
                for p, x, y in zip(points, xs, ys, strict=True)
            ]
    body += _x_labels(points, xs)
    return _wrap(body, title, desc, points, x_label, y_label, fmt)


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"
