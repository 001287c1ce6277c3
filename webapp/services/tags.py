"""A person's own tags: naming them, putting them on contacts one at a time or
in bulk, and their cadences (see :mod:`webapp.services.cadences`).

Tag names are unique per owner, case-insensitively ("VIP" and "vip" are one
tag, spelt as first written).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Contact, Tag, User, contact_tag, utcnow
from webapp.services import NotFound, ValidationFailed, cadences

MAX_TAGS = 10  # on one contact
MAX_LENGTH = 60
MAX_BULK = 1000


def clean(names: Iterable[str]) -> list[str]:
    """Trimmed, whitespace-collapsed, case-insensitively unique names."""
    cleaned: dict[str, str] = {}
    for name in names:
        text = " ".join(str(name).split())[:MAX_LENGTH]
        if text:
            cleaned.setdefault(text.lower(), text)
    return list(cleaned.values())


def owned(owner: User, tag_id: int) -> Tag:
    tag = db.session.get(Tag, tag_id)
    if tag is None or tag.owner_id != owner.id:
        raise NotFound("No such tag.")
    return tag


def by_owner(owner: User) -> list[tuple[Tag, int]]:
    """Every tag of ``owner`` with its number of live contacts, by name."""
    counts = (
        select(contact_tag.c.tag_id, func.count().label("n"))
        .join(Contact, Contact.id == contact_tag.c.contact_id)
        .where(Contact.owner_id == owner.id, Contact.deleted_at.is_(None)).group_by(contact_tag.c.tag_id).subquery()
    )
    rows = db.session.execute(
        select(Tag, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.tag_id == Tag.id)
        .where(Tag.owner_id == owner.id).order_by(func.lower(Tag.name))
    ).all()
    return [(tag, n) for tag, n in rows]


def names(owner: User) -> list[tuple[int, str]]:
    """Every tag of ``owner`` as (id, name), by name: for choosing one (no counts to make)."""
    return [(tag_id, name) for tag_id, name in db.session.execute(
        select(Tag.id, Tag.name).where(Tag.owner_id == owner.id).order_by(func.lower(Tag.name), Tag.id))]


def find(owner_id: int, name: str) -> Tag | None:
    return db.session.scalar(select(Tag).where(Tag.owner_id == owner_id, func.lower(Tag.name) == name.lower()))


def get_or_create(owner: User | int, name: str, *, cadence_days: int | None = None) -> Tag:
    """The owner's tag called ``name`` (any case), created (with ``cadence_days``)
    if new; a tag created by a parallel request is reused."""
    owner_id = owner if isinstance(owner, int) else owner.id
    (name,) = clean([name]) or [""]
    if not name:
        raise ValidationFailed("Give the tag a name.", field="name")
    tag = find(owner_id, name)
    if tag is not None:
        return tag
    tag = Tag(owner_id=owner_id, name=name, cadence_days=cadences.check_days(cadence_days))
    try:
        with db.session.begin_nested():
            db.session.add(tag)
    except IntegrityError:
        tag = find(owner_id, name)
        if tag is None:
            raise
    return tag


def add(contact: Contact, names: Iterable[str], *, enforce_limit: bool = True) -> None:
    """Put tags (by name, created if new) on ``contact`` and reschedule it.
    A scan checks its own tags' number and adds them whatever the contact had."""
    names = clean(names)
    current = {t.name.lower() for t in contact.tags}
    if enforce_limit and len(current | {n.lower() for n in names}) > MAX_TAGS:
        raise ValidationFailed(f"Use at most {MAX_TAGS} tags on one person.", field="tags")
    for name in names:
        if name.lower() not in current:
            contact.tags.append(get_or_create(contact.owner_id, name))
            current.add(name.lower())
    contact.updated_at = utcnow()
    cadences.reschedule(contact)


def replace(contact: Contact, names: Iterable[str]) -> None:
    """Set exactly these tags on ``contact``."""
    names = clean(names)
    if len(names) > MAX_TAGS:
        raise ValidationFailed(f"Use at most {MAX_TAGS} tags on one person.", field="tags")
    contact.tags = [get_or_create(contact.owner_id, name) for name in names]
    contact.updated_at = utcnow()
    cadences.reschedule(contact)
    db.session.flush()


def _owned_contacts(owner: User, contact_ids: Iterable[int]) -> list[Contact]:
    ids = sorted({int(i) for i in contact_ids})[:MAX_BULK]
    if not ids:
        return []
    return list(db.session.scalars(
        select(Contact).where(Contact.owner_id == owner.id, Contact.deleted_at.is_(None), Contact.id.in_(ids))
        .options(selectinload(Contact.tags))
    ))


def tag_many(owner: User, contact_ids: Iterable[int], name: str) -> int:
    """Put tag ``name`` on each of ``owner``'s contacts in ``contact_ids`` (others'
    ids are ignored); returns how many gained it."""
    tag = get_or_create(owner, name)
    gained = 0
    for contact in _owned_contacts(owner, contact_ids):
        if tag not in contact.tags:
            contact.tags.append(tag)
            contact.updated_at = utcnow()
            cadences.reschedule(contact)
            gained += 1
    db.session.flush()
    return gained


def untag_many(owner: User, contact_ids: Iterable[int], tag: Tag) -> int:
    """Take ``tag`` off each of ``owner``'s contacts in ``contact_ids``."""
    if tag.owner_id != owner.id:
        raise NotFound("No such tag.")
    lost = 0
    for contact in _owned_contacts(owner, contact_ids):
        if tag in contact.tags:
            contact.tags.remove(tag)
            contact.updated_at = utcnow()
            cadences.reschedule(contact)
            lost += 1
    db.session.flush()
    return lost


def rename(tag: Tag, name: str) -> None:
    (name,) = clean([name]) or [""]
    if not name:
        raise ValidationFailed("Give the tag a name.", field="name")
    other = find(tag.owner_id, name)
    if other is not None and other.id != tag.id:
        raise ValidationFailed(f"You already have a tag called {other.name}.", field="name")
    tag.name = name
    db.session.flush()


def remove(tag: Tag) -> None:
    """Delete the tag (its contacts stay) and reschedule the contacts it was on."""
    contact_ids = db.session.scalars(select(contact_tag.c.contact_id).where(contact_tag.c.tag_id == tag.id)).all()
    db.session.execute(delete(contact_tag).where(contact_tag.c.tag_id == tag.id))
    db.session.delete(tag)
    db.session.flush()
    for contact in db.session.scalars(select(Contact).where(Contact.id.in_(contact_ids))
                                      .options(selectinload(Contact.tags))):
        db.session.refresh(contact, ["tags"])
        cadences.reschedule(contact)
    db.session.flush()

