"""Badge identity: the URL a QR code carries, its SVG, and token rotation."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

import zxingcpp
from flask import current_app
from markupsafe import Markup
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Attendance
from webapp.services import NotFound
from webapp.services.events import new_badge_code

TOKEN_BYTES = 24
QUIET = 4  # modules of white around a code, as the QR standard asks
_TOKEN_IN_URL = re.compile(r"/b/([A-Za-z0-9_-]{16,64})/?(?:[?#].*)?$")
_CODE = re.compile(r"[A-Z0-9]{1,12}")  # the badge_code column holds at most 12
_DARK = bytes([1] + [0] * 255)  # an encoder pixel (0 dark, 255 light) -> 1 for a dark module
_DARK_RUN = re.compile(rb"\x01+")


def badge_url(attendance: Attendance) -> str:
    """Exactly ``BASE_URL/b/<token>``: all a QR code carries (no personal data)."""
    return f"{current_app.config['BASE_URL']}/b/{attendance.badge_token}"


def qr_matrix(data: str) -> tuple[bytes, ...]:
    """The QR code for ``data``: error correction M, the smallest version that holds it.

    One ``bytes`` per row, 1 for a dark module, without the quiet zone (whoever
    draws it adds four modules of white). Encoded by zxing-cpp (zint): a
    fraction of a millisecond, where pure-Python encoders take several.
    """
    symbol = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = symbol.to_image(scale=1, add_quiet_zones=False)  # one byte per module: 0 dark, 255 light
    size = image.shape[1]
    pixels = bytes(memoryview(image)).translate(_DARK)
    return tuple(pixels[start:start + size] for start in range(0, len(pixels), size))


def qr_rects(rows: Sequence[bytes]) -> list[tuple[int, int, int, int]]:
    """Rectangles (x, y, width, height; module units, y down) that cover exactly the dark modules.

    Each dark run in a row is one rectangle, and the same run in the rows below
    grows it instead, so a code is a few hundred rectangles rather than a thousand squares.
    """
    rects: list[tuple[int, int, int, int]] = []
    open_runs: dict[tuple[int, int], int] = {}  # (x0, x1) -> first row
    for y, row in enumerate(rows):
        grow = open_runs.pop  # a run seen in the row above keeps its first row; what is left there ends
        current = {span: grow(span, y) for span in map(re.Match.span, _DARK_RUN.finditer(row))}
        rects += [(x0, y0, x1 - x0, y - y0) for (x0, x1), y0 in open_runs.items()]
        open_runs = current
    rects += [(x0, y0, x1 - x0, len(rows) - y0) for (x0, x1), y0 in open_runs.items()]
    return rects


def qr_svg(data: str, title: str) -> Markup:
    """An inline, scalable SVG QR code (error correction M, quiet zone included) with an accessible title.

    Sized by CSS (a viewBox, no width or height); the same code as on the printed badge.
    """
    rows = qr_matrix(data)
    side = len(rows) + 2 * QUIET
    path = "".join(f"M{x + QUIET} {y + QUIET}h{w}v{h}h-{w}z" for x, y, w, h in qr_rects(rows))
    return Markup(  # noqa: S704 - numbers only, and the title is escaped
        f'<svg role="img" class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" '
        f'shape-rendering="crispEdges"><title>{Markup.escape(title)}</title>'
        f'<rect width="{side}" height="{side}" fill="#fff"/><path d="{path}" fill="#000"/></svg>'
    )


def token_from(badge: str) -> str | None:
    """The token in a scanned value: a bare token or any URL ending in /b/<token>."""
    badge = badge.strip()
    match = _TOKEN_IN_URL.search(badge)
    if match:
        return match.group(1)
    if re.fullmatch(r"[A-Za-z0-9_-]{16,64}", badge):
        return badge
    return None


def by_token(token: str) -> Attendance:
    attendance = db.session.scalar(select(Attendance).where(Attendance.badge_token == token))
    if attendance is None:
        raise NotFound("This badge isn't valid. It may have been replaced by a new one.")
    return attendance


def normalise_code(code: str) -> str:
    """Short codes are typed by hand: ignore case, spaces and dashes."""
    return re.sub(r"[\s-]+", "", code).upper()


def by_code(code: str) -> list[Attendance]:
    """Every attendance with this short code (codes are unique per event only).

    Text that can't be a code (codes are a few ASCII letters and digits) finds
    nobody without a query: a typed or scanned value may hold anything,
    NUL included, which PostgreSQL refuses as a parameter.
    """
    code = normalise_code(code)
    if not _CODE.fullmatch(code):
        return []
    return list(db.session.scalars(select(Attendance).where(func.upper(Attendance.badge_code) == code)))


def rotate(attendance: Attendance) -> None:
    """Issue a new token and code (lost badge): the old QR code stops working at once."""
    attendance.badge_token = secrets.token_urlsafe(TOKEN_BYTES)
    attendance.badge_code = new_badge_code(attendance.event)
    attendance.badge_printed_at = None
