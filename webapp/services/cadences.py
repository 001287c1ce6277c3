"""Keeping in touch: cadences, touches, and who is due.

A contact's cadence is its own (``Contact.cadence_days``, which wins) or else
the shortest among its tags'. Its next reminder is its last touch plus that
cadence, so any touch — a logged interaction, marking a follow-up done,
meeting again at an event — moves it; without a cadence there is no
reminder. Reminders are stored (``next_reminder_at``) so "who is due" is one
indexed query however large the address book.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Contact, ContactSource, Interaction, InteractionKind, Tag, User, contact_tag, utcnow
from webapp.services import ValidationFailed

#: "Keep in touch every…" choices offered in forms, in days (any 1-730 is accepted).
CHOICES = ((14, "2 weeks"), (30, "month"), (60, "2 months"), (90, "3 months"), (180, "6 months"),
           (365, "year"))
MAX_DAYS = 730
SNOOZE_DAYS = 7
MAX_NOTE = 2000
#: Interactions a person logs by hand (the others are recorded by the app).
LOGGABLE = (InteractionKind.EMAIL, InteractionKind.CALL, InteractionKind.MEETING, InteractionKind.REFERRAL,
            InteractionKind.INVITE, InteractionKind.ARTICLE, InteractionKind.OTHER)
LABELS = {
    InteractionKind.EMAIL: "Email or message", InteractionKind.CALL: "Call", InteractionKind.MEETING: "Met up",
    InteractionKind.REFERRAL: "Referred a client", InteractionKind.INVITE: "Invited to an event",
    InteractionKind.ARTICLE: "Shared an article", InteractionKind.OTHER: "Got in touch",
    InteractionKind.FOLLOWED_UP: "Followed up after the event", InteractionKind.MET: "Met again",
}
REACTIVATE_TAG = "Reactivate"
REACTIVATE_AFTER = timedelta(days=182)
REACTIVATE_CADENCE = 30


def check_days(days: int | None, field: str = "cadence_days") -> int | None:
    """``days`` if it is a valid cadence (1-730) or None (no cadence)."""
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"Choose between 1 and {MAX_DAYS} days.", field=field)
    return days


def effective_cadence(contact: Contact) -> int | None:
    if contact.cadence_days:
        return contact.cadence_days
    return min((t.cadence_days for t in contact.tags if t.cadence_days), default=None)


def last_touch(contact: Contact) -> datetime | None:
    """The last time they were in touch, as far as we know (None: never known)."""
    return contact.last_touched_at or contact.met_at


def reschedule(contact: Contact) -> None:
    """Set ``next_reminder_at`` from the last touch and the cadence. A contact
    with a cadence but no known touch is due at once."""
    cadence = effective_cadence(contact)
    if cadence is None:
        contact.next_reminder_at = None
        return
    touched = last_touch(contact)
    contact.next_reminder_at = touched + timedelta(days=cadence) if touched else contact.created_at or utcnow()


def set_contact_cadence(contact: Contact, days: int | None) -> None:
    """The contact's own cadence (None: follow its tags)."""
    contact.cadence_days = check_days(days)
    contact.updated_at = utcnow()
    reschedule(contact)
    db.session.flush()


def set_tag_cadence(tag: Tag, days: int | None) -> int:
    """A tag's cadence; reschedules its live contacts. Returns how many."""
    tag.cadence_days = check_days(days)
    db.session.flush()
    tagged = db.session.scalars(
        select(Contact).join(contact_tag, contact_tag.c.contact_id == Contact.id)
        .where(contact_tag.c.tag_id == tag.id, Contact.deleted_at.is_(None))
        .options(selectinload(Contact.tags))
    ).all()
    for contact in tagged:
        reschedule(contact)
    db.session.flush()
    return len(tagged)


def log_touch(contact: Contact, kind: str, *, at: datetime | None = None, note: str = "",
              event_id: int | None = None, flush: bool = True) -> Interaction:
    """Record a touch and restart the reminder clock from it (an older,
    back-dated touch is kept in the history but doesn't move the clock back).
    ``flush=False`` leaves the flush to the caller (one for several touches)."""
    now = utcnow()
    at = at or now
    if kind not in {k.value for k in InteractionKind}:
        raise ValidationFailed("Choose what kind of touch it was.", field="kind")
    if at.tzinfo is None or at > now + timedelta(minutes=10):
        raise ValidationFailed("That date is in the future.", field="at")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationFailed(f"Keep the note under {MAX_NOTE} characters.", field="note")
    interaction = Interaction(contact_id=contact.id, kind=kind, at=at, note=note, event_id=event_id)
    db.session.add(interaction)
    if contact.last_touched_at is None or at > contact.last_touched_at:
        contact.last_touched_at = at
    contact.updated_at = now
    reschedule(contact)
    if flush:
        db.session.flush()
    return interaction


def snooze(contact: Contact, days: int = SNOOZE_DAYS, now: datetime | None = None) -> None:
    """Remind again in ``days`` without counting it as a touch."""
    days = check_days(days, field="days")
    contact.next_reminder_at = (now or utcnow()) + timedelta(days=days)
    contact.updated_at = utcnow()
    db.session.flush()


def history(contact: Contact) -> list[Interaction]:
    """The contact's interactions, newest first."""
    return list(db.session.scalars(
        select(Interaction).where(Interaction.contact_id == contact.id)
        .options(selectinload(Interaction.event)).order_by(Interaction.at.desc(), Interaction.id.desc())
    ))


def _live(owner_id: int):
    return and_(Contact.owner_id == owner_id, Contact.deleted_at.is_(None))


def _loaded():
    return (selectinload(Contact.user), selectinload(Contact.event), selectinload(Contact.tags))


def due(owner: User, now: datetime | None = None, limit: int | None = None) -> list[Contact]:
    """Contacts whose reminder is due at ``now``, the most overdue first."""
    return list(db.session.scalars(
        select(Contact).where(_live(owner.id), Contact.next_reminder_at <= (now or utcnow()))
        .options(*_loaded()).order_by(Contact.next_reminder_at, Contact.id).limit(limit)
    ))


def losing_touch_query(owner: User):
    """Every contact with a reminder, due and overdue first, then the soonest:
    a query to paginate."""
    return (select(Contact).where(_live(owner.id), Contact.next_reminder_at.is_not(None))
            .options(*_loaded()).order_by(Contact.next_reminder_at, Contact.id))



def due_count(owner: User, now: datetime | None = None) -> int:
    return db.session.scalar(select(func.count(Contact.id)).where(
        _live(owner.id), Contact.next_reminder_at <= (now or utcnow()))) or 0


def has_cadence(owner: User) -> bool:
    """Whether ``owner`` set any cadence (the weekly digest is off until then)."""
    on_tag = exists().where(Tag.owner_id == owner.id, Tag.cadence_days.is_not(None))
    on_contact = exists().where(_live(owner.id), Contact.cadence_days.is_not(None))
    return bool(db.session.scalar(select(or_(on_tag, on_contact))))


def _reactivation_candidates(owner: User, now: datetime):
    """Live contacts without a reminder, untouched for six months (imported ones
    with no known touch count as untouched)."""
    cutoff = now - REACTIVATE_AFTER
    touched = func.coalesce(Contact.last_touched_at, Contact.met_at)
    return select(Contact).where(
        _live(owner.id), Contact.next_reminder_at.is_(None),
        or_(touched < cutoff, and_(touched.is_(None), Contact.source == ContactSource.IMPORT.value)),
    )


def reactivation_count(owner: User, now: datetime | None = None) -> int:
    query = _reactivation_candidates(owner, now or utcnow())
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def reactivate(owner: User, now: datetime | None = None) -> int:
    """Tag every reactivation candidate "Reactivate" (created with a monthly
    cadence if new), which makes them due; returns how many were tagged."""
    from webapp.services import tags  # tags builds on this module

    candidates = db.session.scalars(
        _reactivation_candidates(owner, now or utcnow()).options(selectinload(Contact.tags))).all()
    if not candidates:
        return 0
    tag = tags.get_or_create(owner, REACTIVATE_TAG, cadence_days=REACTIVATE_CADENCE)
    for contact in candidates:
        if tag not in contact.tags:
            contact.tags.append(tag)
        reschedule(contact)
    db.session.flush()
    return len(candidates)
