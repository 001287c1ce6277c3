"""Printable badge sheets: plain values in, PDF bytes out (reportlab, no app context).

Every page is cut into equal cells: 1 (the whole page), 4 (2 x 2: A6 on A4) or
8 (2 x 4, landscape: A7 on A4). Cells fill row by row; the last page holds what
is left, with no blank page after it.

Built to stay small and fast at thousands of badges: what every badge shares
(coloured band, event name, caption) is one form XObject drawn by reference;
each QR code is one filled path of merged rectangles in module units; fonts are
embedded once per document and subset. Text in any script, shrunk to fit, comes
from ``badge_text``.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from reportlab.lib.colors import HexColor, white
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.pdfgen.canvas import Canvas

from webapp.services import ValidationFailed
from webapp.services.badge_text import BOLD, REGULAR, cjk_font_for, draw_text, fit_text, get_font
from webapp.services.badges import QUIET, qr_matrix, qr_rects

PAPERS = {"a4": A4, "letter": LETTER}
LAYOUTS = {1: (1, 1), 4: (2, 2), 8: (2, 4)}  # badges per page -> (columns, rows)
# Codes kept drawn, per process (about 1 KB each): a whole 5,000-badge sheet fits, so fetching
# it again, in another layout or for the unprinted rest, encodes nothing anew.
QR_CACHE_SIZE = 6000
# Baseline below a line's top, and the name's line height, in font sizes: with DejaVu's
# descent (0.24) a line's glyphs stay within its line box.
ASCENT, NAME_LEADING = 0.88, 1.12

INK, GREY, MUTED = HexColor("#111827"), HexColor("#4B5563"), HexColor("#6B7280")
BAND, STRIPE, GUIDE = HexColor("#1E2A5E"), HexColor("#F2A541"), HexColor("#C8CCD4")
CAPTION = "Scan with your phone camera to connect, or type the code"


@dataclass(frozen=True, slots=True)
class Badge:
    name: str
    url: str  # what the QR code carries, exactly
    code: str  # the short code typed when a camera fails
    event_name: str
    headline: str = ""
    company: str = ""


@dataclass(frozen=True, slots=True)
class SheetOptions:
    paper: str = "a4"
    layout: int = 4
    only_unprinted: bool = False


def parse_options(paper: str | None, layout: str | None, only: str | None = None) -> SheetOptions:
    """Query-string values to options; a bad value raises ValidationFailed saying what is allowed."""
    paper = (paper or "a4").strip().lower()
    if paper not in PAPERS:
        raise ValidationFailed("Paper must be a4 or letter.", field="paper")
    layout = (layout or "4").strip()
    if layout not in {str(n) for n in LAYOUTS}:
        raise ValidationFailed("Layout must be 1, 4 or 8 badges per page.", field="layout")
    only = (only or "").strip().lower()
    if only not in ("", "all", "unprinted"):
        raise ValidationFailed("'only' may be left out or set to unprinted.", field="only")
    return SheetOptions(paper, int(layout), only == "unprinted")


# --- QR codes ------------------------------------------------------------------------------


def qr_modules(url: str) -> list[list[bool]]:
    """Modules of the code for ``url`` (error correction M), without the quiet zone."""
    return [[bool(module) for module in row] for row in qr_matrix(url)]


def qr_path(modules: Sequence[Sequence[bool]] | Sequence[bytes]) -> str:
    """PDF operators filling every dark module as one path, in module units (origin top-left, y down).

    Merged rectangles, all one path: one fill, no seams between modules.
    """
    return "\n".join(f"{x} {y} {w} {h} re" for x, y, w, h in qr_rects([bytes(row) for row in modules]))


@lru_cache(maxsize=QR_CACHE_SIZE)
def _qr_drawing(url: str) -> tuple[int, bytes]:
    """Side in modules and the path of the code for ``url``, zlib-packed (a third of the
    memory, microseconds to unpack). A badge URL only changes with its token."""
    rows = qr_matrix(url)
    return len(rows), zlib.compress(qr_path(rows).encode("ascii"), 1)


def _draw_qr(c: Canvas, url: str, x: float, y: float, box: float) -> None:
    """The code for ``url`` with its quiet zone filling the square ``box`` at (x, y)."""
    side, packed = _qr_drawing(url)
    unit = box / (side + 2 * QUIET)
    top = y + box - QUIET * unit
    path = zlib.decompress(packed).decode("ascii")
    c.addLiteral(f"q 0 g {unit:.4f} 0 0 {-unit:.4f} {x + QUIET * unit:.3f} {top:.3f} cm\n{path}\nf Q")


def clear_qr_cache() -> None:
    """Forget every drawn code (benchmarks measure the first, uncached sheet)."""
    _qr_drawing.cache_clear()


# --- layout ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    """Where things go in one badge of size w x h (points, origin bottom-left)."""

    w: float
    h: float
    landscape: bool

    @property
    def u(self) -> float:  # sizes are designed for A6 portrait / A7 landscape, then scaled
        return min(self.w / 297.64, self.h / 210.47) if self.landscape else min(self.w / 297.64, self.h / 419.53)

    @property
    def band(self) -> float:
        return (30 if self.landscape else 58) * self.u

    @property
    def qr_box(self) -> tuple[float, float, float]:
        u = self.u
        if self.landscape:
            box = min(self.h - self.band - 14 * u, self.w * 0.5)
            return self.w - 8 * u - box, 6 * u, box
        box = min(176 * u, self.w - 24 * u)
        return (self.w - box) / 2, 40 * u, box

    @property
    def text_area(self) -> tuple[float, float, float, float]:
        """x, right edge, bottom and top of the name / headline / company stack."""
        u = self.u
        qx, qy, box = self.qr_box
        top = self.h - self.band - 3 * u - 10 * u
        if self.landscape:
            return 14 * u, qx + 2 * u, 48 * u, top
        return 16 * u, self.w - 16 * u, qy + box + 2 * u, top


def cells(paper: str, layout: int) -> tuple[tuple[float, float], list[tuple[float, float]], Cell]:
    """Page size, the lower-left corner of each cell in reading order, and the cell."""
    page_w, page_h = PAPERS[paper]
    cols, rows = LAYOUTS[layout]
    w, h = page_w / cols, page_h / rows
    corners = [(col * w, page_h - (row + 1) * h) for row in range(rows) for col in range(cols)]
    return (page_w, page_h), corners, Cell(w, h, landscape=w > h)


def _chrome(c: Canvas, cell: Cell, event_name: str) -> None:
    """What every badge of an event shares: drawn once into a form, placed by reference."""
    u, w, h = cell.u, cell.w, cell.h
    c.setFillColor(BAND)
    c.rect(0, h - cell.band, w, cell.band, stroke=0, fill=1)
    c.setFillColor(STRIPE)
    c.rect(0, h - cell.band - 3 * u, w, 3 * u, stroke=0, fill=1)
    max_size, min_size = (11 * u, 7 * u) if cell.landscape else (16 * u, 9 * u)
    lines, size = fit_text(event_name, w - 28 * u, max_size, min_size, max_lines=2)
    lead = size * 1.15
    y = h - cell.band / 2 + (len(lines) - 1) * lead / 2 - size * 0.36
    for line in lines:
        draw_text(c, line, 14 * u if cell.landscape else w / 2, y, size, white, center=not cell.landscape)
        y -= lead
    if cell.landscape:
        lines, size = fit_text(CAPTION, cell.qr_box[0] - 16 * u, 6.5 * u, 5 * u, base=REGULAR, max_lines=2)
        for i, line in enumerate(lines):
            draw_text(c, line, 14 * u, 16 * u - i * size * 1.2, size, MUTED, base=REGULAR)
    else:
        lines, size = fit_text(CAPTION, w - 32 * u, 7.5 * u, 5.5 * u, base=REGULAR)
        draw_text(c, lines[0], w / 2, 12 * u, size, MUTED, base=REGULAR, center=True)


def _guides(c: Canvas, page: tuple[float, float], layout: int) -> None:
    """Light cut lines between the cells of a page."""
    (page_w, page_h), (cols, rows) = page, LAYOUTS[layout]
    c.setStrokeColor(GUIDE)
    c.setLineWidth(0.4)
    c.setDash(3, 3)
    for col in range(1, cols):
        c.line(col * page_w / cols, 0, col * page_w / cols, page_h)
    for row in range(1, rows):
        c.line(0, row * page_h / rows, page_w, row * page_h / rows)


def _badge(c: Canvas, cell: Cell, badge: Badge) -> None:
    u = cell.u
    x0, x1, bottom, top = cell.text_area
    width, landscape = x1 - x0, cell.landscape
    x = x0 if landscape else (x0 + x1) / 2
    sub_size = (9 if landscape else 12.5) * u
    cjk = cjk_font_for(badge.name, badge.headline, badge.company)
    headline, head_size = fit_text(badge.headline, width, sub_size, sub_size * 0.8, base=REGULAR, cjk=cjk)
    company, comp_size = fit_text(badge.company, width, sub_size, sub_size * 0.8, cjk=cjk)
    # Name: big, shrinks to fit; a long one takes more lines, in the room left.
    name_max, name_min = (22 * u, 9 * u) if landscape else (34 * u, 13 * u)
    room = top - bottom - (len(headline) + len(company)) * sub_size * 1.3
    name, name_size = fit_text(badge.name, width, name_max, name_min, cjk=cjk, max_lines=4, height=room,
                               leading=NAME_LEADING, one_line_min=0.72 * name_max)
    lines = [(line, name_size, name_size * NAME_LEADING, BOLD, INK) for line in name]
    lines += [(line, head_size, sub_size * 1.3, REGULAR, GREY) for line in headline]
    lines += [(line, comp_size, sub_size * 1.3, BOLD, BAND) for line in company]
    y = (top + bottom + sum(line[2] for line in lines)) / 2  # the stack centred in its area
    for line, size, height, base, colour in lines:
        draw_text(c, line, x, y - ASCENT * size, size, colour, base=base, cjk=cjk, center=not landscape)
        y -= height
    qx, qy, box = cell.qr_box
    _draw_qr(c, badge.url, qx, qy, box)
    if landscape:
        draw_text(c, badge.code, 14 * u, 28 * u, 13 * u, INK, char_space=2 * u)
    else:
        draw_text(c, badge.code, cell.w / 2, 25 * u, 17 * u, INK, center=True, char_space=3 * u)


def render_sheet(badges: Sequence[Badge], *, paper: str = "a4", layout: int = 4, title: str = "Badges") -> bytes:
    """A PDF with every badge once, in order, ``layout`` to a page of ``paper``."""
    if paper not in PAPERS or layout not in LAYOUTS:
        raise ValidationFailed("Unknown paper or layout.")
    page, corners, cell = cells(paper, layout)
    out = io.BytesIO()
    c = Canvas(out, pagesize=page, pageCompression=1, invariant=1)
    c.setTitle(title)
    c.setAuthor("MeetLoop")
    c.setCreator("MeetLoop")
    if not badges:
        get_font(REGULAR)
        c.setFont(REGULAR, 14)
        c.drawCentredString(page[0] / 2, page[1] / 2, "No badges to print.")
        c.showPage()
        c.save()
        return out.getvalue()
    forms: dict[str, str] = {}
    for i, badge in enumerate(badges):
        if badge.event_name not in forms:
            forms[badge.event_name] = f"chrome{len(forms)}"
            c.beginForm(forms[badge.event_name], 0, 0, cell.w, cell.h)
            _chrome(c, cell, badge.event_name)
            c.endForm()
        slot = i % len(corners)
        if slot == 0 and i:
            c.showPage()
        if slot == 0 and len(corners) > 1:
            c.saveState()
            _guides(c, page, layout)
            c.restoreState()
        x, y = corners[slot]
        c.saveState()
        c.translate(x, y)
        c.doForm(forms[badge.event_name])
        _badge(c, cell, badge)
        c.restoreState()
    c.showPage()
    c.save()
    return out.getvalue()
