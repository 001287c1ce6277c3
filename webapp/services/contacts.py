"""Reading and editing one's own address book."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Contact, User, utcnow
from webapp.services import NotFound, ValidationFailed

MAX_NOTE = 5000


def owned(owner: User, contact_id: int) -> Contact:
    """``owner``'s live contact ``contact_id``; anyone else's is NotFound."""
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.owner_id != owner.id or contact.deleted_at is not None:
        raise NotFound("No such contact.")
    return contact


def recent(owner: User, limit: int | None = None) -> list[Contact]:
    """Live contacts, the most recently met or touched first (recency ranks everything)."""
    query = (
        select(Contact)
        .where(Contact.owner_id == owner.id, Contact.deleted_at.is_(None))
        .options(selectinload(Contact.user), selectinload(Contact.event), selectinload(Contact.tags))
        .order_by(Contact.last_touched_at.desc().nulls_last(), Contact.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def set_note(contact: Contact, note: str) -> None:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationFailed(f"Keep the note under {MAX_NOTE} characters.", field="note")
    contact.note = note
    contact.updated_at = utcnow()


def update(contact: Contact, *, note: str | None = None, add_tags: list[str] | tuple[str, ...] = ()) -> Contact:
    """Replace the private note (when given) and add tags: the note step after a scan."""
    from webapp.services import connections

    if note is not None:
        set_note(contact, note)
    if add_tags:
        connections.add_tags(contact, add_tags)
    db.session.flush()
    return contact


def display_name(contact: Contact) -> str:
    return contact.user.name if contact.user is not None else contact.name
