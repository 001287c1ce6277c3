"""The weekly "keep in touch" digest: the contacts now due, the most overdue
first, each with one concrete reason drawn from real data (:mod:`webapp.services.reasons`)
and signed one-click links (:mod:`webapp.services.touch_links`).

It goes out at 09:00 in the person's own time zone on the day they chose
(``User.digest_weekday``), once they have set a cadence on a tag or a
contact, and only when someone is due; one per local day (dedupe key
``digest:<user_id>:<local date>``). A digest more than :data:`STALE_AFTER`
late is skipped: an outage must not mail this morning's list at midnight.

Compose → record → commit → deliver: :func:`queue_due` records outbox rows in
the caller's transaction and changes nothing else, so a worker dying before
its commit leaves nothing behind, and two runs at once record one row per key
between them (the second run's insert skips the key the first recorded).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Contact, OutboxMessage, Tag, User
from webapp.services import cadences, events, mail, reasons, touch_links, unsubscribe

KIND = "digest"
UNSUBSCRIBE_KIND = "digests"
SEND_HOUR = 9
STALE_AFTER = timedelta(hours=12)
EMAIL_LIMIT = 15  # people listed in one email; the rest are a link away
_BATCH = 500  # recipients composed per round of queries
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def zone(user: User) -> ZoneInfo:
    """``user``'s time zone (UTC if the stored name is unknown to this system)."""
    return events.zone_or_utc(user.timezone)


def due_time(user: User, now: datetime) -> datetime:
    """09:00 on ``user``'s local day of ``now``, as UTC. Wall-clock
    arithmetic: right across daylight saving changes."""
    tz = zone(user)
    return datetime.combine(now.astimezone(tz).date(), time(SEND_HOUR), tzinfo=tz).astimezone(UTC)


def is_due_day(user: User, now: datetime) -> bool:
    """Whether ``now`` is within ``user``'s digest slot: their chosen weekday,
    local time, from 09:00 until :data:`STALE_AFTER` later."""
    if now.astimezone(zone(user)).weekday() != user.digest_weekday:
        return False
    at = due_time(user, now)
    return at <= now < at + STALE_AFTER


def dedupe_key(user: User, now: datetime) -> str:
    return f"digest:{user.id}:{now.astimezone(zone(user)).date().isoformat()}"


def _live_due(now: datetime):
    return (Contact.deleted_at.is_(None), Contact.next_reminder_at <= now)


def candidates(now: datetime) -> list[User]:
    """Everyone whose digest is due at ``now`` and not yet recorded: digests
    on, verified and active, a cadence set (as :func:`cadences.has_cadence`,
    for everyone in one query), someone due. The SQL keeps only the weekdays
    that are "today" somewhere on Earth; the exact local slot is checked here."""
    weekdays = {(now + timedelta(hours=hours)).weekday() for hours in (-12, 0, 14)}
    someone_due = exists().where(Contact.owner_id == User.id, *_live_due(now))
    on_tag = exists().where(Tag.owner_id == User.id, Tag.cadence_days.is_not(None))
    on_contact = exists().where(Contact.owner_id == User.id, Contact.deleted_at.is_(None),
                                Contact.cadence_days.is_not(None))
    users = db.session.scalars(
        select(User).where(
            User.email_digests.is_(True), User.email_verified.is_(True), User.is_disabled.is_(False),
            User.digest_weekday.in_(weekdays), someone_due, or_(on_tag, on_contact),
        ).order_by(User.id)
    )
    due = {dedupe_key(user, now): user for user in users if is_due_day(user, now)}
    sent = set(db.session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(due))))
    return [user for key, user in due.items() if key not in sent]


def _due_contacts(owner_ids: list[int], now: datetime) -> tuple[dict[int, list[Contact]], dict[int, int]]:
    """The first :data:`EMAIL_LIMIT` due contacts of each owner, most overdue
    first, and how many are due in all: two queries however many owners."""
    rank = func.row_number().over(partition_by=Contact.owner_id,
                                  order_by=(Contact.next_reminder_at, Contact.id)).label("rank")
    ranked = select(Contact.id, rank).where(Contact.owner_id.in_(owner_ids), *_live_due(now)).subquery()
    listed: dict[int, list[Contact]] = {owner_id: [] for owner_id in owner_ids}
    for contact in db.session.scalars(
        select(Contact).join(ranked, ranked.c.id == Contact.id).where(ranked.c.rank <= EMAIL_LIMIT)
        .options(selectinload(Contact.user), selectinload(Contact.tags))
        .order_by(Contact.owner_id, Contact.next_reminder_at, Contact.id)
    ):
        listed[contact.owner_id].append(contact)
    totals = dict(db.session.execute(
        select(Contact.owner_id, func.count()).where(Contact.owner_id.in_(owner_ids), *_live_due(now))
        .group_by(Contact.owner_id)
    ).all())
    return listed, totals


def _subject(count: int) -> str:
    return f"{count} {'person' if count == 1 else 'people'} to get back in touch with"


def render(user: User, entries: list[reasons.Entry], total: int) -> tuple[str, str, str]:
    """``user``'s digest listing ``entries`` out of ``total`` due (subject, text, html)."""
    people = [{"entry": entry, "links": touch_links.links(entry.contact)} for entry in entries]
    return mail.render(
        KIND, user=user, people=people, count=total, more=total - len(entries), subject=_subject(total),
        weekday=WEEKDAYS[user.digest_weekday], zone_name=zone(user).key.replace("_", " "),
        send_hour=f"{SEND_HOUR:02d}:00", snooze_days=cadences.SNOOZE_DAYS,
        losing_touch_url=mail.external_url("contacts.losing_touch"),
        unsubscribe_url=unsubscribe.link(user, UNSUBSCRIBE_KIND),
        preferences_url=mail.external_url("preferences.email_settings"),
    )


def _messages(users: list[User], now: datetime) -> list[dict]:
    listed, totals = _due_contacts([user.id for user in users], now)
    contexts = reasons.contexts([user.id for user in users], [c for cs in listed.values() for c in cs], now)
    messages = []
    for user in users:
        if not listed[user.id]:  # its last due contact was handled since the candidates query
            continue
        entries = reasons.entries(user, listed[user.id], contexts[user.id])
        subject, text, html = render(user, entries, totals.get(user.id, len(entries)))
        messages.append({
            "dedupe_key": dedupe_key(user, now), "kind": KIND, "user_id": user.id, "recipient": user.email,
            "subject": subject, "text_body": text, "html_body": html,
            "headers": unsubscribe.headers(user, UNSUBSCRIBE_KIND),
        })
    return messages


def queue_due(now: datetime) -> int:
    """Record every digest due at ``now`` in the caller's transaction; returns
    how many this call recorded (keys another run recorded are skipped)."""
    return queue_for(candidates(now), now)


def queue_for(users: list[User], now: datetime) -> int:
    """Record today's digest for each of ``users`` who has someone due, whatever
    the day (the demo seeds one this way); the same dedupe keys apply."""
    recorded = 0
    for start in range(0, len(users), _BATCH):
        recorded += len(mail.queue_many(_messages(users[start:start + _BATCH], now)))
    return recorded
