"""Text on printed badges: a font for every script, and lines fitted into a width.

Latin, Greek and Cyrillic use the bundled DejaVu Sans (embedded, subset); CJK uses
reportlab's built-in CID fonts (not embedded: PDF viewers and printers supply them).
Text is drawn as text, never parsed as markup.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

from reportlab.lib.colors import Color
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONT_DIR = Path(__file__).resolve().parent.parent / "static" / "fonts"
REGULAR, BOLD = "DejaVuSans", "DejaVuSans-Bold"


@cache
def get_font(name: str) -> TTFont | UnicodeCIDFont:
    """Registered once per process; reportlab keeps per-document subsets on the font itself."""
    font = TTFont(name, FONT_DIR / f"{name}.ttf") if name in (REGULAR, BOLD) else UnicodeCIDFont(name)
    pdfmetrics.registerFont(font)
    return font


def cjk_font_for(*texts: str) -> str:
    """The CID font for CJK text: kana means Japanese, hangul Korean, else Chinese.

    Give all of a badge's text: a kanji-only name is Japanese when the headline has kana.
    """
    for ch in "".join(texts):
        o = ord(ch)
        if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9F:
            return "HeiseiKakuGo-W5"
        if 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
            return "HYGothic-Medium"
    return "STSong-Light"


def clean(text: str) -> str:
    """One line of composed text: no control or format characters, single spaces."""
    text = unicodedata.normalize("NFC", text or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf") or ch in "\t\n\r")
    return " ".join(text.split())


def text_runs(text: str, base: str = BOLD, cjk: str | None = None) -> list[tuple[str, str]]:
    """``text`` cut into (font name, piece): DejaVu where it has the glyph, a CJK CID font elsewhere."""
    cmap = get_font(base).face.charToGlyph
    if all(ord(ch) in cmap for ch in text):
        return [(base, text)] if text else []
    cjk = cjk or cjk_font_for(text)
    runs: list[tuple[str, str]] = []
    for ch in text:
        # Spaces stay with their neighbours rather than switching fonts for one character.
        font = base if ord(ch) in cmap and not (ch == " " and runs and runs[-1][0] == cjk) else cjk
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + ch)
        else:
            runs.append((font, ch))
    return runs


def text_width(text: str, size: float, base: str = BOLD, cjk: str | None = None) -> float:
    return sum(get_font(name).stringWidth(piece, size) for name, piece in text_runs(text, base, cjk))


def _ellipsize(text: str, size: float, width: float, base: str, cjk: str | None) -> str:
    if text_width(text, size, base, cjk) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits with an ellipsis
        mid = (lo + hi + 1) // 2
        if text_width(text[:mid].rstrip() + "…", size, base, cjk) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "…"


def _break_points(text: str) -> list[int]:
    """Where a line may break: at spaces and hyphens, and between two CJK characters."""
    points = []
    for i in range(1, len(text)):
        before, after = text[i - 1], text[i]
        if after == " " or before == "-" or (ord(before) >= 0x2E80 and ord(after) >= 0x2E80):
            points.append(i)
    return points


def _best_lines(text: str, points: list[int], k: int, base: str, cjk: str | None) -> tuple[float, list[str]]:
    """``text`` cut at ``points`` into ``k`` lines with the narrowest widest line (width at 1 pt)."""
    @cache
    def best(start: int, k: int) -> tuple[float, tuple[str, ...]]:
        rest = text[start:].strip()
        if k == 1:
            return text_width(rest, 1, base, cjk), (rest,)
        result: tuple[float, tuple[str, ...]] = (float("inf"), ())
        for cut in points:
            if cut <= start:
                continue
            line = text[start:cut].strip()
            first = text_width(line, 1, base, cjk)
            if first >= result[0]:
                break  # lines only get longer from here
            widest, lines = best(cut, k - 1)
            result = min(result, (max(first, widest), (line, *lines)))
        return result

    widest, lines = best(0, k)
    return widest, list(lines)


def fit_text(text: str, width: float, max_size: float, min_size: float, *, base: str = BOLD, cjk: str | None = None,
             max_lines: int = 1, height: float | None = None, leading: float = 1.12,
             one_line_min: float | None = None) -> tuple[list[str], float]:
    """Lines and a font size so that every line fits ``width`` (and all of them ``height``).

    One line while that allows at least ``one_line_min``; else up to ``max_lines``
    balanced lines at the largest size that fits; never below ``min_size``: what
    still doesn't fit ends in "…".
    """
    text = clean(text)
    if not text:
        return [], max_size
    one_line_min = min_size if one_line_min is None else one_line_min
    height = height if height is not None else float("inf")
    points = _break_points(text) if max_lines > 1 else []
    best: tuple[float, list[str]] = (0.0, [])
    for k in range(1, min(max_lines, len(points) + 1) + 1):
        widest, lines = _best_lines(text, points, k, base, cjk)
        size = min(max_size, width / max(widest, 1e-6), height / (k * leading))
        if k == 1 and size >= one_line_min:
            return lines, size
        if size > best[0] * 1.15:  # another line must be worth it
            best = (size, lines)
    if best[0] >= min_size:
        return best[1], best[0]
    # Too long even at the smallest size: fill the lines we have, then "…".
    lines, words = [], text
    rows = max(1, min(max_lines, int(height / (min_size * leading)))) if height != float("inf") else max_lines
    while words and len(lines) < rows - 1:
        cut = max((p for p in _break_points(words) if text_width(words[:p].strip(), min_size, base, cjk) <= width),
                  default=0)
        if not cut:
            break
        lines.append(words[:cut].strip())
        words = words[cut:].strip()
    lines.append(_ellipsize(words, min_size, width, base, cjk))
    return lines, min_size


def draw_text(c: Canvas, text: str, x: float, y: float, size: float, colour: Color, *, base: str = BOLD,
              cjk: str | None = None, center: bool = False, char_space: float = 0.0) -> None:
    """One line at baseline ``y``, starting at ``x`` (or centred on it), in as many fonts as it needs."""
    runs = text_runs(text, base, cjk)
    if center:
        x -= (sum(get_font(f).stringWidth(p, size) for f, p in runs) + char_space * max(len(text) - 1, 0)) / 2
    c.setFillColor(colour)
    for name, piece in runs:
        face = get_font(name)
        c.setFont(name, size)
        if name in (REGULAR, BOLD):
            c.drawString(x, y, piece, charSpace=char_space)
        elif base == BOLD:  # CID fonts have no bold face: stroke the outline too for weight
            c.setStrokeColor(colour)
            c.setLineWidth(size * 0.03)
            c.drawString(x, y, piece, mode=2, charSpace=char_space)
        else:
            c.drawString(x, y, piece, charSpace=char_space)
        x += face.stringWidth(piece, size) + char_space * len(piece)
