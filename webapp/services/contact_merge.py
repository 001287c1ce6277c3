"""What each record of an imported file does to the address book: a new
contact, a merge into one already there, or nothing ("unchanged").

:func:`plan_records` only reads, so the preview can show the plan, and the
import carries out the same plan (see :mod:`webapp.services.contact_import`).
The rules:

* The same email is the same person (the rule of ``contacts.find_by_email``:
  a contact with that address, or a MeetLoop member who shares it), also
  across the records of one file. A merge fills only EMPTY fields of a contact
  who isn't on MeetLoop (never what the owner typed, never a member's
  profile), appends the note unless that exact text is already in it, and
  adds missing tags (up to the per-contact limit).
* Without an email, a record joins an unlinked contact with exactly the same
  name (any case) and, when both have one, the same phone; otherwise it's new.
* Your own email is skipped. Planning the same file after importing it finds
  nothing to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Contact, User
from webapp.services import contacts, tags
from webapp.services.vcard import RawContact, Unreadable

Record = RawContact  # once checked: at most one email, valid and lower-cased; values within the field sizes


@dataclass(eq=False)
class Target:
    """A contact as the plan goes: one in the address book, or one the file makes."""

    label: str
    contact_id: int | None = None
    linked: bool = False  # a MeetLoop member: their profile is theirs
    values: dict[str, str] = field(default_factory=dict)
    note: str = ""
    tag_names: set[str] = field(default_factory=set)  # lower case


@dataclass(frozen=True)
class Step:
    record: Record
    action: Literal["new", "merge", "unchanged"]
    target: Target
    fills: dict[str, str]  # empty fields this record fills
    note: str  # text appended to the note ("" for none)
    tags: tuple[str, ...]  # tags added


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    bad: list[Unreadable] = field(default_factory=list)

    def of(self, action: str) -> list[Step]:
        return [step for step in self.steps if step.action == action]


def plan_records(owner: User, entries: list[Record | Unreadable]) -> Plan:
    """What each entry would do to ``owner``'s address book now; unreadable ones are listed as bad."""
    result = Plan()
    known: dict[int, Target] = {}  # contact id -> its target
    by_email: dict[str, Target] = {}
    by_email.update(existing_by_email(owner, {e.email for e in entries if isinstance(e, Record) and e.email}, known))
    needs_names = any(isinstance(entry, Record) and not entry.email for entry in entries)
    by_name = _unlinked_by_name(owner, known) if needs_names else {}  # casefolded name -> targets
    for entry in entries:
        if isinstance(entry, Unreadable):
            result.bad.append(entry)
            continue
        if entry.email and entry.email == owner.email.lower():
            result.bad.append(Unreadable(entry.where, entry.name or entry.email, "That's your own email."))
            continue
        if entry.email:
            target = by_email.get(entry.email)
        else:
            target = _same_person(by_name.get(entry.name.casefold(), []), entry.phone)
        step = _step(entry, target)
        result.steps.append(step)
        if step.target.values.get("email"):
            by_email.setdefault(step.target.values["email"], step.target)
        if step.action == "new":
            by_name.setdefault(entry.name.casefold(), []).append(step.target)
    return result


def _target(contact: Contact, known: dict[int, Target]) -> Target:
    linked = contact.user_id is not None
    target = Target(label=contacts.display_name(contact) or contact.email, contact_id=contact.id, linked=linked,
                    values={} if linked else {name: getattr(contact, name) for name in contacts.FIELDS},
                    note=contact.note, tag_names={tag.name.lower() for tag in contact.tags})
    known[contact.id] = target
    return target


def existing_by_email(owner: User, emails: set[str], known: dict[int, Target]) -> dict[str, Target]:
    """``contacts.find_by_email`` for many addresses, a few queries in all
    (a file may hold thousands): the first live contact by id whose own email
    matches, or who is a member sharing that address."""
    found: dict[str, Target] = {}
    ordered = sorted(emails)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        shared = and_(func.lower(User.email).in_(chunk), User.share_email.is_(True))
        for contact in db.session.scalars(
            select(Contact).outerjoin(User, User.id == Contact.user_id)
            .where(Contact.owner_id == owner.id, Contact.deleted_at.is_(None),
                   or_(func.lower(Contact.email).in_(chunk), shared))
            .options(selectinload(Contact.tags), selectinload(Contact.user)).order_by(Contact.id)
        ):
            target = known.get(contact.id) or _target(contact, known)
            person = contact.user
            for email in {contact.email.lower(), person.email.lower() if person and person.share_email else ""}:
                if email in emails:
                    found.setdefault(email, target)
    return found


def _unlinked_by_name(owner: User, known: dict[int, Target]) -> dict[str, list[Target]]:
    found: dict[str, list[Target]] = {}
    for contact in db.session.scalars(
        select(Contact).where(Contact.owner_id == owner.id, Contact.deleted_at.is_(None), Contact.user_id.is_(None),
                              Contact.name != "")
        .options(selectinload(Contact.tags)).order_by(Contact.id)
    ):
        target = known.get(contact.id) or _target(contact, known)
        found.setdefault(contact.name.casefold(), []).append(target)
    return found


def _digits(phone: str) -> str:
    return "".join(c for c in phone if c.isdigit() or c == "+")


def _same_person(candidates: list[Target], phone: str) -> Target | None:
    """The first same-named contact whose phone matches (or who has none, or when the record has none)."""
    for target in candidates:
        theirs = target.values.get("phone", "")
        if not phone or not theirs or _digits(theirs) == _digits(phone):
            return target
    return None


def _step(record: Record, target: Target | None) -> Step:
    new = target is None
    if target is None:
        target = Target(label=f"{record.name or record.email} ({record.where} of this file)")
    fills = {} if target.linked else {name: getattr(record, name) for name in contacts.FIELDS
                                       if getattr(record, name) and not target.values.get(name)}
    note = record.note if record.note and record.note not in target.note else ""
    if note and target.note:
        note = note[:max(0, contacts.MAX_NOTE - len(target.note) - 2)].rstrip()  # what still fits
    room = max(0, tags.MAX_TAGS - len(target.tag_names))
    added = tuple(tag for tag in record.tags if tag.lower() not in target.tag_names)[:room]
    target.values.update(fills)
    target.note = f"{target.note}\n\n{note}" if target.note and note else (note or target.note)
    target.tag_names.update(tag.lower() for tag in added)
    if new:
        return Step(record, "new", target, {}, record.note, added)
    return Step(record, "merge" if fills or note or added else "unchanged", target, fills, note, added)
