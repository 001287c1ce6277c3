"""How event times read on pages and in emails: always in the event's own
zone, with the zone named (an attendee may be elsewhere when they look)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_login import current_user

from webapp.events import bp
from webapp.formatting import day_time, in_zone, zone_label
from webapp.models import Contact, Event, utcnow
from webapp.services import contacts, people

#: Faces shown before "and N more": about three rows on a phone.
MAX_FACES = 12


@bp.app_template_filter("event_when")
def event_when(event: Event) -> str:
    """``Sat 14 Mar 2026, 18:00 to 21:00`` with an en dash (and the end's day if it differs)."""
    start, end = in_zone(event.starts_at, event.timezone), in_zone(event.ends_at, event.timezone)
    until = f"{end:%H:%M}" if start.date() == end.date() else day_time(event.ends_at, event.timezone)
    return f"{day_time(event.starts_at, event.timezone)} \u2013 {until}"


@bp.app_template_filter("event_zone")
def event_zone(event: Event) -> str:
    """``Europe/Lisbon (WET)``: the zone's name, and its abbreviation at the start."""
    abbreviation = in_zone(event.starts_at, event.timezone).tzname() or ""
    if abbreviation[:1] in "+-":
        abbreviation = f"UTC{abbreviation}"
    name = zone_label(event.timezone)
    return name if abbreviation in ("", event.timezone) else f"{name} ({abbreviation})"


@bp.app_template_filter("event_local")
def event_local(value: datetime, event: Event) -> str:
    """One stored time, e.g. ``Sun 15 Mar 2026, 09:00``, in the event's zone."""
    return day_time(value, event.timezone)


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
