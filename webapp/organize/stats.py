"""Organizer views: the live networking dashboard and its data, ``stats.json``.

The page is complete as served (tiles and an inline SVG chart); a small script
(static/js/dashboard.js) refetches ``stats.json`` every ~15 seconds and redraws
the same chart with the same geometry (:func:`bar_chart`; keep them in step).

``stats.json`` answers a signed-out request with 401 and the JSON error shape
rather than a redirect to the sign-in page: the live refresh can then tell "your
session ended" from a page of HTML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import jsonify, render_template
from flask_login import current_user, login_required
from werkzeug.exceptions import NotFound

from webapp.access import organized_event_or_404
from webapp.formatting import in_zone
from webapp.organize import bp
from webapp.services import stats as service
from webapp.services.kept import Kept

REFRESH_SECONDS = 15
# A dashboard left open (on a projector, all evening) asks every REFRESH_SECONDS;
# while no scan arrives its heavy figures are reused for up to a minute. A new
# scan or registration shows at once; a follow-up within the minute.
RECENT: Kept = Kept(seconds=60)

# Chart geometry (dashboard.js uses the same numbers). The SVG has no viewBox:
# across, positions are percentages, so the bars fill any width while the text
# keeps its real size on a phone and on a projector; down, they are pixels.
HEIGHT, TOP, BOTTOM = 260, 28, 34  # px; room for the values above the bars and the hours below
NARROWEST = 320  # px: hour labels and values are thinned out to fit a chart this wide
LABEL_ROOM, VALUE_ROOM = 56, 24  # px a slot needs for an hour label / a value
MAX_BAR = 14  # % of the width: one or two hours still look like bars, not walls


@dataclass(frozen=True)
class Bar:
    x: float  # % of the width
    width: float  # % of the width
    centre: float  # % of the width
    y: float  # px
    height: float  # px
    scans: int
    label: str  # "18:00" in the event's zone; "" when thinned out
    show_value: bool
    title: str  # "18:00-19:00 · 12 scans" (with an en dash)
    peak: bool  # the busiest hour (none stands out when every hour is as busy)


def hour_span(hour: datetime, zone: str, with_day: bool = False) -> str:
    start, end = in_zone(hour, zone), in_zone(hour + timedelta(hours=1), zone)
    day = f"{start:%a} " if with_day else ""
    return f"{day}{start:%H:%M}\u2013{end:%H:%M}"


def _spans_days(figures: service.EventStats, zone: str) -> bool:
    hours = figures.scans_by_hour
    return bool(hours) and in_zone(hours[0].hour, zone).date() != in_zone(hours[-1].hour, zone).date()


def bar_chart(figures: service.EventStats, zone: str) -> list[Bar]:
    """One bar per hour, scaled to the busiest, which stands out; labels thinned to fit a phone."""
    hours = figures.scans_by_hour
    if not hours:
        return []
    slot = 100 / len(hours)
    bar_width = min(slot * 0.7, MAX_BAR)
    slot_px = NARROWEST / len(hours)
    every = math.ceil(LABEL_ROOM / slot_px)
    most = max(h.scans for h in hours)
    stands_out = any(h.scans != most for h in hours)
    plot = HEIGHT - TOP - BOTTOM
    with_day = _spans_days(figures, zone)
    bars = []
    for i, h in enumerate(hours):
        height = max(round(plot * h.scans / most, 1), 2) if h.scans else 0  # a single scan still shows
        noun = "scan" if h.scans == 1 else "scans"
        bars.append(Bar(
            x=round(i * slot + (slot - bar_width) / 2, 3), width=round(bar_width, 3),
            centre=round((i + 0.5) * slot, 3), y=round(HEIGHT - BOTTOM - height, 1), height=height, scans=h.scans,
            label=f"{in_zone(h.hour, zone):%H:%M}" if i % every == 0 else "",
            show_value=h.scans > 0 and slot_px >= VALUE_ROOM,
            title=f"{hour_span(h.hour, zone, with_day)} \u00b7 {h.scans} {noun}",
            peak=stands_out and h.scans == most,
        ))
    return bars


def as_json(figures: service.EventStats) -> dict:
    """The documented stats.json shape (DESIGN.md), plus two extra keys."""
    hours = [{"hour": h.hour.isoformat(), "scans": h.scans} for h in figures.scans_by_hour]
    return {
        "registered": figures.registered,
        "checked_in": figures.checked_in,
        "scans": figures.scans,
        "connections": figures.connections,
        "connected_attendees": figures.connected_attendees,
        "scans_by_hour": hours,
        "followed_up_48h_rate": float(figures.followed_up_48h_rate),
        "followed_up_7d_rate": float(figures.followed_up_7d_rate),
        "connections_per_attendee": {"median": figures.median_connections,
                                     "top_10_percent": figures.top10_connections},
        "most_connected_hours": [{"hour": h.hour.isoformat(), "scans": h.scans}
                                 for h in figures.most_connected_hours],
    }


@bp.get("/events/<ref>/dashboard")
@login_required
def dashboard(ref: str):
    event = organized_event_or_404(ref)
    figures = service.event_stats(event, RECENT, current_user.id)
    with_day = _spans_days(figures, event.timezone)
    top_hours = [(hour_span(h.hour, event.timezone, with_day), h.scans) for h in figures.most_connected_hours]
    return render_template(
        "organize/dashboard.html", event=event, stats=figures, bars=bar_chart(figures, event.timezone),
        top_hours=top_hours, chart={"height": HEIGHT, "baseline": HEIGHT - BOTTOM},
        refresh_seconds=REFRESH_SECONDS,
    )


def _json_error(status: int, code: str, message: str):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


@bp.get("/events/<ref>/stats.json")
def stats_json(ref: str):
    if not current_user.is_authenticated:
        return _json_error(401, "unauthenticated", "Sign in to see this event's stats.")
    try:
        event = organized_event_or_404(ref)
    except NotFound:
        return _json_error(404, "not_found", "No such event.")
    response = jsonify(as_json(service.event_stats(event, RECENT, current_user.id)))
    response.headers["Cache-Control"] = "private, no-store"  # live figures, for organizers only
    return response
