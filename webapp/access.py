"""View helpers that load an object and authorise in one step.

Organizer-only pages answer 404 (not 403) to everyone else, so an event's
admin URLs reveal nothing to people outside it.
"""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from webapp.models import Event
from webapp.services import NotFound, events


def event_or_404(ref: str) -> Event:
    try:
        return events.get_by_ref(ref)
    except NotFound:
        abort(404)


def organized_event_or_404(ref: str) -> Event:
    """The event, if the signed-in user organizes it (or is a site admin)."""
    event = event_or_404(ref)
    if not events.is_organizer(current_user, event):
        abort(404)
    return event
