"""Organizer pages for one event: registrant import, attendee list and export,
the door (check-in), and the live dashboard. Every view here answers 404 to
anyone who doesn't organize the event (see webapp.access)."""

from flask import Blueprint

bp = Blueprint("organize", __name__)

# Each module adds its views to ``bp``.
from webapp.organize import attendees, door, imports, recaps, stats  # noqa: E402, F401
