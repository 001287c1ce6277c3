"""How event times read on pages and in emails: always in the event's own
zone, with the zone named (an attendee may be elsewhere when they look)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_login import current_user

from webapp.events import bp
from webapp.models import Contact, Event, utcnow
from webapp.services import contacts, events, people

#: Faces shown before "and N more": about three rows on a phone.
MAX_FACES = 12


def _day(value: datetime) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"


@bp.app_template_filter("event_when")
def event_when(event: Event) -> str:
    """``Sat 14 Mar 2026, 18:00 to 21:00`` with an en dash (and the end's day if it differs)."""
    start, end = events.local(event, event.starts_at), events.local(event, event.ends_at)
    until = f"{end:%H:%M}" if start.date() == end.date() else f"{_day(end)}, {end:%H:%M}"
    return f"{_day(start)}, {start:%H:%M} \u2013 {until}"


@bp.app_template_filter("event_zone")
def event_zone(event: Event) -> str:
    """``Europe/Lisbon (WET)``: the zone's name, and its abbreviation at the start."""
    abbreviation = events.local(event, event.starts_at).tzname() or ""
    if abbreviation[:1] in "+-":
        abbreviation = f"UTC{abbreviation}"
    name = event.timezone.replace("_", " ")
    return name if abbreviation in ("", event.timezone) else f"{name} ({abbreviation})"


@bp.app_template_filter("event_local")
def event_local(value: datetime, event: Event) -> str:
    """One stored time, e.g. ``Sun 15 Mar 2026, 09:00``, in the event's zone."""
    value = events.local(event, value)
    return f"{_day(value)}, {value:%H:%M}"


@dataclass(frozen=True)
class Going:
    """The viewer's contacts registered for an event: the first few, and how many more."""

    shown: list[tuple[Contact, people.Card]]
    more: int

    @property
    def total(self) -> int:
        return len(self.shown) + self.more


@bp.app_template_global()
def who_is_going(event: Event) -> Going | None:
    """"People you know who are going": the signed-in viewer's own contacts
    (never anyone else's) at an event that is still to come, or None."""
    if not current_user.is_authenticated or event.cancelled_at is not None or event.ends_at <= utcnow():
        return None
    found = contacts.attending(current_user, event.id)
    return Going([(c, people.card(c.user)) for c in found[:MAX_FACES]], max(0, len(found) - MAX_FACES))
