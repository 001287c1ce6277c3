"""Deleting an account: the person's own data goes; other people's notes stay.

What :func:`delete_account` promises:

* everything of theirs is deleted: profile and photo, their contacts (with
  notes, tags and logged touches), tags, registrations and badges, co-organizer
  seats, API tokens, blocks either way, pending mail, and every scan they made
  or were the subject of (the fact of meeting is personal data too, so event
  statistics shrink);
* other people keep their own entry for them, with their own note and tags,
  unlinked and carrying the deleted person's name only;
* sent mail stays on the admin mail log as delivery records (no longer tied to
  an account), and "don't import me" requests stay, keyed by address, so no
  organizer can import and email them again;
* events they own are deleted if cancelled, or over with nobody else
  registered; anything else (upcoming, running, or part of other attendees'
  history) refuses the deletion until it is handed over or cancelled;
* the last active admin can't delete their account;
* a short confirmation is recorded in the outbox, in the same transaction, for
  the deleted address.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, delete, func, or_, select, update

from webapp.extensions import db
from webapp.models import (
    ApiToken,
    Attendance,
    Base,
    Contact,
    Event,
    Interaction,
    OutboxMessage,
    OutboxStatus,
    RegistrantOptOut,
    Role,
    Scan,
    Tag,
    User,
    contact_tag,
    utcnow,
)
from webapp.services import PermissionDenied, ValidationFailed, mail


class LastAdmin(PermissionDenied):
    code = "last_admin"


class OwnsEvents(PermissionDenied):
    code = "owns_events"


@dataclass(frozen=True)
class Blocker:
    """An owned event that stops the deletion, and why."""

    event: Event
    action: str  # what the owner can do about it
    reason: str


@dataclass
class Summary:
    contacts: int = 0
    notes: int = 0
    tags: int = 0
    events_attended: int = 0
    scans: int = 0
    api_tokens: int = 0
    pending_mail: int = 0
    kept_by: int = 0  # people who keep their own entry (and notes) for this person
    opt_outs: int = 0
    events_deleted: list[Event] = field(default_factory=list)
    blockers: list[Blocker] = field(default_factory=list)
    last_admin: bool = False

    @property
    def can_delete(self) -> bool:
        return not self.blockers and not self.last_admin


def _count(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def _owned_events(user: User, now: datetime) -> tuple[list[Event], list[Blocker]]:
    """(events deleted with the account, events that must be handed over first)."""
    deleted, blockers = [], []
    for event in db.session.scalars(select(Event).where(Event.owner_id == user.id).order_by(Event.starts_at)):
        others = _count(select(Attendance.id).where(Attendance.event_id == event.id, Attendance.user_id != user.id))
        if event.cancelled_at is not None:
            deleted.append(event)
        elif event.ends_at > now:
            blockers.append(Blocker(event, "Hand over or cancel", "it hasn't ended yet"))
        elif others:
            # Over, so it can't be cancelled: it needs a new owner (a site admin can help).
            whose = "1 attendee's" if others == 1 else f"{others} attendees'"
            blockers.append(Blocker(event, "Hand over", f"it is part of {whose} history"))
        else:
            deleted.append(event)
    return deleted, blockers


def _is_last_admin(user: User, *, lock: bool = False) -> bool:
    """With ``lock`` the other admins' rows are locked (PostgreSQL), so two
    admins deleting themselves at once can't both go; SQLite writers already
    run one at a time."""
    if user.role != Role.ADMIN.value or user.is_disabled:
        return False
    query = select(User.id).where(User.role == Role.ADMIN.value, User.is_disabled.is_(False), User.id != user.id)
    return not db.session.scalars(query.with_for_update() if lock else query).all()


def _pending_mail(user: User):
    mine = or_(OutboxMessage.user_id == user.id, func.lower(OutboxMessage.recipient) == user.email.lower())
    return (OutboxMessage.status == OutboxStatus.PENDING.value) & mine


def summary(user: User, *, now: datetime | None = None) -> Summary:
    """What deleting ``user`` would delete, what stays with others, and what stops it."""
    now = now or utcnow()
    live = select(Contact.id).where(Contact.owner_id == user.id, Contact.deleted_at.is_(None))
    deleted, blockers = _owned_events(user, now)
    return Summary(
        contacts=_count(live),
        notes=_count(live.where(Contact.note != "")),
        tags=_count(select(Tag.id).where(Tag.owner_id == user.id)),
        events_attended=_count(select(Attendance.id).where(Attendance.user_id == user.id)),
        scans=_count(select(Scan.id).where(or_(Scan.scanner_id == user.id, Scan.scanned_id == user.id))),
        api_tokens=_count(select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))),
        pending_mail=_count(select(OutboxMessage.id).where(_pending_mail(user))),
        kept_by=_count(select(Contact.id).where(
            Contact.user_id == user.id, Contact.owner_id != user.id, Contact.deleted_at.is_(None))),
        opt_outs=_count(select(RegistrantOptOut.event_id).where(RegistrantOptOut.email == user.email.lower())),
        events_deleted=deleted,
        blockers=blockers,
        last_admin=_is_last_admin(user),
    )


def check_confirmation(user: User, typed: str | None) -> None:
    """The person typed their own account's email (any case, spaces trimmed)."""
    if (typed or "").strip().lower() != user.email.lower():
        raise ValidationFailed("Type the email address of this account exactly to confirm.", field="email")


def _unlink_others_entries(user: User, now: datetime) -> None:
    """Others keep their entry, note and tags; it keeps the name only (their
    own name for the entry, if they had typed one)."""
    db.session.execute(
        update(Contact)
        .where(Contact.user_id == user.id, Contact.owner_id != user.id)
        .values(user_id=None, name=case((Contact.name == "", user.name[:120]), else_=Contact.name), updated_at=now)
        .execution_options(synchronize_session=False)
    )


def references(target: str) -> list[tuple[str, str, str | None]]:
    """Every (table, column, ON DELETE rule) whose foreign key points at ``target``.id."""
    return sorted(
        (table.name, fk.parent.name, (fk.ondelete or "").upper() or None)
        for table in Base.metadata.sorted_tables for fk in table.foreign_keys
        if fk.column.table.name == target and fk.column.name == "id"
    )


def _apply_on_delete(target: str, ids: list[int]) -> None:
    """Do what the database's ON DELETE rules would do to rows pointing at
    ``ids`` (delete them, or unlink them), explicitly and for every table,
    including tables added after this module: nothing is left pointing at a
    deleted row on any backend."""
    for table_name, column_name, rule in references(target):
        table = Base.metadata.tables[table_name]
        pointing = table.c[column_name].in_(ids)
        if rule == "CASCADE":
            db.session.execute(delete(table).where(pointing))
        elif rule == "SET NULL":
            db.session.execute(update(table).where(pointing).values({column_name: None}))


def _delete_own_rows(user: User) -> None:
    """What the ON DELETE rules don't cover: grandchildren first, pending mail
    (deleted, where the rule would only unlink it), and check-ins (no rule)."""
    mine = select(Contact.id).where(Contact.owner_id == user.id)
    own_tags = select(Tag.id).where(Tag.owner_id == user.id)
    for statement in (
        delete(contact_tag).where(or_(contact_tag.c.contact_id.in_(mine), contact_tag.c.tag_id.in_(own_tags))),
        delete(Interaction).where(Interaction.contact_id.in_(mine)),
        delete(OutboxMessage).where(_pending_mail(user)),
        update(Attendance).where(Attendance.checked_in_by_id == user.id).values(checked_in_by_id=None),
    ):
        db.session.execute(statement.execution_options(synchronize_session=False))


def delete_account(user: User, *, confirmation: str | None, now: datetime | None = None) -> str:
    """Delete ``user`` as described in the module docstring, once they typed
    their email as ``confirmation``. Returns the deleted address."""
    now = now or utcnow()
    check_confirmation(user, confirmation)
    if _is_last_admin(user, lock=True):
        raise LastAdmin("You are the only active admin: make someone else an admin before you delete your account.")
    deleted, blockers = _owned_events(user, now)
    if blockers:
        raise OwnsEvents(" ".join(f"{b.action} {b.event.name} first: {b.reason}." for b in blockers))
    email, name, user_id = user.email, user.name, user.id
    db.session.flush()
    _unlink_others_entries(user, now)
    _delete_own_rows(user)
    event_ids = [event.id for event in deleted]
    if event_ids:
        _apply_on_delete(Event.__tablename__, event_ids)
        db.session.execute(delete(Event).where(Event.id.in_(event_ids)).execution_options(synchronize_session=False))
    # Contacts, tags, scans, blocks, attendances, seats, tokens go; sent mail and imports are unlinked.
    _apply_on_delete(User.__tablename__, [user_id])
    db.session.execute(delete(User).where(User.id == user_id).execution_options(synchronize_session=False))
    for stale in (user, *deleted):  # their rows are gone: keep no stale copies in the session
        db.session.expunge(stale)
    mail.queue(template="account_deleted", to=email, dedupe_key=f"account-deleted:{user_id}:{secrets.token_hex(8)}",
               name=name)
    db.session.flush()
    return email
