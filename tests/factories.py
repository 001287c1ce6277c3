"""Plain factory functions. Each commits.

Called outside an app context (HTTP tests), a factory works in a context of
its own and returns a detached, loaded object. Called inside one (the ``ctx``
fixture), it uses that context's session and returns an attached object: one
session per test, so SQLite's write lock is never held by a second session of
the same test.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from datetime import timedelta

from flask import has_app_context
from sqlalchemy import event as sa_event

from webapp.extensions import db
from webapp.models import Attendance, Event, Role, User, utcnow
from webapp.services import accounts, connections, events

PASSWORD = "correct horse battery"
_counter = itertools.count(1)
_client_ids = itertools.count(1)


@contextlib.contextmanager
def in_context(app) -> Iterator[bool]:
    """Yield True if a new app context was pushed for the caller."""
    if has_app_context():
        yield False
        return
    with app.app_context():
        yield True


def _done(obj, detach: bool):
    db.session.commit()
    if detach:
        db.session.refresh(obj)
        db.session.expunge(obj)
    return obj


def make_user(app, email: str | None = None, *, name: str | None = None, password: str | None = PASSWORD,
              role: str = Role.ATTENDEE.value, verified: bool = True, **profile) -> User:
    n = next(_counter)
    with in_context(app) as detach:
        user = accounts.create_user(
            email or f"person{n}@example.com", name or f"Person {n}",
            password=password, role=role, verified=verified, **profile,
        )
        return _done(user, detach)


def make_event(app, owner: User, name: str = "Test Mixer", *, days_from_now: int = 7, hours: int = 3,
               timezone: str = "Europe/Lisbon") -> Event:
    with in_context(app) as detach:
        start = utcnow() + timedelta(days=days_from_now)
        event = events.create_event(db.session.get(User, owner.id), name, start, start + timedelta(hours=hours),
                                    timezone)
        return _done(event, detach)


def attend(app, event: Event, user: User) -> Attendance:
    with in_context(app) as detach:
        attendance = events.add_attendee(db.session.get(Event, event.id), db.session.get(User, user.id))
        return _done(attendance, detach)


def reload(app, model, ident):
    """Fresh copy of a row, read in its own context."""
    with app.app_context():
        obj = db.session.get(model, ident)
        return _done(obj, True) if obj is not None else None


def event_at(owner_id: int, starts, ends, timezone: str, name: str = "Zone Mixer", **extra) -> Event:
    """An event at fixed (aware) times, in the current app context (``ctx``)."""
    return events.create_event(db.session.get(User, owner_id), name, starts, ends, timezone, **extra)


def meet(event: Event, scanner: User, scanned: User, minutes_in: int, note: str = "", tags=()) -> None:
    """``scanner`` scans ``scanned``'s badge ``minutes_in`` after the start (both attend)."""
    badge = events.attendance_of(scanned, event).badge_token
    connections.record_scan(scanner, badge, f"c{next(_client_ids)}", note=note, tags=list(tags),
                            scanned_at=event.starts_at + timedelta(minutes=minutes_in))


def count_statements(app, client, url: str) -> int:
    """SQL statements of one GET of ``url`` (answered 200, its body read to the end)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
        assert response.status_code == 200
        response.get_data()  # the CSV streams: read it all while counting
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
    return len(seen)
