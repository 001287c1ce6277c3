"""Jinja filters for dates and times: events in their own zone, the rest in
the viewer's, relative where people expect it ("2 days ago").

One place formats every date and time a page or email shows, so the same
instant reads the same way everywhere; the event filters (``event_when``,
``short_local``…) only pick the event's zone and call these.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, has_request_context
from flask_login import current_user
from markupsafe import Markup, escape

from webapp.models import utcnow
from webapp.services import events

#: Relative-time units, largest first (a month is 30 days, a year 365).
UNITS = ((31_536_000, "year"), (2_592_000, "month"), (604_800, "week"), (86_400, "day"), (3600, "hour"),
         (60, "minute"))


def viewer_zone() -> str:
    """The signed-in viewer's time zone; UTC when nobody is signed in (or
    outside a request: mail is rendered for its recipient, never the viewer)."""
    if has_request_context() and current_user.is_authenticated:
        return events.zone_or_utc(current_user.timezone).key
    return "UTC"


def zone_label(zone: str) -> str:
    """``America/Los Angeles``: the IANA name as people read it."""
    return zone.replace("_", " ")


def _key(zone: str | None) -> str:
    """The zone to show a time in: ``zone``, else the viewer's; UTC if unknown."""
    return events.zone_or_utc(zone).key if zone is not None else viewer_zone()


def in_zone(value: datetime, zone: str | None = None) -> datetime:
    """``value`` in ``zone`` (the viewer's when None)."""
    return value.astimezone(events.zone_or_utc(_key(zone)))


def long_day(local: datetime) -> str:
    """``Thu 26 Nov 2026`` (the day of an already-local time)."""
    return f"{local:%a} {local.day} {local:%b %Y}"


def day_time(value: datetime, zone: str | None = None) -> str:
    """``Thu 26 Nov 2026, 18:00`` in ``zone``."""
    local = in_zone(value, zone)
    return f"{long_day(local)}, {local:%H:%M}"


def short(value: datetime, zone: str | None = None) -> str:
    """``25 Nov, 18:05`` in ``zone``: compact enough for a table cell."""
    local = in_zone(value, zone)
    return f"{local.day} {local:%b}, {local:%H:%M}"


def iso_utc(value: datetime) -> str:
    """``2026-11-26T14:05:00Z``: what a ``<time datetime>`` carries."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_element(value: datetime, text: str, title: str | None = None) -> Markup:
    """``<time datetime="…">text</time>``, with ``title`` when given (escaped)."""
    # Built by hand, not with Markup.format: a long list prints one per row, and
    # escape() is several times cheaper. The ISO text is digits and punctuation.
    hover = f' title="{escape(title)}"' if title is not None else ""
    return Markup(f'<time datetime="{iso_utc(value)}"{hover}>{escape(text)}</time>')  # noqa: S704


def clock(value: datetime | None, zone: str | None = None) -> str:
    """``18:05`` in ``zone`` (the viewer's by default)."""
    return "" if value is None else f"{in_zone(value, zone):%H:%M}"


def when(value: datetime | None, zone: str | None = None) -> str:
    """``Thu 26 Nov 2026, 18:00 (Europe/Lisbon)`` in ``zone`` (the viewer's by default)."""
    if value is None:
        return ""
    zone = _key(zone)
    return f"{day_time(value, zone)} ({zone_label(zone)})"


def stamp(value: datetime | None, zone: str | None = None, seconds: bool = False) -> Markup:
    """``26 Nov 2026, 14:05 Europe/Lisbon`` as a ``<time>`` element, the zone
    named: for logs, where an hour's difference matters."""
    if value is None:
        return Markup("")
    zone = _key(zone)
    local = in_zone(value, zone)
    text = f"{local.day} {local:%b %Y, %H:%M:%S}" if seconds else f"{local.day} {local:%b %Y, %H:%M}"
    return time_element(value, f"{text} {zone_label(zone)}")


def on_day(value: datetime | None, zone: str | None = None) -> Markup:
    """``26 Nov 2026`` (the day in the viewer's zone) as a ``<time>`` element."""
    if value is None:
        return Markup("")
    local = in_zone(value, zone)
    return time_element(value, f"{local.day} {local:%b %Y}", when(value, zone))


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """``just now``, ``5 minutes ago``, ``yesterday``, ``3 days ago``, ``in 2 days``."""
    if value is None:
        return ""
    seconds = int(((now or utcnow()) - value).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    for size, unit in UNITS:
        if seconds >= size:
            n = seconds // size
            if unit == "day" and n == 1:
                return "tomorrow" if future else "yesterday"
            if unit == "month" and n >= 12:  # 360 to 364 days: "1 year", never "12 months"
                n, unit = 1, "year"
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def relative(value: datetime | None, now: datetime | None = None) -> Markup:
    """:func:`ago` as a ``<time>`` element: the instant in UTC for machines,
    the absolute time in the viewer's zone on hover and for screen readers."""
    if value is None:
        return Markup("")
    return time_element(value, ago(value, now), when(value))


def register(app: Flask) -> None:
    for f in (clock, when, stamp, on_day, ago, relative):
        app.add_template_filter(f)
