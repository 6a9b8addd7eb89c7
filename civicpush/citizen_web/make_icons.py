"""Draw the citizen app's icons once with Pillow: `python civicpush/citizen_web/make_icons.py`.

Writes static/citizen_web/icons/{icon-192,icon-512,icon-maskable-512,apple-touch-icon}.png.
The mark (a speech bubble with a signal arc) keeps inside the maskable safe zone (central 80%).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

PRIMARY = (11, 92, 173)
WHITE = (255, 255, 255)
OUT = Path(__file__).resolve().parent / "static" / "citizen_web" / "icons"


def draw_icon(size: int, *, maskable: bool) -> Image.Image:
    scale = 4  # draw large, then downsample for smooth edges
    s = size * scale
    image = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(image)
    if maskable:
        d.rectangle((0, 0, s, s), fill=PRIMARY)
    else:
        d.rounded_rectangle((0, 0, s - 1, s - 1), radius=int(s * 0.22), fill=PRIMARY)
    inset = 0.24 if maskable else 0.18  # the mark's margin; maskable keeps to the safe zone
    left, top, right, bottom = s * inset, s * (inset + 0.04), s * (1 - inset), s * (1 - inset - 0.12)
    d.rounded_rectangle((left, top, right, bottom), radius=int(s * 0.1), fill=WHITE)
    tail_x = left + (right - left) * 0.28
    d.polygon(
        [(tail_x, bottom - 2), (tail_x + s * 0.13, bottom - 2), (tail_x - s * 0.02, bottom + s * 0.12)], fill=WHITE
    )
    cx, cy = (left + right) / 2, (top + bottom) / 2 + s * 0.06
    d.ellipse((cx - s * 0.045, cy - s * 0.045, cx + s * 0.045, cy + s * 0.045), fill=PRIMARY)
    for radius in (0.13, 0.22):
        r = s * radius
        d.arc((cx - r, cy - r, cx + r, cy + r), start=220, end=320, fill=PRIMARY, width=int(s * 0.04))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    draw_icon(192, maskable=False).save(OUT / "icon-192.png", optimize=True)
    draw_icon(512, maskable=False).save(OUT / "icon-512.png", optimize=True)
    draw_icon(512, maskable=True).save(OUT / "icon-maskable-512.png", optimize=True)
    # iOS ignores transparency and rounds the corners itself: a full-bleed square.
    draw_icon(180, maskable=True).convert("RGB").save(OUT / "apple-touch-icon.png", optimize=True)


if __name__ == "__main__":
    main()
