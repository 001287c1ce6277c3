"""The organizer's live dashboard: the hand-counted mixer of test_stats, as a page.

The server-rendered page must be complete without JavaScript (tiles, one bar
per hour, the busiest hours in the event's own zone); the script that keeps it
live is served from /static and, in a real browser, redraws from stats.json.
"""

from __future__ import annotations

import re

from tests.factories import make_user
from tests.test_stats import at, build_mixer
from webapp.extensions import db
from webapp.models import User
from webapp.services import events


def tile(body: str, name: str) -> str:
    match = re.search(rf'data-stat="{name}">([^<]*)<', body)
    assert match, f"no {name} on the page"
    return match.group(1).strip()


def dashboard_as_owner(app, client, auth) -> tuple[dict, str]:
    mixer = build_mixer(app)
    with app.app_context():
        auth.as_user(db.session.get(User, mixer["owner"]))
    response = client.get(f"/events/{mixer['slug']}/dashboard")
    assert response.status_code == 200
    return mixer, response.get_data(as_text=True)


def test_the_dashboard_shows_the_hand_counted_figures(app, client, auth):
    _, body = dashboard_as_owner(app, client, auth)
    figures = {name: tile(body, name) for name in ("registered", "checked_in", "scans", "connections",
                                                    "connected_attendees", "median", "top10",
                                                    "followed_up_48h_rate", "followed_up_7d_rate")}
    # The numbers worked out in test_stats: 1/9 and 2/9 followed up, as whole percents.
    assert figures == {"registered": "6", "checked_in": "3", "scans": "7", "connections": "5",
                       "connected_attendees": "6", "median": "1", "top10": "3",
                       "followed_up_48h_rate": "11%", "followed_up_7d_rate": "22%"}
    assert "50% of registered" in body  # 3 of 6 checked in


def test_the_chart_has_one_bar_per_hour_labelled_in_the_events_zone(app, client, auth):
    _, body = dashboard_as_owner(app, client, auth)
    svg = re.search(r'<svg class="chart-svg".*?</svg>', body, re.S).group(0)
    bars = re.findall(r'<rect class="chart-bar[^"]*"[^>]*height="([\d.]+)"', svg)
    # 17:00, 18:00 (no scans) and 19:00 UTC: three bars, the empty hour flat.
    assert len(bars) == 3
    assert float(bars[1]) == 0 and float(bars[0]) > float(bars[2]) > 0
    # Berlin is UTC+1 in March.
    assert re.findall(r'class="chart-label"[^>]*>([^<]+)<', svg) == ["18:00", "19:00", "20:00"]
    assert re.findall(r'class="chart-value"[^>]*>([^<]+)<', svg) == ["4", "3"]
    assert svg.count("chart-bar-peak") == 1 and "<title>18:00\u201319:00 \u00b7 4 scans</title>" in svg
    top = re.search(r"<ol class=\"top-hours\".*?</ol>", body, re.S).group(0)
    assert re.findall(r"<strong>([^<]+)</strong>", top) == ["18:00\u201319:00", "20:00\u201321:00"]


def test_an_event_without_scans_says_so_instead_of_drawing(app, client, auth):
    owner = make_user(app, role="organizer")
    with app.app_context():
        event = events.create_event(db.session.get(User, owner.id), "Quiet Evening", at(17), at(21), "UTC")
        db.session.commit()
        slug = event.slug
    auth.as_user(owner)
    body = client.get(f"/events/{slug}/dashboard").get_data(as_text=True)
    assert "No scans yet" in body and "<svg" not in body
    assert tile(body, "scans") == "0" and tile(body, "connections") == "0"


def test_the_page_keeps_to_the_content_security_policy(app, client, auth):
    _, body = dashboard_as_owner(app, client, auth)
    scripts = re.findall(r"<script[^>]*>", body)
    assert '<script src="/static/js/dashboard.js" defer>' in scripts
    assert all(' src="/static/' in tag for tag in scripts), scripts  # no inline scripts
    assert " style=" not in body and "<style" not in body


def test_the_live_refresh_script_is_served(client):
    response = client.get("/static/js/dashboard.js")
    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    script = response.get_data(as_text=True)
    assert "fetch(" in script and "statsUrl" in script
