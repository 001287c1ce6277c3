"""Checking people in at the door."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.models import Attendance, User, utcnow
from webapp.services import PermissionDenied, events


@dataclass
class CheckIn:
    attendance: Attendance
    already: bool  # they had been checked in before this tap
    by: User | None  # who checked them in (first time)


def check_in(organizer: User, attendance: Attendance) -> CheckIn:
    """Mark ``attendance`` checked in, once; a repeat says when and by whom."""
    if not events.is_organizer(organizer, attendance.event):
        raise PermissionDenied("Only the event's organizers can check people in.")
    if attendance.checked_in_at is not None:
        return CheckIn(attendance, already=True, by=attendance.checked_in_by)
    attendance.checked_in_at = utcnow()
    attendance.checked_in_by_id = organizer.id
    return CheckIn(attendance, already=False, by=organizer)
