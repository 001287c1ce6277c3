"""The audit log: what organizers and admins did, for site admins to read.

:func:`record` adds an entry to the caller's session, so it commits with the
action or not at all: a refused or rolled-back action leaves no entry. Entries
name what was acted on by id ("user 12") and never carry secrets, passwords,
links or anyone's notes.
"""

from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.models import AuditEntry, Event, User

PER_PAGE = 50
MAX_SEARCH = 100

#: Every action recorded, with how the admin page describes it.
ACTIONS = {
    "attendees.check_in": "Checked someone in",
    "attendees.export": "Exported the attendee list",
    "attendees.remove": "Removed a registrant",
    "attendees.walk_in": "Registered a walk-in",
    "badges.download": "Downloaded badges",
    "badges.print": "Marked badges printed",
    "contacts.export": "Exported their contacts",
    "event.cancel": "Cancelled an event",
    "event.create": "Created an event",
    "event.edit": "Edited an event",
    "event.invite": "Invited someone",
    "event.join_link": "Switched the join link",
    "event.join_link_reset": "Made a new join link",
    "event.organizer_add": "Added a co-organizer",
    "event.organizer_remove": "Removed a co-organizer",
    "recaps.send": "Sent recaps now",
    "registrants.discard": "Discarded a registrant upload",
    "registrants.import": "Imported registrants",
    "registrants.upload": "Uploaded registrants",
    "user.disable": "Disabled an account",
    "user.enable": "Enabled an account",
    "user.role": "Changed a role",
}


def _column_size(name: str) -> int:
    return AuditEntry.__table__.c[name].type.length


def _client_address() -> str | None:
    """Where the request came from (after TRUSTED_PROXIES), when there is one:
    the single place a service reads the request, because every caller would
    otherwise have to pass it along just for this."""
    return request.remote_addr if has_request_context() else None


def record(actor: User | None, action: str, *, event: Event | None = None, subject: str = "",
           detail: str = "") -> AuditEntry:
    """Add an entry for ``action`` by ``actor`` to the current transaction.

    ``action`` must be one of :data:`ACTIONS` (a typo fails loudly in tests
    instead of hiding entries from the filter). Texts are cut to their
    column's size rather than failing the action they describe.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_email=(actor.email if actor is not None else "")[: _column_size("actor_email")],
        action=action,
        event=event,
        subject=subject[: _column_size("subject")],
        detail=detail[: _column_size("detail")],
        ip=_client_address(),
    )
    db.session.add(entry)
    return entry


def record_download(actor: User | None, action: str, *, event: Event | None = None, subject: str = "",
                    detail: str = "") -> AuditEntry:
    """:func:`record` for a download (a GET that changes nothing else), and
    commit it: the one place this module commits, because there is no action
    transaction to join.

    The download's reads so far end first (nothing is expired, so what the
    view loaded stays usable), and the entry is the first statement of a
    short transaction of its own: on SQLite a read transaction that then
    writes can fail at once if another writer committed meanwhile, while a
    transaction that starts with its write waits for the lock like any other.
    What the download reads afterwards begins a plain read transaction again,
    so a long export never holds the write lock.
    """
    session = db.session()
    keep, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
        entry = record(actor, action, event=event, subject=subject, detail=detail)
        session.commit()
    finally:
        session.expire_on_commit = keep
    return entry


def log_query(action: str | None = None, actor: str | None = None) -> Select[tuple[AuditEntry]]:
    """Entries newest first; optionally one action, and those whose actor's
    email contains ``actor`` (any case; ``%`` and ``_`` match literally)."""
    query = select(AuditEntry).options(joinedload(AuditEntry.event)).order_by(AuditEntry.id.desc())
    if action in ACTIONS:
        query = query.where(AuditEntry.action == action)
    term = (actor or "").replace("\x00", "").strip().lower()[:MAX_SEARCH]
    if term:
        query = query.where(func.lower(AuditEntry.actor_email).contains(term, autoescape=True))
    return query
