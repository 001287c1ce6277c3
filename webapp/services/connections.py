"""Connecting at events: a scan records that two people met, and gives each
of them a private contact entry for the other.

The web connect page and ``POST /api/v1/scans`` both call :func:`record_scan`,
so the rules below hold for both:

* a badge is a token, a badge URL or a short code; a code that exists at
  several of the scanner's events needs the event named;
* the scan belongs to the badge's event, and only its attendees and organizers
  may scan there; never your own badge, never at a cancelled event, never
  between two people when either blocked the other;
* ``client_id`` makes a scan idempotent per scanner: a replay is the same scan
  (same answer), a reused id for a different badge is a conflict;
* meeting again (a new ``client_id``) is a new scan, reported as
  ``already_connected``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, exists, or_, select
from sqlalchemy.orm import aliased, joinedload, make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from webapp.database import begin_writing
from webapp.extensions import db
from webapp.models import (
    Attendance,
    Block,
    Contact,
    ContactSource,
    Event,
    FollowUpState,
    InteractionKind,
    Scan,
    User,
    utcnow,
)
from webapp.services import DomainError, NotFound, PermissionDenied, ValidationFailed, badges, cadences, events, sql
from webapp.services import tags as tagging

MAX_NOTE = 2000
CLOCK_SKEW = timedelta(minutes=10)
EARLIEST_BEFORE_START = timedelta(days=30)  # a phone clock that far off is wrong, not early


class UnknownBadge(NotFound):
    code = "unknown_badge"


class NotAttendee(PermissionDenied):
    code = "not_attendee"


class SelfScan(DomainError):
    code = "self_scan"


class ClientIdConflict(DomainError):
    code = "client_id_conflict"


class EventCancelled(DomainError):
    code = "event_cancelled"


class AmbiguousBadge(ValidationFailed):
    code = "validation_error"


class NotAllowed(PermissionDenied):
    code = "not_allowed"


@dataclass
class ScanResult:
    scan: Scan
    contact: Contact | None  # the scanner's entry (None on a replay after they removed it)
    created: bool  # False: a replay of an earlier upload
    already_connected: bool  # they had met before this scan


Facts = tuple[bool, bool, bool]  # the scanner attends the badge's event; either blocked the other; they met


def resolve_badge(scanner: User, badge: str, event_ref: str | None = None) -> Attendance:
    """The attendance a scanned value points at (token, badge URL or short code)."""
    return _resolve(scanner, badge, event_ref)[0]


def _resolve(scanner: User, badge: str, event_ref: str | None) -> tuple[Attendance, Facts | None]:
    """The attendance, and for a token (what a scan carries) the facts
    :func:`check_can_connect` needs, found by the same query."""
    token = badges.token_from(badge)
    if token is not None:
        row = db.session.execute(_BADGE, {"token": token, "scanner": scanner.id}).one_or_none()
        if row is not None:
            return row[0], tuple(row[1:])
        if not _looks_like_code(badge):
            raise UnknownBadge("This badge isn't valid. It may have been replaced by a new one.")
    candidates = badges.by_code(badge) if _looks_like_code(badge) else []
    if event_ref:
        candidates = [a for a in candidates if event_ref in (a.event.slug, str(a.event_id))]
    if len(candidates) > 1:
        mine = [a for a in candidates if _may_scan_at(scanner, a.event)]
        candidates = mine or candidates
    if not candidates:
        raise UnknownBadge("No badge has that code. Check the letters and try again.")
    if len(candidates) > 1:
        raise AmbiguousBadge("That code is used at more than one event: say which event.", field="event")
    return candidates[0], None


def _looks_like_code(value: str) -> bool:
    code = badges.normalise_code(value)
    return 4 <= len(code) <= 12 and code.isalnum()


def _may_scan_at(user: User, event: Event) -> bool:
    return events.attendance_of(user, event) is not None or events.is_organizer(user, event)


def check_can_connect(scanner: User, attendance: Attendance, known: Facts | None = None) -> bool:
    """Raise the reason ``scanner`` may not connect with this badge's owner,
    if any; else tell whether they met before. ``known``: the facts, if
    :func:`_resolve` found them already."""
    event = attendance.event
    if attendance.user_id == scanner.id:
        raise SelfScan("That's your own badge.")
    if event.cancelled_at is not None:
        raise EventCancelled(f"{event.name} was cancelled, so connections can't be recorded for it.")
    attends, blocked, met = known or db.session.execute(
        _RELATION, {"event": event.id, "scanner": scanner.id, "other": attendance.user_id}
    ).one()
    if not attends and not events.is_organizer(scanner, event):
        raise NotAttendee(f"Only people registered for {event.name} can connect with its attendees.")
    if blocked:
        raise NotAllowed("You can't connect with this person.")
    return met


def has_scanned_at(user: User, event: Event) -> bool:
    """Whether ``user`` has scanned anyone at ``event`` (being scanned doesn't count)."""
    return bool(db.session.scalar(select(exists().where(Scan.event_id == event.id, Scan.scanner_id == user.id))))


def is_blocked(a_id: int, b_id: int) -> bool:
    """True if either person blocked the other."""
    found = db.session.scalar(select(Block.blocker_id).where(_pair(Block.blocker_id, Block.blocked_id, a_id, b_id)))
    return found is not None


def _pair(first, second, a, b):
    """``(first, second)`` is ``(a, b)`` or ``(b, a)``."""
    return or_((first == a) & (second == b), (first == b) & (second == a))


# Built once, run with parameters: composing a statement costs more than
# running it here, and these run inside every scan's write transaction.
_SCANNER = bindparam("scanner")
_ScannersAttendance = aliased(Attendance)


def _facts(event_id, other_id) -> list:
    """:data:`Facts` about the scanner and ``other_id`` at ``event_id``, as three columns."""
    return [
        exists().where(_ScannersAttendance.event_id == event_id, _ScannersAttendance.user_id == _SCANNER),
        exists().where(_pair(Block.blocker_id, Block.blocked_id, _SCANNER, other_id)),
        exists().where(_pair(Scan.scanner_id, Scan.scanned_id, _SCANNER, other_id)),
    ]


_BADGE = (  # the badge, its event (for the rules) and its owner (for the answer), and the facts
    select(Attendance, *_facts(Attendance.event_id, Attendance.user_id))
    .where(Attendance.badge_token == bindparam("token"))
    .options(joinedload(Attendance.event), joinedload(Attendance.user))
)
_RELATION = select(*_facts(bindparam("event"), bindparam("other")))


def _clean_time(scanned_at: datetime | None, now: datetime, event: Event) -> datetime:
    """When the meeting happened: now, or a device's offline timestamp that is
    neither in the future nor long before the event (a wrong phone clock)."""
    if scanned_at is None:
        return now
    if scanned_at.tzinfo is None:
        raise ValidationFailed("scanned_at needs a time zone offset.", field="scanned_at")
    if scanned_at > now + CLOCK_SKEW:
        raise ValidationFailed("scanned_at is in the future.", field="scanned_at")
    if scanned_at < event.starts_at - EARLIEST_BEFORE_START:
        raise ValidationFailed("scanned_at is long before the event started.", field="scanned_at")
    return scanned_at


def _replay(scanner: User, client_id: str, badge: str, event_ref: str | None) -> ScanResult | None:
    """The earlier answer for this upload, if ``client_id`` was seen before.

    Looked up when the scan can't be recorded now (so an offline re-upload
    still gets its answer after the badge was replaced, say) or its client_id
    turns out to be taken. The same badge text is the same upload; other text
    must resolve to the same person at the same event.
    """
    scan = db.session.scalar(select(Scan).where(Scan.scanner_id == scanner.id, Scan.client_id == client_id))
    if scan is None:
        return None
    if badge.strip()[:300] != scan.badge:
        try:
            attendance = resolve_badge(scanner, badge, event_ref)
        except DomainError:
            attendance = None
        if attendance is None or (scan.scanned_id, scan.event_id) != (attendance.user_id, attendance.event_id):
            raise ClientIdConflict("This client_id was already used for a different badge.", field="client_id")
    contact = contact_for(scanner.id, scan.scanned_id)
    earlier = _met_before(scanner.id, scan.scanned_id, before_scan_id=scan.id)
    return ScanResult(scan=scan, contact=contact, created=False, already_connected=earlier)


def _met_before(a_id: int, b_id: int, before_scan_id: int | None = None) -> bool:
    query = select(Scan.id).where(_pair(Scan.scanner_id, Scan.scanned_id, a_id, b_id))
    if before_scan_id is not None:
        query = query.where(Scan.id < before_scan_id)
    return db.session.scalar(query.limit(1)) is not None


def record_scan(
    scanner: User,
    badge: str,
    client_id: str,
    *,
    scanned_at: datetime | None = None,
    note: str = "",
    tags: list[str] | tuple[str, ...] = (),
    event_ref: str | None = None,
) -> ScanResult:
    """Record that ``scanner`` met the owner of ``badge``; see the module docstring."""
    client_id = (client_id or "").strip()
    if not 1 <= len(client_id) <= 64:
        raise ValidationFailed("client_id must be 1 to 64 characters.", field="client_id")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationFailed(f"Keep the note under {MAX_NOTE} characters.", field="note")
    tag_names = tagging.clean(tags)
    if len(tag_names) > tagging.MAX_TAGS:
        raise ValidationFailed(f"Use at most {tagging.MAX_TAGS} tags.", field="tags")
    try:
        attendance, known = _resolve(scanner, badge, event_ref)
        already = check_can_connect(scanner, attendance, known)
        when = _clean_time(scanned_at, utcnow(), attendance.event)
    except DomainError:
        # An upload seen before keeps its answer, even if the badge was replaced since.
        replay = _replay(scanner, client_id, badge, event_ref)
        if replay is not None:
            return replay
        raise
    meeting = _Meeting(scanner, attendance.user, attendance.event, when)
    # The reads are done: on SQLite, only the writes below hold the write lock.
    # (Every write ignores a row another transaction added meanwhile.)
    begin_writing()
    scan = _insert_scan(meeting, client_id=client_id, badge=badge.strip()[:300], note=note)
    if scan is None:  # seen before (perhaps a moment ago, in a concurrent upload)
        replay = _replay(scanner, client_id, badge, event_ref)
        if replay is None:  # unreachable: the row that clashed is there to be read
            raise ClientIdConflict("This client_id is in use by another upload.", field="client_id")
        return replay
    mine, theirs, new = _insert_contacts(meeting, note, already)
    # Tags, and a new reminder time for a known entry: meeting again (below)
    # does that too, and a new entry has no tags, so no cadence.
    if tag_names or (mine not in new and not already):
        tagging.add(mine, tag_names, enforce_limit=False)
    if already:  # meeting again is a touch: both reminder clocks restart
        for contact in (mine, theirs):
            cadences.log_touch(contact, InteractionKind.MET, at=when, event_id=attendance.event_id, flush=False)
    db.session.flush()
    return ScanResult(scan=scan, contact=mine, created=True, already_connected=already)


@dataclass(frozen=True)
class _Meeting:
    scanner: User
    scanned: User
    event: Event
    when: datetime


# Both writes are INSERT ... ON CONFLICT DO NOTHING ... RETURNING: one
# statement each, no savepoint, and a row another transaction added first (a
# replayed upload, or the other person's scan of me) is simply not returned.
# They run as table inserts and the rows they return become loaded objects:
# the ORM's own insert path spends longer on each value than the database on
# the row, inside the write transaction every scan queues for. Related objects
# are set as loaded too, so the answer needs no further queries.


def _insert_scan(meeting: _Meeting, **fields: str) -> Scan | None:
    """The new scan, or None if this scanner already used this client_id."""
    row = db.session.execute(
        _insert_returning(Scan, "scanner_id", "client_id"),
        dict(event_id=meeting.event.id, scanner_id=meeting.scanner.id, scanned_id=meeting.scanned.id,
             scanned_at=meeting.when, **fields),
    ).one_or_none()
    if row is None:
        return None
    scan = _loaded(Scan, row)
    for name, value in (("event", meeting.event), ("scanner", meeting.scanner), ("scanned", meeting.scanned)):
        set_committed_value(scan, name, value)
    return scan


@functools.cache
def _cached_insert(dialect: str, model: type, unique: tuple[str, ...]):
    return sql.insert_ignoring_conflicts(model.__table__, list(unique)).returning(*model.__table__.c)


def _insert_returning(model: type, *unique: str):
    """INSERT ... ON CONFLICT (``unique``) DO NOTHING RETURNING every column,
    built once per database dialect (see _BADGE)."""
    return _cached_insert(db.session.get_bind().dialect.name, model, unique)


def _loaded(model: type, row):
    """``row`` (every column, as RETURNING gave it) as a persistent object, as if queried."""
    instance = model(**row._mapping)
    make_transient_to_detached(instance)
    db.session.add(instance)
    return instance


def _insert_contacts(meeting: _Meeting, note: str, met_before: bool) -> tuple[Contact, Contact, list[Contact]]:
    """Both people's entries for each other, created (the common case at an
    event: a first meeting) or refreshed; and which of them are new."""
    a, b = meeting.scanner, meeting.scanned
    found = _existing_contacts(a.id, b.id) if met_before else {}
    rows = [
        dict(owner_id=owner.id, user_id=other.id, source=ContactSource.SCAN.value, event_id=meeting.event.id,
             met_at=meeting.when, last_touched_at=meeting.when, scanned_me=owner is b,
             state=FollowUpState.NEW.value, note=note if owner is a else "")
        # One order whoever scans whom: two people scanning each other at once
        # then wait for each other's row instead of deadlocking.
        for owner, other in sorted(((a, b), (b, a)), key=lambda pair: (pair[0].id, pair[1].id))
        if (owner.id, other.id) not in found
    ]
    inserted = db.session.execute(_insert_returning(Contact, "owner_id", "user_id"), rows) if rows else []
    new = [_loaded(Contact, row) for row in inserted]
    for contact in new:
        set_committed_value(contact, "tags", [])  # known to be empty
        set_committed_value(contact, "event", meeting.event)
    if len(found) + len(new) < 2:  # added by hand, from an import, or a moment ago by a concurrent scan
        found = _existing_contacts(a.id, b.id, skip=new)
    for contact in found.values():
        _refresh(contact, meeting.event.id, meeting.when, note=note if contact.owner_id == a.id else "")
    entries = found | {(contact.owner_id, contact.user_id): contact for contact in new}
    mine, theirs = entries[a.id, b.id], entries[b.id, a.id]
    set_committed_value(mine, "user", b)
    set_committed_value(theirs, "user", a)
    return mine, theirs, new


def _existing_contacts(a_id: int, b_id: int, skip: Sequence[Contact] = ()) -> dict[tuple[int, int], Contact]:
    """Their entries for each other, by (owner, other), with their tags (for rescheduling)."""
    query = (select(Contact).where(_pair(Contact.owner_id, Contact.user_id, a_id, b_id))
             .options(selectinload(Contact.tags)))
    return {(c.owner_id, c.user_id): c for c in db.session.scalars(query) if c not in skip}


def _refresh(contact: Contact, event_id: int, when: datetime, *, note: str = "") -> None:
    """An existing entry after a new meeting (``note``: its owner's, from the scan)."""
    if contact.deleted_at is not None:
        # Removed earlier, met again: back in the address book as a new connection.
        contact.deleted_at = None
        contact.state = FollowUpState.NEW.value
        contact.event_id, contact.met_at = event_id, when
    if contact.last_touched_at is None or when > contact.last_touched_at:
        contact.last_touched_at = when
    if note:
        contact.note = f"{contact.note}\n{note}".strip() if contact.note else note
    contact.updated_at = utcnow()


def contact_for(owner_id: int, other_id: int, *, include_deleted: bool = False) -> Contact | None:
    query = select(Contact).where(Contact.owner_id == owner_id, Contact.user_id == other_id)
    if not include_deleted:
        query = query.where(Contact.deleted_at.is_(None))
    return db.session.scalar(query)


def remove_contact(owner: User, contact: Contact) -> None:
    """Remove a connection from ``owner``'s side only (the other side keeps theirs)."""
    if contact.owner_id != owner.id:
        raise NotFound("No such contact.")
    contact.deleted_at = utcnow()
    contact.updated_at = contact.deleted_at


def block(blocker: User, other_id: int) -> None:
    """``blocker`` stops seeing ``other`` and can no longer be scanned by them.

    Both sides' contact entries are removed; the scans (the fact of meeting)
    stay for the event's statistics.
    """
    if other_id == blocker.id:
        raise ValidationFailed("You can't block yourself.")
    if db.session.get(Block, (blocker.id, other_id)) is None:
        db.session.add(Block(blocker_id=blocker.id, blocked_id=other_id))
    now = utcnow()
    for owner_id, target_id in ((blocker.id, other_id), (other_id, blocker.id)):
        contact = contact_for(owner_id, target_id)
        if contact is not None:
            contact.deleted_at = contact.updated_at = now
    db.session.flush()


def unblock(blocker: User, other_id: int) -> None:
    db.session.execute(delete(Block).where(Block.blocker_id == blocker.id, Block.blocked_id == other_id))


def scanned_me(user: User) -> list[tuple[Scan, Contact | None]]:
    """Who scanned my badge, most recent first, each with my live contact entry
    for them (None once I removed it); people I blocked are left out."""
    blocked = select(Block.blocked_id).where(Block.blocker_id == user.id)
    mine = (Contact.owner_id == user.id) & (Contact.user_id == Scan.scanner_id) & Contact.deleted_at.is_(None)
    rows = db.session.execute(
        select(Scan, Contact)
        .outerjoin(Contact, mine)
        .where(Scan.scanned_id == user.id, Scan.scanner_id.not_in(blocked))
        .options(selectinload(Scan.scanner), selectinload(Scan.event))
        .order_by(Scan.scanned_at.desc(), Scan.id.desc())
    ).all()
    return [(scan, contact) for scan, contact in rows]
