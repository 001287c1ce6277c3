"""Reminders about people met at an event who are still waiting for a follow-up.

A contact still *new* gets at most two reminders, by default on day 3 and day
10 after the event (``NUDGE_DAYS``), from 09:00 event-local. Everything due for
one person on one day goes out as one email (dedupe key
``nudge:<user_id>:<the user's local date>``). Nothing more once they act on
the contact (followed up, snoozed, keep in touch), remove it, or turn
reminders off; a reminder more than :data:`STALE_AFTER` late is skipped
rather than sent (an outage must not mail people about last month).

Compose → record → commit → deliver: :func:`queue_due` records the emails in
the outbox and counts the reminders on the contacts in the caller's
transaction, so a worker dying before its commit leaves nothing behind. Only
the contacts of emails *this* run recorded are counted: when two runs race,
the second one's insert skips the key the first recorded and it counts
nothing, so nobody gets a second email and no contact is skipped (one the
loser would have added waits for the next day's email).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Contact, Event, User
from webapp.models.contact import FollowUpState
from webapp.services import events, followups, mail, unsubscribe

KIND = "nudge"
UNSUBSCRIBE_KIND = "nudges"
STALE_AFTER = timedelta(days=3)
_UPDATE_BATCH = 500
OWNER_BATCH = 200  # people whose reminders are composed at a time


def schedule_days() -> tuple[int, ...]:
    """Days after the event on which reminders are due (``NUDGE_DAYS``, default 3 and 10)."""
    return tuple(current_app.config["NUDGE_DAYS"])


def due_times(event: Event) -> list[datetime]:
    """When each reminder about a contact from ``event`` is due: 09:00
    event-local on day N after the local day the event ended, and never
    sooner than N - 1 days after the recap's day (an organizer who delays the
    recap delays the reminders with it). Wall-clock arithmetic: right across
    daylight saving changes."""
    tz = events.zone(event.timezone)
    ended = events.local(event, event.ends_at).date()
    recap_day = events.local(event, events.followup_due_at(event)).date()
    return [
        datetime.combine(max(ended + timedelta(days=n), recap_day + timedelta(days=n - 1)),
                         time(events.FOLLOWUP_HOUR), tzinfo=tz).astimezone(UTC)
        for n in schedule_days()
    ]


def due_reminder(event: Event, now: datetime) -> int:
    """Which reminder (1, 2) is due at ``now`` for contacts met at ``event``; 0 if none."""
    for number, at in reversed(list(enumerate(due_times(event), 1))):
        if at <= now:
            return number if now - at < STALE_AFTER else 0
    return 0


def dedupe_key(user: User, now: datetime) -> str:
    return f"nudge:{user.id}:{now.astimezone(events.zone(user.timezone)).date().isoformat()}"


def _lookback() -> timedelta:
    """How long after its end an event can still have a reminder due."""
    return (timedelta(days=max(schedule_days()) + 2) + timedelta(minutes=events.MAX_FOLLOWUP_DELAY)
            + STALE_AFTER)


def due_events(now: datetime) -> dict[int, int]:
    """Events with a reminder due at ``now``: event id -> reminder number. A
    handful of rows, read before any contact so a day with nothing due costs
    nothing however many contacts recent events made."""
    window = db.session.scalars(select(Event).where(
        Event.cancelled_at.is_(None), Event.ends_at <= now, Event.ends_at > now - _lookback()))
    return {event.id: number for event in window if (number := due_reminder(event, now))}


def _waiting(reminders: dict[int, int]):
    """Contacts from those events still new, not yet reminded that many times,
    whose owners get reminders (verified, active, nudges on)."""
    return (
        select(Contact)
        .join(User, User.id == Contact.owner_id)
        .where(
            Contact.event_id.in_(reminders), Contact.state == FollowUpState.NEW.value,
            Contact.deleted_at.is_(None), Contact.nudges_sent < len(schedule_days()),
            User.email_nudges.is_(True), User.email_verified.is_(True), User.is_disabled.is_(False),
        )
    )


def due_contacts(now: datetime, reminders: dict[int, int] | None = None,
                 owner_ids: list[int] | None = None) -> dict[int, list[tuple[Contact, int]]]:
    """Contacts with a reminder due at ``now``, by owner (all, or ``owner_ids``):
    (contact, reminder number), the most recent event first and the most
    recent meeting first within it."""
    reminders = due_events(now) if reminders is None else reminders
    if not reminders:
        return {}
    query = (
        _waiting(reminders).join(Event, Event.id == Contact.event_id)
        .options(selectinload(Contact.owner), selectinload(Contact.user), selectinload(Contact.event),
                 selectinload(Contact.tags))
        .order_by(Contact.owner_id, Event.ends_at.desc(), Event.id, Contact.met_at.desc().nulls_last(),
                  Contact.id.desc())
    )
    if owner_ids is not None:
        query = query.where(Contact.owner_id.in_(owner_ids))
    due: dict[int, list[tuple[Contact, int]]] = defaultdict(list)
    for contact in db.session.scalars(query):
        if reminders[contact.event_id] > contact.nudges_sent:
            due[contact.owner_id].append((contact, reminders[contact.event_id]))
    return due


def _group_by_event(items: list[tuple[Contact, int]]) -> list[dict]:
    groups: dict[int, dict] = {}
    for contact, number in items:
        group = groups.setdefault(contact.event_id, {"event": contact.event, "people": [], "last": True})
        group["people"].append(contact)
        group["last"] = group["last"] and number == len(schedule_days())
    return list(groups.values())


def _subject_names(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} and {len(names) - 1} others"


def render(owner: User, items: list[tuple[Contact, int]]) -> tuple[str, str, str]:
    """One reminder email for ``owner`` listing ``items`` (subject, text, html)."""
    groups = [
        {**group, "local_end": events.local(group["event"], group["event"].ends_at),
         "people": [followups.email_entry(owner, c) for c in group["people"]]}
        for group in _group_by_event(items)
    ]
    names = [person.name for group in groups for person in group["people"]]
    return mail.render(
        "nudge", user=owner, groups=groups, count=len(names), names=_subject_names(names),
        snooze_days=followups.SNOOZE_DAYS,
        followups_url=mail.external_url("followups.index"),
        unsubscribe_url=unsubscribe.link(owner, UNSUBSCRIBE_KIND),
        preferences_url=mail.external_url("preferences.email_settings"),
    )


def _count_reminders(items: Iterable[tuple[Contact, int]]) -> None:
    by_number: dict[int, list[int]] = defaultdict(list)
    for contact, number in items:
        by_number[number].append(contact.id)
    for number, ids in by_number.items():
        for start in range(0, len(ids), _UPDATE_BATCH):
            chunk = ids[start:start + _UPDATE_BATCH]
            db.session.execute(
                update(Contact).where(Contact.id.in_(chunk), Contact.nudges_sent < number)
                .values(nudges_sent=number).execution_options(synchronize_session=False)
            )


def queue_due(now: datetime) -> int:
    """Record every reminder email due at ``now`` (one per person) and count
    the reminders on the contacts they list, in the caller's transaction,
    :data:`OWNER_BATCH` people at a time (bounded memory for a large event);
    returns how many emails this call recorded."""
    reminders = due_events(now)
    if not reminders:
        return 0
    owners = list(db.session.scalars(
        _waiting(reminders).with_only_columns(Contact.owner_id).distinct().order_by(Contact.owner_id)))
    return sum(_queue_batch(now, reminders, owners[start:start + OWNER_BATCH])
               for start in range(0, len(owners), OWNER_BATCH))


def _queue_batch(now: datetime, reminders: dict[int, int], owner_ids: list[int]) -> int:
    messages, items_by_key = [], {}
    for items in due_contacts(now, reminders, owner_ids).values():
        owner = items[0][0].owner
        subject, text, html = render(owner, items)
        key = dedupe_key(owner, now)
        items_by_key[key] = items
        messages.append({
            "dedupe_key": key, "kind": KIND, "user_id": owner.id, "recipient": owner.email,
            "subject": subject, "text_body": text, "html_body": html,
            "headers": unsubscribe.headers(owner, UNSUBSCRIBE_KIND),
        })
    recorded = mail.queue_many(messages)
    _count_reminders(item for key in recorded for item in items_by_key[key])
    return len(recorded)
