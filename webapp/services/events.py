"""Events and attendance: creating events, joining them, badge identities."""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Attendance, Event, EventOrganizer, Role, User
from webapp.services import NotFound, ValidationFailed

# No 0/O, 1/I/L: codes are read off paper and typed on phones.
BADGE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BADGE_CODE_LENGTH = 6


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"Unknown time zone {name!r}.", field="timezone") from None


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60] or "event"


def _unique_slug(name: str) -> str:
    base = slugify(name)
    slug, n = base, 2
    while db.session.scalar(select(Event.id).where(Event.slug == slug)) is not None:
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_event(
    owner: User,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    timezone: str,
    *,
    venue: str = "",
    description: str = "",
) -> Event:
    """Create an event owned by ``owner`` (times aware; stored as UTC)."""
    zone(timezone)
    if not name.strip():
        raise ValidationFailed("Give the event a name.", field="name")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValidationFailed("Start and end need a time zone.", field="starts_at")
    if ends_at <= starts_at:
        raise ValidationFailed("The event must end after it starts.", field="ends_at")
    event = Event(
        slug=_unique_slug(name),
        name=name.strip(),
        venue=venue.strip(),
        description=description.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=timezone,
        owner=owner,
        join_code=secrets.token_urlsafe(9),
    )
    db.session.add(event)
    db.session.flush()
    return event


def new_badge_code(event: Event) -> str:
    """A short code nobody else at ``event`` has."""
    while True:
        code = "".join(secrets.choice(BADGE_ALPHABET) for _ in range(BADGE_CODE_LENGTH))
        taken = db.session.scalar(
            select(Attendance.id).where(Attendance.event_id == event.id, Attendance.badge_code == code)
        )
        if taken is None:
            return code


def add_attendee(event: Event, user: User) -> Attendance:
    """The user's attendance of ``event``, created with a fresh badge if needed."""
    attendance = db.session.scalar(
        select(Attendance).where(Attendance.event_id == event.id, Attendance.user_id == user.id)
    )
    if attendance is None:
        attendance = Attendance(
            event=event,
            user=user,
            badge_token=secrets.token_urlsafe(24),  # 192 bits from secrets
            badge_code=new_badge_code(event),
        )
        db.session.add(attendance)
        db.session.flush()
    return attendance


def get_by_ref(ref: str | int) -> Event:
    """The event a reference names: its slug (as in URLs) or its numeric id."""
    ref = str(ref).strip()
    event = db.session.scalar(select(Event).where(Event.slug == ref))
    if event is None and ref.isdigit():
        event = db.session.get(Event, int(ref))
    if event is None:
        raise NotFound("No such event.")
    return event


def is_organizer(user: User, event: Event) -> bool:
    """Owner, co-organizer, or site admin."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.role == Role.ADMIN or event.owner_id == user.id:
        return True
    return db.session.get(EventOrganizer, (event.id, user.id)) is not None


def attendance_of(user: User, event: Event) -> Attendance | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        select(Attendance).where(Attendance.event_id == event.id, Attendance.user_id == user.id)
    )
