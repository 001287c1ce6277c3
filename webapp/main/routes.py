"""The front page and a health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, url_for
from flask_login import current_user

from webapp.models import utcnow
from webapp.services import cadences, contacts, events, reasons
from webapp.services import health as health_checks

bp = Blueprint("main", __name__)

THEME_COLOR = "#1d6fd8"
HOME_DUE_LIMIT = 5  # "Get back in touch": the most overdue few; the rest are on the losing-touch page


@bp.get("/")
def index():
    if current_user.is_authenticated:
        upcoming, _past = events.my_events(current_user)
        now = utcnow()
        return render_template("main/home.html", upcoming=upcoming, recent=contacts.recent(current_user, limit=5),
                               now=now, get_back=reasons.due_list(current_user, now, limit=HOME_DUE_LIMIT),
                               due_count=cadences.due_count(current_user, now),
                               has_cadence=cadences.has_cadence(current_user))
    return render_template("main/landing.html")


def _icon(name: str, size: str, purpose: str = "any") -> dict:
    return {"src": url_for("static", filename=f"icons/{name}"), "sizes": size, "type": "image/png", "purpose": purpose}


@bp.get("/manifest.webmanifest")
def manifest():
    """Makes MeetLoop installable: home-screen name, icons, colours, shortcuts."""
    body = {
        "name": "MeetLoop",
        "short_name": "MeetLoop",
        "description": "Meet people at events, follow up the next morning, keep in touch.",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOR,
        "icons": [_icon("icon-192.png", "192x192"), _icon("icon-512.png", "512x512"),
                  _icon("icon-maskable-512.png", "512x512", "maskable")],
        "shortcuts": [
            {"name": "Scan badges", "url": url_for("scan.scanner")},
            {"name": "Connections", "url": url_for("contacts.index")},
            {"name": "Events", "url": url_for("events.index")},
        ],
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    return response


@bp.get("/healthz")
def health():
    """For load balancers: unauthenticated, one ``SELECT 1``, no details either way."""
    reachable = health_checks.database_reachable()
    response = jsonify({"status": "ok" if reachable else "unavailable"})
    response.status_code = 200 if reachable else 503
    response.headers["Cache-Control"] = "no-store"
    return response
