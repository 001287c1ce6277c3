"""View helpers that load an object and authorise in one step.

Organizer-only pages answer 404 (not 403) to everyone else, so an event's
admin URLs reveal nothing to people outside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import abort
from flask_login import current_user

from webapp.models import Event
from webapp.services import NotFound, events

P = ParamSpec("P")
T = TypeVar("T")


def or_404(load: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``load(*args)``, or a 404 page when the service says NotFound (which
    services also raise for other people's objects, so nothing leaks)."""
    try:
        return load(*args, **kwargs)
    except NotFound:
        abort(404)


def event_or_404(ref: str) -> Event:
    return or_404(events.get_by_ref, ref)


def organized_event_or_404(ref: str) -> Event:
    """The event, if the signed-in user organizes it (or is a site admin)."""
    event = event_or_404(ref)
    if not events.is_organizer(current_user, event):
        abort(404)
    return event
