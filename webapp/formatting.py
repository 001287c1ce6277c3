"""Jinja filters for dates and times: events in their own zone, the rest in
the viewer's, relative where people expect it ("2 days ago")."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

from webapp.models import utcnow


def in_zone(value: datetime, zone: str) -> datetime:
    return value.astimezone(ZoneInfo(zone))


def clock(value: datetime | None, zone: str = "UTC") -> str:
    """``18:05`` in ``zone``."""
    return "" if value is None else in_zone(value, zone).strftime("%H:%M")


def when(value: datetime | None, zone: str = "UTC") -> str:
    """``Thu 26 Nov 2026, 18:00 (Europe/Lisbon)``."""
    if value is None:
        return ""
    local = in_zone(value, zone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} ({zone.replace('_', ' ')})"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """``just now``, ``5 minutes ago``, ``yesterday``, ``3 days ago``, ``in 2 days``."""
    if value is None:
        return ""
    seconds = int(((now or utcnow()) - value).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        return "just now"
    for size, unit in ((31_536_000, "year"), (2_592_000, "month"), (604_800, "week"), (86_400, "day"),
                       (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = seconds // size
            if unit == "day" and n == 1:
                return "tomorrow" if future else "yesterday"
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def register(app: Flask) -> None:
    app.add_template_filter(clock)
    app.add_template_filter(when)
    app.add_template_filter(ago)
