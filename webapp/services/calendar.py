"""An event as an iCalendar (RFC 5545) file, for "add to calendar"."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from icalendar import Calendar
from icalendar import Event as CalendarEvent

from webapp.models import Event, utcnow


def event_ics(event: Event, url: str) -> bytes:
    """One VEVENT with UTC start and end (every calendar app shows them in its
    own zone), the event page's ``url``, and a UID and SEQUENCE that stay the
    same per event and grow with each change, so re-importing updates the
    entry instead of adding a second one. A cancelled event says so."""
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "meetloop"
    calendar = Calendar()
    calendar.add("prodid", "-//MeetLoop//Events//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", f"event-{event.id}@{host}")
    entry.add("dtstamp", utcnow())
    entry.add("dtstart", event.starts_at)
    entry.add("dtend", event.ends_at)
    entry.add("summary", event.name)
    if event.venue:
        entry.add("location", event.venue)
    entry.add("description", "\n\n".join(part for part in (event.description, url) if part))
    entry.add("url", url)
    entry.add("sequence", int(event.updated_at.timestamp()) - int(event.created_at.timestamp()))
    entry.add("status", "CANCELLED" if event.cancelled_at else "CONFIRMED")
    calendar.add_component(entry)
    return calendar.to_ical()
