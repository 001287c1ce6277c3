"""The morning-after recap: one email per attendee listing the people they met.

Recaps are not transactional: attendees who turned them off get none, and
every recap carries a one-click unsubscribe (headers and a footer link).

Compose → record → commit → deliver, :data:`BATCH_SIZE` recipients at a time.
The scheduled run (:func:`run_due`) takes a lease on the event
(``recaps_claimed_at``), then renders and records each batch of recaps in the
outbox (dedupe key ``recap:<event_id>:<user_id>``) and commits it, so delivery
starts while the rest are composed and no transaction (on SQLite, the write
lock) is held for the whole event; the event is marked queued after its last
batch. A run that dies mid-way leaves committed batches behind and its lease
expires (:data:`LEASE`): the next run composes only the recaps still missing.
Two runs at once are kept apart by the lease, and the dedupe keys would stop
a second copy anyway.

The organizer's "send now" composes in the caller's transaction instead
(:func:`send_now`). Each batch takes a fixed number of statements, so a
10,000-attendee event neither holds every rendered email in memory nor costs
a query per contact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import joinedload, load_only, subqueryload

from webapp.database import reading
from webapp.extensions import db
from webapp.models import Attendance, Contact, Event, OutboxMessage, Tag, User, utcnow
from webapp.services import DomainError, events, followups, mail, unsubscribe

KIND = "recap"
UNSUBSCRIBE_KIND = "recaps"
SNOOZE_DAYS = followups.SNOOZE_DAYS
# A recap more than this late is never sent: turning the feature on (or a long
# outage) must not mail people about events from months ago.
STALE_AFTER = timedelta(days=7)
# The latest a recap can be due after the event's end (the longest delay, or
# 09:00 the next local day), plus the stale window: bounds the events looked at.
_LOOKBACK = timedelta(minutes=events.MAX_FOLLOWUP_DELAY) + timedelta(days=2) + STALE_AFTER
# Recipients rendered and recorded at a time: bounds the worker's memory (about
# 250 KB a recipient while their batch is built: contacts, the people in them,
# the rendered email and its insert parameters) and the statements per recipient.
BATCH_SIZE = 100
# How long a composing run's claim on an event holds without being renewed
# (a batch takes well under a second).
LEASE = timedelta(minutes=5)


class RecapUnavailable(DomainError):
    code = "recap_unavailable"


def dedupe_key(event: Event, user_id: int) -> str:
    return f"recap:{event.id}:{user_id}"


def due_events(now: datetime) -> list[Event]:
    """Events whose recap is due at ``now`` and not yet queued (not cancelled,
    due no more than :data:`STALE_AFTER` ago)."""
    candidates = db.session.scalars(
        select(Event).where(
            Event.recaps_queued_at.is_(None), Event.cancelled_at.is_(None),
            Event.ends_at <= now, Event.ends_at > now - _LOOKBACK,
        ).order_by(Event.ends_at, Event.id)
    )
    return [e for e in candidates if now - STALE_AFTER < events.followup_due_at(e) <= now]


def _live_contacts(event: Event):
    """Live contacts made at ``event``."""
    return select(Contact).where(Contact.event_id == event.id, Contact.deleted_at.is_(None))


def _recipient_ids(event: Event) -> list[int]:
    """Attendees of ``event`` with at least one live contact from it, recaps
    on, and no recap of this event recorded yet."""
    owners = _live_contacts(event).with_only_columns(Contact.owner_id)
    recorded = select(OutboxMessage.user_id).where(
        OutboxMessage.kind == KIND, OutboxMessage.user_id.is_not(None),
        OutboxMessage.dedupe_key.startswith(f"recap:{event.id}:", autoescape=True))
    return list(db.session.scalars(
        select(User.id).join(Attendance, (Attendance.user_id == User.id) & (Attendance.event_id == event.id))
        .where(User.id.in_(owners), User.email_recaps.is_(True), User.id.not_in(recorded)).order_by(User.id)
    ))


# What a recap shows of a contact and of the person in it (people.card): loading
# only these skips most of each row's columns and their conversions. Anything
# else read while rendering raises instead of costing a query per contact.
_CONTACT_FIELDS = (Contact.id, Contact.owner_id, Contact.user_id, Contact.event_id, Contact.met_at, Contact.name,
                   Contact.email, Contact.company, Contact.headline, Contact.note)
_PERSON_FIELDS = (User.id, User.name, User.headline, User.company, User.looking_for,
                  User.photo_version, User.email, User.share_email, User.phone, User.share_phone,
                  User.linkedin_url, User.share_linkedin)


def _contacts_by_owner(event: Event, owner_ids: list[int]) -> dict[int, list[Contact]]:
    """The live contacts ``owner_ids`` (attendees) made at ``event``, most recent first, in
    two queries however many there are: the other people come in the same
    query (a join), their tags in one more. ``contact.event`` is ``event``
    itself (already in the session), so reading it costs nothing."""
    query = (
        _live_contacts(event)
        .where(Contact.owner_id.in_(owner_ids))
        .options(load_only(*_CONTACT_FIELDS, raiseload=True),
                 joinedload(Contact.user).load_only(*_PERSON_FIELDS, raiseload=True),
                 subqueryload(Contact.tags).load_only(Tag.name, raiseload=True))
        .order_by(Contact.owner_id, Contact.met_at.desc().nulls_last(), Contact.id.desc())
    )
    grouped: dict[int, list[Contact]] = defaultdict(list)
    for contact in db.session.scalars(query):
        grouped[contact.owner_id].append(contact)
    return grouped


def _render(event: Event, owner: User, contacts: list[Contact], unsubscribe_url: str, *,
            private: bool = True) -> tuple[str, str, str]:
    prefix = followups.link_prefix()
    persons = [followups.email_entry(owner, c, prefix, private=private) for c in contacts]
    return mail.render(
        "recap", user=owner, event=event, people=persons, count=len(persons), snooze_days=SNOOZE_DAYS,
        contacts_url=mail.external_url("contacts.index"), unsubscribe_url=unsubscribe_url,
        preferences_url=mail.external_url("preferences.email_settings"),
    )


def _render_batch(event: Event, owner_ids: list[int]) -> list[dict]:
    """The recaps of ``owner_ids`` rendered, as :func:`mail.queue_many` takes them."""
    owners = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(owner_ids)))}
    messages = []
    for owner_id, contacts in _contacts_by_owner(event, owner_ids).items():
        owner = owners[owner_id]
        subject, text, html = _render(event, owner, contacts, unsubscribe.link(owner, UNSUBSCRIBE_KIND))
        messages.append({
            "dedupe_key": dedupe_key(event, owner.id), "kind": KIND, "user_id": owner.id,
            "recipient": owner.email, "subject": subject, "text_body": text, "html_body": html,
            "headers": unsubscribe.headers(owner, UNSUBSCRIBE_KIND),
        })
    return messages


def _batches(ids: list[int], size: int | None) -> list[list[int]]:
    size = size or BATCH_SIZE
    return [ids[start:start + size] for start in range(0, len(ids), size)]


def _claim(event_id: int, now: datetime) -> bool:
    """Take (and commit) the lease on composing the event's recaps: free, or
    left by a run that died. False when another run holds it or it is done."""
    claimed = db.session.execute(
        update(Event).where(
            Event.id == event_id, Event.recaps_queued_at.is_(None),
            or_(Event.recaps_claimed_at.is_(None), Event.recaps_claimed_at < now - LEASE),
        ).values(recaps_claimed_at=now).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(claimed)


def _mark(event_id: int, **values: datetime) -> None:
    db.session.execute(update(Event).where(Event.id == event_id).values(**values)
                       .execution_options(synchronize_session=False))


def compose_due_event(event: Event, now: datetime, *, batch_size: int | None = None,
                      after_commit: Callable[[], None] = lambda: None) -> int:
    """The scheduled run for one event: claim it, then per batch render the
    recaps in a read-only transaction and record them (renewing the lease) in
    a short one, committed (``after_commit`` runs after each, e.g. to wake the
    mail worker); finally mark the event queued. Returns how many were built."""
    event_id = event.id
    if not _claim(event_id, now):
        return 0
    with reading():
        recipient_ids = _recipient_ids(event)
    built = 0
    for owner_ids in _batches(recipient_ids, batch_size):
        with reading():
            messages = _render_batch(event, owner_ids)
        mail.queue_many(messages)
        _mark(event_id, recaps_claimed_at=utcnow())
        db.session.commit()
        built += len(messages)
        after_commit()
    _mark(event_id, recaps_queued_at=now)
    db.session.commit()
    return built


def queue_recaps(event: Event, now: datetime, *, batch_size: int | None = None) -> int:
    """Record the recaps of ``event`` not yet recorded and mark its recap
    queued, all in the caller's transaction (the organizer's "send now");
    returns how many were built."""
    event.recaps_queued_at = now
    built = 0
    for owner_ids in _batches(_recipient_ids(event), batch_size):
        messages = _render_batch(event, owner_ids)
        mail.queue_many(messages)
        built += len(messages)
    return built


def run_due(now: datetime, *, after_commit: Callable[[], None] = lambda: None) -> int:
    """Compose and record the recaps of every due event, committing batch by
    batch; returns how many were built."""
    due = due_events(now)
    db.session.commit()  # the read above; each event's run takes its own transactions
    return sum(compose_due_event(event, now, after_commit=after_commit) for event in due)


def send_now(event: Event, now: datetime) -> int:
    """The organizer's "send now": queue the recaps at once (attendees who
    already have theirs are skipped)."""
    events.ensure_open(event, "send recaps")
    if event.ends_at > now:
        raise RecapUnavailable("Recaps can go out once the event has ended.")
    return queue_recaps(event, now)


def recipients(event: Event) -> list[User]:
    """Attendees who would get a recap (they made at least one contact there
    and have recaps on)."""
    owners = select(Contact.owner_id).where(Contact.event_id == event.id, Contact.deleted_at.is_(None))
    return list(db.session.scalars(
        select(User).join(Attendance, Attendance.user_id == User.id)
        .where(Attendance.event_id == event.id, User.id.in_(owners), User.email_recaps.is_(True))
        .order_by(User.name, User.id)
    ))


def preview(event: Event, attendee: User) -> tuple[str, str, str]:
    """``attendee``'s recap as (subject, text, html), rendered now, queuing nothing.

    The organizer sees it: the attendee's private notes and tags are left out,
    the one-click actions link nowhere and the unsubscribe link goes to the
    (sign-in only) preferences page instead of carrying the attendee's token."""
    attends = db.session.scalar(select(Attendance.id).where(Attendance.event_id == event.id,
                                                            Attendance.user_id == attendee.id))
    contacts = _contacts_by_owner(event, [attendee.id]).get(attendee.id) if attends else None
    if not contacts:
        raise RecapUnavailable(f"{attendee.name} met nobody at this event: they get no recap.")
    return _render(event, attendee, contacts, mail.external_url("preferences.email_settings"), private=False)


def counts(event: Event) -> dict[str, int]:
    """Recaps of ``event`` in the outbox by state: scheduled (pending or being
    sent), sent and failed."""
    rows = db.session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.kind == KIND,
               OutboxMessage.dedupe_key.startswith(f"recap:{event.id}:", autoescape=True))
        .group_by(OutboxMessage.status)
    ).all()
    by_status = dict(rows)
    return {
        "scheduled": by_status.get("pending", 0) + by_status.get("sending", 0),
        "sent": by_status.get("sent", 0),
        "failed": by_status.get("failed", 0),
    }
