"""Reading and editing one's own address book."""

from __future__ import annotations

from sqlalchemy import and_, exists, func, literal, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.expression import BindParameter, ColumnElement

from webapp.extensions import db
from webapp.models import Attendance, Block, Contact, ContactSource, FollowUpState, User, utcnow
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


_WILDCARDS = ("/", "%", "_")


def like_pattern(term: str) -> str:
    """A LIKE pattern finding ``term`` anywhere, taken literally (``/`` escapes ``%``, ``_`` and itself)."""
    for char in _WILDCARDS:
        term = term.replace(char, "/" + char)
    return f"%{term}%"


def needs_escape(term: str) -> bool:
    """Whether ``term``'s :func:`like_pattern` escapes anything (a LIKE without
    an ESCAPE clause is a little quicker for SQLite to run)."""
    return any(char in term for char in _WILDCARDS)


def contains_text(term: str | BindParameter[str], *columns, dialect: str | None = None,
                  escaped: bool = True) -> ColumnElement[bool]:
    """Whether ``term`` (lower case, no line breaks) appears literally in one of
    ``columns``, ignoring case: what the fastest way is differs by database.

    ``term`` is the text, or a bound parameter that will hold its
    :func:`like_pattern` (``escaped`` False when :func:`needs_escape` says it
    escapes nothing); ``dialect`` is the database's (by default the session's).

    SQLite: one plain LIKE per column, which stops at the first match and
    already ignores case exactly as far as SQLite's lower() would (ASCII).
    Elsewhere: one LIKE over the lower-cased columns joined by line breaks
    (which a term can't span), rather than a lower() and a LIKE per column.
    """
    if isinstance(term, str):
        term, escaped = literal(like_pattern(term)), needs_escape(term)
    escape = "/" if escaped else None
    if (dialect or db.session.get_bind().dialect.name) == "sqlite":
        return or_(*(column.like(term, escape=escape) for column in columns))
    joined = func.coalesce(columns[0], "")
    for column in columns[1:]:
        joined = joined + literal("\n") + func.coalesce(column, "")
    return func.lower(joined).like(term, escape=escape)


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
               # Both are stored lower-cased (clean_fields, accounts.normalise_email): indexes apply.
               or_(Contact.email == email, and_(User.email == email, User.share_email.is_(True))))
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


def edit(contact: Contact, **values: str) -> None:
    """Change an unlinked contact's own details (a MeetLoop member's are theirs)."""
    if contact.user_id is not None:
        raise ValidationFailed("Their details come from their MeetLoop profile.", field="name")
    fields = clean_fields(values)
    other = find_by_email(contact.owner, fields["email"]) if fields["email"] else None
    if other is not None and other.id != contact.id:
        raise ValidationFailed("Another of your contacts has this email.", field="email")
    for name, value in fields.items():
        setattr(contact, name, value)
    contact.updated_at = utcnow()
    db.session.flush()


def attending(owner: User, event_id: int) -> list[Contact]:
    """``owner``'s live contacts who are registered for the event, by name.

    Only people who chose to be on the event's "who's here" list (unlisted,
    they were told other attendees won't see they're coming), never a disabled
    account, and nobody blocked either way.
    """
    blocked = exists().where(or_(
        (Block.blocker_id == owner.id) & (Block.blocked_id == Contact.user_id),
        (Block.blocker_id == Contact.user_id) & (Block.blocked_id == owner.id),
    ))
    return list(db.session.scalars(
        select(Contact).join(User, User.id == Contact.user_id)
        .join(Attendance, (Attendance.user_id == Contact.user_id) & (Attendance.event_id == event_id))
        .where(Contact.owner_id == owner.id, Contact.deleted_at.is_(None), Contact.user_id != owner.id,
               Attendance.listed.is_(True), User.is_disabled.is_(False), ~blocked)
        .options(selectinload(Contact.user)).order_by(User.name, Contact.id)
    ))
