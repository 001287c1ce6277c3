"""Plain factory functions. Each commits and returns a detached, loaded object."""

from __future__ import annotations

import itertools
from datetime import timedelta

from webapp.extensions import db
from webapp.models import Role, User, utcnow
from webapp.services import accounts, events

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def _detached(obj):
    db.session.commit()
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj


def make_user(app, email: str | None = None, *, name: str | None = None, password: str | None = PASSWORD,
              role: str = Role.ATTENDEE.value, verified: bool = True, **profile) -> User:
    n = next(_counter)
    with app.app_context():
        user = accounts.create_user(
            email or f"person{n}@example.com", name or f"Person {n}",
            password=password, role=role, verified=verified, **profile,
        )
        return _detached(user)


def make_event(app, owner: User, name: str = "Test Mixer", *, days_from_now: int = 7, hours: int = 3,
               timezone: str = "Europe/Lisbon"):
    with app.app_context():
        start = utcnow() + timedelta(days=days_from_now)
        event = events.create_event(db.session.get(User, owner.id), name, start, start + timedelta(hours=hours),
                                    timezone)
        return _detached(event)


def reload(app, model, ident):
    """Fresh copy of a row, read in its own context."""
    with app.app_context():
        obj = db.session.get(model, ident)
        return _detached(obj) if obj is not None else None
