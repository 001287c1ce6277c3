"""Checking people in at the door."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from webapp.extensions import db
from webapp.models import Attendance, User, utcnow
from webapp.services import PermissionDenied, audit, events


@dataclass
class CheckIn:
    attendance: Attendance
    already: bool  # they had been checked in before this tap
    by: User | None  # who checked them in (first time)


def check_in(organizer: User, attendance: Attendance) -> CheckIn:
    """Mark ``attendance`` checked in, once; a repeat says when and by whom."""
    if not events.is_organizer(organizer, attendance.event):
        raise PermissionDenied("Only the event's organizers can check people in.")
    # One conditional UPDATE: of two volunteers tapping at once, exactly one
    # checks the person in and the other is told by whom.
    claimed = db.session.execute(
        update(Attendance)
        .where(Attendance.id == attendance.id, Attendance.checked_in_at.is_(None))
        .values(checked_in_at=utcnow(), checked_in_by_id=organizer.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(attendance)
    if claimed:
        audit.record(organizer, "attendees.check_in", event=attendance.event, subject=f"user {attendance.user_id}")
    return CheckIn(attendance, already=not claimed, by=attendance.checked_in_by)
