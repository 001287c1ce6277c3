"""The morning-after recap: one email per attendee listing the people they met.

Recaps are not transactional: attendees who turned them off get none, and
every recap carries a one-click unsubscribe (headers and a footer link).

Compose → record → commit → deliver: :func:`queue_recaps` renders every recap
of an event and records them in the outbox (dedupe key
``recap:<event_id>:<user_id>``) in the caller's transaction, and marks the
event's recap as queued in that same transaction. A worker that dies before
its commit leaves nothing behind (the next run does it all again); two runs
at once are serialised on the event row and the dedupe keys, so nobody gets a
second copy.

Recaps are rendered and inserted :data:`BATCH_SIZE` recipients at a time, each
batch in a fixed number of statements, so a 10,000-attendee event neither
holds every rendered email in memory nor costs a query per contact.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload, subqueryload

from webapp.extensions import db
from webapp.models import Attendance, Contact, Event, OutboxMessage, User
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
BATCH_SIZE = 200


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
    """Attendees of ``event`` with at least one live contact from it and recaps on."""
    owners = _live_contacts(event).with_only_columns(Contact.owner_id)
    return list(db.session.scalars(
        select(User.id).join(Attendance, (Attendance.user_id == User.id) & (Attendance.event_id == event.id))
        .where(User.id.in_(owners), User.email_recaps.is_(True)).order_by(User.id)
    ))


def _contacts_by_owner(event: Event, owner_ids: list[int]) -> dict[int, list[Contact]]:
    """The live contacts ``owner_ids`` (attendees) made at ``event``, most recent first, in
    two queries however many there are: the other people come in the same
    query (a join), their tags in one more. ``contact.event`` is ``event``
    itself (already in the session), so reading it costs nothing."""
    query = (
        _live_contacts(event)
        .where(Contact.owner_id.in_(owner_ids))
        .options(joinedload(Contact.user), subqueryload(Contact.tags))
        .order_by(Contact.owner_id, Contact.met_at.desc().nulls_last(), Contact.id.desc())
    )
    grouped: dict[int, list[Contact]] = defaultdict(list)
    for contact in db.session.scalars(query):
        grouped[contact.owner_id].append(contact)
    return grouped


def _render(event: Event, owner: User, contacts: list[Contact], unsubscribe_url: str) -> tuple[str, str, str]:
    persons = [followups.email_entry(owner, c) for c in contacts]
    return mail.render(
        "recap", user=owner, event=event, people=persons, count=len(persons), snooze_days=SNOOZE_DAYS,
        contacts_url=mail.external_url("contacts.index"), unsubscribe_url=unsubscribe_url,
        preferences_url=mail.external_url("preferences.email_settings"),
    )


def _queue_batch(event: Event, owner_ids: list[int]) -> int:
    """Render and record the recaps of ``owner_ids``; returns how many were built."""
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
    mail.queue_many(messages)
    return len(messages)


def queue_recaps(event: Event, now: datetime, *, claim: bool = True, batch_size: int | None = None) -> int:
    """Record one recap per attendee with at least one contact from ``event``
    who has recaps on (none for the others) and mark the event's recap queued, in the caller's
    transaction. With ``claim`` (the scheduled run) nothing is queued if
    another run already marked the event; returns how many recaps were built.
    Works through the recipients ``batch_size`` (default :data:`BATCH_SIZE`) at a time."""
    marked = db.session.execute(
        update(Event).where(Event.id == event.id, *([Event.recaps_queued_at.is_(None)] if claim else []))
        .values(recaps_queued_at=now).execution_options(synchronize_session=False)
    )
    if marked.rowcount == 0:
        return 0
    db.session.refresh(event, ["recaps_queued_at"])
    recipient_ids = _recipient_ids(event)
    batch_size = batch_size or BATCH_SIZE
    return sum(_queue_batch(event, recipient_ids[start:start + batch_size])
               for start in range(0, len(recipient_ids), batch_size))


def run_due(now: datetime) -> int:
    """Queue the recaps of every due event; returns how many were built."""
    return sum(queue_recaps(event, now) for event in due_events(now))


def send_now(event: Event, now: datetime) -> int:
    """The organizer's "send now": queue the recaps at once (attendees who
    already have theirs are skipped by the dedupe key)."""
    events.ensure_open(event, "send recaps")
    if event.ends_at > now:
        raise RecapUnavailable("Recaps can go out once the event has ended.")
    return queue_recaps(event, now, claim=False)


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

    The organizer sees it, so its unsubscribe link goes to the (sign-in only)
    preferences page instead of carrying the attendee's unsubscribe token."""
    attends = db.session.scalar(select(Attendance.id).where(Attendance.event_id == event.id,
                                                            Attendance.user_id == attendee.id))
    contacts = _contacts_by_owner(event, [attendee.id]).get(attendee.id) if attends else None
    if not contacts:
        raise RecapUnavailable(f"{attendee.name} met nobody at this event: they get no recap.")
    return _render(event, attendee, contacts, mail.external_url("preferences.email_settings"))


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
