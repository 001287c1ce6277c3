"""Events and attendance: creating and running events, joining them, badge identities.

Times are stored as aware UTC. An event's wall-clock times belong to its own
time zone: a naive datetime handed to :func:`create_event` or
:func:`update_event` is read in that zone, and :func:`local` turns a stored
time back into it.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import Attendance, Block, Event, EventOrganizer, Role, User, utcnow
from webapp.services import DomainError, NotFound, ValidationFailed, accounts, audit, mail, profiles

# No 0/O, 1/I/L: codes are read off paper and typed on phones.
BADGE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BADGE_CODE_LENGTH = 6
FOLLOWUP_HOUR = 9  # the default recap goes out at 09:00 event-local on the day after the end
MAX_FOLLOWUP_DELAY = 14 * 24 * 60


class EventClosed(DomainError):
    """The event no longer takes registrations or changes (cancelled, over, link off)."""

    code = "event_closed"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" names a folder of zones
        raise ValidationFailed(f"Unknown time zone {name!r}.", field="timezone") from None


def zone_or_utc(name: str | None) -> ZoneInfo:
    """A stored zone name as a zone, UTC for one this system doesn't know: a
    stale name must never turn a page or an email into an error."""
    try:
        return zone(name or "UTC")
    except ValidationFailed:
        return ZoneInfo("UTC")


def to_utc(value: datetime, timezone: str, *, field: str = "starts_at") -> datetime:
    """``value`` as aware UTC: aware values are converted, naive ones are
    wall-clock time in ``timezone``. A wall-clock time skipped by a daylight
    saving change is refused; a repeated one means its first occurrence."""
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    tz = zone(timezone)
    aware = value.replace(tzinfo=tz)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != value:
        raise ValidationFailed(
            f"{value:%H:%M} doesn't exist on {value:%d %b %Y} in {timezone}: the clocks change then.", field=field
        )
    return aware.astimezone(UTC)


def local(event: Event, value: datetime) -> datetime:
    """A stored UTC time in the event's own zone."""
    return value.astimezone(zone(event.timezone))


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60] or "event"


def _unique_slug(name: str) -> str:
    base = slugify(name)
    slug, n = base, 2
    while db.session.scalar(select(Event.id).where(Event.slug == slug)) is not None:
        slug, n = f"{base}-{n}", n + 1
    return slug


MAX_NAME = 160  # the column's size


def _checked_fields(name: str, starts_at: datetime, ends_at: datetime, timezone: str,
                    followup_delay_minutes: int | None) -> tuple[str, datetime, datetime]:
    zone(timezone)
    name = profiles.one_line(name, "name")  # it goes into emails' Subject lines
    if not name:
        raise ValidationFailed("Give the event a name.", field="name")
    if len(name) > MAX_NAME:
        raise ValidationFailed(f"Keep the name under {MAX_NAME} characters.", field="name")
    starts_at = to_utc(starts_at, timezone, field="starts_at")
    ends_at = to_utc(ends_at, timezone, field="ends_at")
    if ends_at <= starts_at:
        raise ValidationFailed("The event must end after it starts.", field="ends_at")
    if followup_delay_minutes is not None and not 0 < followup_delay_minutes <= MAX_FOLLOWUP_DELAY:
        raise ValidationFailed("Send the follow-up within two weeks of the end.", field="followup_delay_minutes")
    return name.strip(), starts_at, ends_at


def create_event(
    owner: User,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    timezone: str,
    *,
    venue: str = "",
    description: str = "",
    followup_delay_minutes: int | None = None,
) -> Event:
    """Create an event owned by ``owner``. Times are aware, or naive wall-clock
    time in ``timezone``; they are stored as UTC."""
    name, starts_at, ends_at = _checked_fields(name, starts_at, ends_at, timezone, followup_delay_minutes)
    event = Event(
        slug=_unique_slug(name),
        name=name,
        venue=venue.strip(),
        description=description.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=timezone,
        owner=owner,
        join_code=secrets.token_urlsafe(9),
        followup_delay_minutes=followup_delay_minutes,
    )
    db.session.add(event)
    db.session.flush()
    return event


def ensure_open(event: Event, action: str) -> None:
    if event.cancelled_at is not None:
        raise EventClosed(f"This event was cancelled: it can't {action} any more.")


def update_event(
    event: Event,
    *,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    timezone: str,
    venue: str = "",
    description: str = "",
    followup_delay_minutes: int | None = None,
) -> bool:
    """Change an event's details (same rules as :func:`create_event`; the slug
    stays, so links keep working). If the time or place of an event that isn't
    over changed, its attendees are emailed; returns whether they were."""
    ensure_open(event, "be edited")
    name, starts_at, ends_at = _checked_fields(name, starts_at, ends_at, timezone, followup_delay_minutes)
    moved = (starts_at, ends_at, venue.strip()) != (event.starts_at, event.ends_at, event.venue)
    event.name, event.venue, event.description = name, venue.strip(), description.strip()
    event.starts_at, event.ends_at, event.timezone = starts_at, ends_at, timezone
    event.followup_delay_minutes = followup_delay_minutes
    db.session.flush()
    if moved and ends_at > utcnow():
        _email_attendees(event, "event_changed")
        return True
    return False


def cancel_event(event: Event) -> None:
    """Cancel an event that hasn't ended; every attendee is emailed once."""
    ensure_open(event, "be cancelled")
    if event.ends_at <= utcnow():
        raise EventClosed("This event is already over.")
    event.cancelled_at = utcnow()
    db.session.flush()
    _email_attendees(event, "event_cancelled", key=f"event-cancelled:{event.id}")


def _email_attendees(event: Event, template: str, key: str | None = None) -> None:
    key = key or f"{template}:{event.id}:{secrets.token_hex(6)}"
    url = mail.external_url("events.show", ref=event.slug)
    attendees = select(User).join(Attendance, Attendance.user_id == User.id).where(Attendance.event_id == event.id)
    for user in db.session.scalars(attendees.order_by(User.id)):
        mail.queue(template=template, to=user.email, user=user, dedupe_key=f"{key}:{user.id}", event=event, url=url)


def followup_due_at(event: Event) -> datetime:
    """When the recap goes out: ``ends_at`` + the organizer's delay, or by
    default 09:00 in the event's zone on the (local) day after the day it ends."""
    if event.followup_delay_minutes is not None:
        return event.ends_at + timedelta(minutes=event.followup_delay_minutes)
    next_day = local(event, event.ends_at).date() + timedelta(days=1)
    return datetime.combine(next_day, time(FOLLOWUP_HOUR), tzinfo=zone(event.timezone)).astimezone(UTC)


# --- Organizers -----------------------------------------------------------------


def is_organizer(user: User, event: Event) -> bool:
    """Owner, co-organizer, or site admin."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.role == Role.ADMIN or event.owner_id == user.id:
        return True
    return db.session.get(EventOrganizer, (event.id, user.id)) is not None


def co_organizers(event: Event) -> list[User]:
    return list(db.session.scalars(
        select(User).join(EventOrganizer, EventOrganizer.user_id == User.id)
        .where(EventOrganizer.event_id == event.id).order_by(EventOrganizer.added_at, User.id)
    ))


def find_or_create_user(email: str, name: str = "") -> User:
    """The account for ``email``, or a new unverified, passwordless one."""
    user = accounts.find_by_email(email)
    if user is None:
        user = accounts.create_user(email, name.strip() or accounts.normalise_email(email).split("@")[0])
    return user


def add_co_organizer(event: Event, added_by: User, email: str, name: str = "") -> User:
    """Give the person with ``email`` (an account is made if needed) the same
    rights on ``event`` as its owner, and tell them by email."""
    ensure_open(event, "change organizers")
    user = find_or_create_user(email, name)
    if user.id == event.owner_id or db.session.get(EventOrganizer, (event.id, user.id)) is not None:
        raise ValidationFailed(f"{user.email} already organizes this event.", field="email")
    db.session.add(EventOrganizer(event_id=event.id, user_id=user.id))
    db.session.flush()
    audit.record(added_by, "event.organizer_add", event=event, subject=f"user {user.id}")
    mail.queue(
        template="event_coorganizer", to=user.email, user=user,
        dedupe_key=f"coorganizer:{event.id}:{user.id}:{secrets.token_hex(6)}",
        event=event, added_by=added_by, url=mail.external_url("events.show", ref=event.slug),
    )
    return user


def remove_co_organizer(event: Event, user: User) -> None:
    """Take a co-organizer's rights away (the owner can't be removed)."""
    if user.id == event.owner_id:
        raise ValidationFailed("The event's owner can't be removed.")
    link = db.session.get(EventOrganizer, (event.id, user.id))
    if link is None:
        raise NotFound("That person doesn't organize this event.")
    db.session.delete(link)
    db.session.flush()


# --- Finding events -------------------------------------------------------------


def get_by_ref(ref: str | int) -> Event:
    """The event a reference names: its slug (as in URLs) or its numeric id."""
    ref = str(ref).strip()
    event = db.session.scalar(select(Event).where(Event.slug == ref))
    if event is None and ref.isdigit():
        event = db.session.get(Event, int(ref))
    if event is None:
        raise NotFound("No such event.")
    return event


def by_join_code(code: str) -> Event:
    event = db.session.scalar(select(Event).where(Event.join_code == code))
    if event is None:
        raise NotFound("This join link isn't valid.")
    return event


@dataclass(frozen=True)
class MyEvent:
    event: Event
    organizing: bool
    attending: bool


def my_events(user: User) -> tuple[list[MyEvent], list[MyEvent]]:
    """Events ``user`` attends or organizes: (upcoming soonest first, past most recent first)."""
    organizing = set(db.session.scalars(select(Event.id).where(Event.owner_id == user.id)))
    organizing |= set(db.session.scalars(select(EventOrganizer.event_id).where(EventOrganizer.user_id == user.id)))
    attending = set(db.session.scalars(select(Attendance.event_id).where(Attendance.user_id == user.id)))
    ids = organizing | attending
    found = db.session.scalars(select(Event).where(Event.id.in_(ids)).order_by(Event.starts_at, Event.id))
    mine = [MyEvent(event, event.id in organizing, event.id in attending) for event in found]
    now = utcnow()
    return [m for m in mine if m.event.ends_at > now], [m for m in reversed(mine) if m.event.ends_at <= now]


def set_join_enabled(event: Event, enabled: bool) -> None:
    event.join_enabled = enabled


def reset_join_code(event: Event) -> None:
    """A new join link; the old one stops working (e.g. it was posted too widely)."""
    event.join_code = secrets.token_urlsafe(9)
    event.join_enabled = True


# --- Attendance -----------------------------------------------------------------


def new_badge_code(event: Event) -> str:
    """A short code nobody else at ``event`` has."""
    while True:
        code = "".join(secrets.choice(BADGE_ALPHABET) for _ in range(BADGE_CODE_LENGTH))
        taken = db.session.scalar(
            select(Attendance.id).where(Attendance.event_id == event.id, Attendance.badge_code == code)
        )
        if taken is None:
            return code


def attendance_of(user: User, event: Event) -> Attendance | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        select(Attendance).where(Attendance.event_id == event.id, Attendance.user_id == user.id)
    )


def add_attendee(event: Event, user: User, *, via: str = "join", listed: bool = False,
                 invited_at: datetime | None = None) -> Attendance:
    """The user's attendance of ``event``, created with a fresh badge if needed
    (no rules: organizers' imports and the CLI use it directly). Safe when two
    requests race to create the same attendance."""
    for _ in range(5):
        attendance = attendance_of(user, event)
        if attendance is not None:
            return attendance
        attendance = Attendance(
            event=event, user=user, registered_via=via, listed=listed, invited_at=invited_at,
            badge_token=secrets.token_urlsafe(24),  # 192 bits from secrets
            badge_code=new_badge_code(event),
        )
        try:
            with db.session.begin_nested():
                db.session.add(attendance)
        except IntegrityError:
            continue  # joined meanwhile (found on the next pass), or a code taken meanwhile
        return attendance
    raise DomainError("Couldn't register you just now. Please try again.")


def leave_event(attendance: Attendance) -> None:
    """Give up a place before the event starts (after that, the badge may have met people)."""
    if attendance.event.starts_at <= utcnow() or attendance.checked_in_at is not None:
        raise ValidationFailed("The event has started: you can't leave it now.")
    db.session.delete(attendance)
    db.session.flush()


def set_listed(attendance: Attendance, listed: bool) -> None:
    attendance.listed = listed


def listed_attendees(event: Event, viewer: User | None = None) -> list[User]:
    """People at ``event`` who chose to be listed, by name; nobody who blocked
    ``viewer`` or whom ``viewer`` blocked."""
    query = (
        select(User).join(Attendance, Attendance.user_id == User.id)
        .where(Attendance.event_id == event.id, Attendance.listed.is_(True), User.is_disabled.is_(False))
        .order_by(User.name, User.id)
    )
    if viewer is not None and getattr(viewer, "is_authenticated", False):
        query = query.where(~exists().where(or_(
            and_(Block.blocker_id == viewer.id, Block.blocked_id == User.id),
            and_(Block.blocker_id == User.id, Block.blocked_id == viewer.id),
        )))
    return list(db.session.scalars(query))


def attendee_count(event: Event) -> int:
    return db.session.scalar(select(func.count()).where(Attendance.event_id == event.id)) or 0

