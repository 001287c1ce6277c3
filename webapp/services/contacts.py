"""Reading and editing one's own address book."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Attendance, Contact, ContactSource, FollowUpState, User, utcnow
from webapp.services import NotFound, ValidationFailed

MAX_NOTE = 5000
#: Field -> (largest length, label) for contacts who are not on MeetLoop.
FIELDS = {"name": (120, "Name"), "email": (254, "Email"), "phone": (40, "Phone"), "company": (120, "Company"),
          "headline": (160, "Headline")}


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
    from webapp.services import tags

    if note is not None:
        set_note(contact, note)
    if add_tags:
        tags.add(contact, add_tags)
    db.session.flush()
    return contact


def display_name(contact: Contact) -> str:
    return contact.user.name if contact.user is not None else contact.name


def find_by_email(owner: User, email: str) -> Contact | None:
    """``owner``'s live contact with this email (any case): an imported or added
    one, or a MeetLoop user who shares that address with the people they meet."""
    email = (email or "").strip().lower()
    if not email:
        return None
    return db.session.scalar(
        select(Contact).outerjoin(User, User.id == Contact.user_id)
        .where(Contact.owner_id == owner.id, Contact.deleted_at.is_(None),
               or_(func.lower(Contact.email) == email,
                   and_(func.lower(User.email) == email, User.share_email.is_(True))))
        .order_by(Contact.id).limit(1)
    )


def clean_fields(values: dict[str, str]) -> dict[str, str]:
    """Trimmed contact fields, each within its length; raises on the first bad one."""
    cleaned = {}
    for name, (limit, label) in FIELDS.items():
        value = " ".join(str(values.get(name) or "").split())
        if len(value) > limit:
            raise ValidationFailed(f"{label} is too long (at most {limit} characters).", field=name)
        cleaned[name] = value.lower() if name == "email" else value
    if not cleaned["name"] and not cleaned["email"]:
        raise ValidationFailed("Give at least a name or an email.", field="name")
    return cleaned


def create(owner: User, *, source: str = ContactSource.MANUAL.value, note: str = "", **values: str) -> Contact:
    """A contact who is not (or not yet) linked to a MeetLoop user. Imported and
    added people are existing relationships, not new follow-ups: state done."""
    fields = clean_fields(values)
    if fields["email"] and find_by_email(owner, fields["email"]) is not None:
        raise ValidationFailed("You already have a contact with this email.", field="email")
    contact = Contact(owner_id=owner.id, source=source, state=FollowUpState.DONE.value, **fields)
    set_note(contact, note)
    db.session.add(contact)
    db.session.flush()
    return contact


def attending(owner: User, event_id: int) -> list[Contact]:
    """``owner``'s live contacts who are registered for the event, by name."""
    return list(db.session.scalars(
        select(Contact).join(User, User.id == Contact.user_id)
        .join(Attendance, (Attendance.user_id == Contact.user_id) & (Attendance.event_id == event_id))
        .where(Contact.owner_id == owner.id, Contact.deleted_at.is_(None))
        .options(selectinload(Contact.user)).order_by(User.name, Contact.id)
    ))
