#!/usr/bin/env python3
"""Draw the app icons (web app manifest, home screen) into webapp/static/icons/.

Run once after changing the design; the PNGs are committed. Needs Pillow and
the bundled DejaVu Sans Bold.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "webapp" / "static" / "icons"
FONT = ROOT / "webapp" / "static" / "fonts" / "DejaVuSans-Bold.ttf"
BLUE, WHITE, AMBER = (29, 111, 216), (255, 255, 255), (255, 183, 3)


def icon(size: int, *, maskable: bool) -> Image.Image:
    """A blue tile with a white loop (the L of MeetLoop closing on itself) and an amber dot."""
    image = Image.new("RGB", (size, size), BLUE)
    draw = ImageDraw.Draw(image)
    # Maskable icons keep their drawing inside the central safe zone (80 %).
    inset = size * (0.22 if maskable else 0.14)
    width = max(2, round(size * 0.085))
    box = (inset, inset, size - inset, size - inset)
    draw.arc(box, start=40, end=330, fill=WHITE, width=width)
    r = size * 0.07
    cx, cy = size - inset - r * 0.6, size / 2 - size * 0.16
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=AMBER)
    font = ImageFont.truetype(str(FONT), round(size * 0.28))
    draw.text((size / 2, size / 2), "M", font=font, fill=WHITE, anchor="mm")
    return image


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        icon(size, maskable=False).save(OUT / f"icon-{size}.png", optimize=True)
    icon(512, maskable=True).save(OUT / "icon-maskable-512.png", optimize=True)
    icon(180, maskable=False).save(OUT / "apple-touch-icon.png", optimize=True)
    print(f"icons written to {OUT}")


if __name__ == "__main__":
    main()
