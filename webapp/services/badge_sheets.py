"""Badge sheets of an event: whose badges go on them, the PDFs, and marking badges printed.

Generating a PDF never marks anything: printing can fail or be cancelled, so
"printed" is the organizer's explicit word (``mark_printed``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Attendance, Event, User, utcnow
from webapp.services import NotFound, ValidationFailed
from webapp.services.badge_pdf import Badge, SheetOptions, render_sheet
from webapp.services.badges import badge_url

_SELECTION = re.compile(r"\s*(\d{1,18}):([A-Za-z0-9]{1,12})\s*")


@dataclass(frozen=True, slots=True)
class PrintStatus:
    total: int
    unprinted: list[tuple[int, str]]  # (attendance id, badge code) not printed yet

    @property
    def selection(self) -> str:
        """The unprinted badges as ``mark_printed`` takes them back from a form."""
        return format_selection(self.unprinted)


def _badge(attendance: Attendance, user: User, event: Event) -> Badge:
    return Badge(name=user.name, url=badge_url(attendance), code=attendance.badge_code, event_name=event.name,
                 headline=user.headline or "", company=user.company or "")


def sheet_badges(event: Event, *, only_unprinted: bool = False) -> list[Badge]:
    """The event's badges in print order: by name (ignoring case), then registration."""
    query = (
        select(Attendance, User).join(User, Attendance.user_id == User.id).where(Attendance.event_id == event.id)
    )
    if only_unprinted:
        query = query.where(Attendance.badge_printed_at.is_(None))
    rows = sorted(db.session.execute(query).all(), key=lambda row: (row[1].name.casefold(), row[0].id))
    return [_badge(attendance, user, event) for attendance, user in rows]


def sheet_pdf(event: Event, options: SheetOptions) -> bytes:
    """The badge sheet PDF of ``event`` (only the unprinted badges when the options say so)."""
    badges = sheet_badges(event, only_unprinted=options.only_unprinted)
    return render_sheet(badges, paper=options.paper, layout=options.layout, title=f"Badges · {event.name}")


def attendee_badge_pdf(event: Event, attendance_id: int, options: SheetOptions) -> bytes:
    """One attendee's badge alone (a reprint), in the first cell of the chosen layout."""
    attendance = db.session.get(Attendance, attendance_id)
    if attendance is None or attendance.event_id != event.id:
        raise NotFound("No such attendee at this event.")
    badge = _badge(attendance, attendance.user, event)
    return render_sheet([badge], paper=options.paper, layout=options.layout, title=f"Badge · {event.name}")


def print_status(event: Event) -> PrintStatus:
    rows = db.session.execute(
        select(Attendance.id, Attendance.badge_code, Attendance.badge_printed_at)
        .where(Attendance.event_id == event.id)
        .order_by(Attendance.id)
    ).all()
    return PrintStatus(len(rows), [(row.id, row.badge_code) for row in rows if row.badge_printed_at is None])


def format_selection(badges: Iterable[tuple[int, str]]) -> str:
    return ",".join(f"{ident}:{code}" for ident, code in badges)


def parse_selection(text: str) -> list[tuple[int, str]]:
    """``"12:7KQ2MX,13:ABC234"`` back to pairs; anything else is a ValidationFailed."""
    pairs = []
    for item in text.split(",") if text.strip() else []:
        match = _SELECTION.fullmatch(item)
        if match is None:
            raise ValidationFailed("The list of badges to mark printed is malformed.", field="badges")
        pairs.append((int(match.group(1)), match.group(2).upper()))
    return pairs


def mark_printed(event: Event, selection: Iterable[tuple[int, str]] | None = None, *,
                 now: datetime | None = None) -> int:
    """Mark badges of ``event`` printed; how many changed.

    With no ``selection`` every badge not printed yet; with one, only those of its
    (attendance id, badge code) pairs that are still unprinted. The code must
    match too, so a badge replaced since the list was made (new code, new QR)
    stays unprinted: its new version was never on paper.
    """
    query = select(Attendance).where(Attendance.event_id == event.id, Attendance.badge_printed_at.is_(None))
    attendances = list(db.session.scalars(query))
    if selection is not None:
        wanted = set(selection)
        attendances = [a for a in attendances if (a.id, a.badge_code) in wanted]
    now = now or utcnow()
    for attendance in attendances:
        attendance.badge_printed_at = now
    db.session.flush()
    return len(attendances)
