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

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

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
from webapp.services import DomainError, NotFound, PermissionDenied, ValidationFailed, badges, cadences, events
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


def resolve_badge(scanner: User, badge: str, event_ref: str | None = None) -> Attendance:
    """The attendance a scanned value points at (token, badge URL or short code)."""
    token = badges.token_from(badge)
    if token is not None:
        try:
            return badges.by_token(token)
        except NotFound:
            if not _looks_like_code(badge):
                raise UnknownBadge("This badge isn't valid. It may have been replaced by a new one.") from None
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
    return candidates[0]


def _looks_like_code(value: str) -> bool:
    code = badges.normalise_code(value)
    return 4 <= len(code) <= 12 and code.isalnum()


def _may_scan_at(user: User, event: Event) -> bool:
    return events.attendance_of(user, event) is not None or events.is_organizer(user, event)


def check_can_connect(scanner: User, attendance: Attendance) -> None:
    """Raise the reason ``scanner`` may not connect with this badge's owner, if any."""
    event = attendance.event
    if attendance.user_id == scanner.id:
        raise SelfScan("That's your own badge.")
    if event.cancelled_at is not None:
        raise EventCancelled(f"{event.name} was cancelled, so connections can't be recorded for it.")
    if not _may_scan_at(scanner, event):
        raise NotAttendee(f"Only people registered for {event.name} can connect with its attendees.")
    if is_blocked(scanner.id, attendance.user_id):
        raise NotAllowed("You can't connect with this person.")


def is_blocked(a_id: int, b_id: int) -> bool:
    """True if either person blocked the other."""
    found = db.session.scalar(
        select(Block.blocker_id).where(
            or_(
                (Block.blocker_id == a_id) & (Block.blocked_id == b_id),
                (Block.blocker_id == b_id) & (Block.blocked_id == a_id),
            )
        )
    )
    return found is not None


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

    Checked before the badge is resolved, so an offline re-upload still gets
    its answer after the badge was replaced. The same badge text is the same
    upload; other text must resolve to the same person at the same event.
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
    query = select(Scan.id).where(
        or_(
            (Scan.scanner_id == a_id) & (Scan.scanned_id == b_id),
            (Scan.scanner_id == b_id) & (Scan.scanned_id == a_id),
        )
    )
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
    replay = _replay(scanner, client_id, badge, event_ref)
    if replay is not None:
        return replay
    attendance = resolve_badge(scanner, badge, event_ref)
    check_can_connect(scanner, attendance)
    now = utcnow()
    when = _clean_time(scanned_at, now, attendance.event)
    already = _met_before(scanner.id, attendance.user_id)
    scan = Scan(
        event_id=attendance.event_id, scanner_id=scanner.id, scanned_id=attendance.user_id,
        client_id=client_id, badge=badge.strip()[:300], note=note, scanned_at=when,
    )
    try:
        with db.session.begin_nested():
            db.session.add(scan)
    except IntegrityError:
        # The same upload arrived twice at once; the other one won.
        replay = _replay(scanner, client_id, badge, event_ref)
        if replay is None:
            raise
        return replay
    mine = _touch_contact(scanner.id, attendance.user_id, attendance.event_id, when, scanned_me=False)
    theirs = _touch_contact(attendance.user_id, scanner.id, attendance.event_id, when, scanned_me=True)
    if note:
        mine.note = f"{mine.note}\n{note}".strip() if mine.note else note
    tagging.add(mine, tag_names, enforce_limit=False)
    if already:  # meeting again is a touch: both reminder clocks restart
        for contact in (mine, theirs):
            cadences.log_touch(contact, InteractionKind.MET, at=when, event_id=attendance.event_id)
    db.session.flush()
    return ScanResult(scan=scan, contact=mine, created=True, already_connected=already)


def _touch_contact(owner_id: int, other_id: int, event_id: int, when: datetime, *, scanned_me: bool) -> Contact:
    """Create or refresh ``owner``'s entry for ``other`` after a meeting."""
    contact = contact_for(owner_id, other_id, include_deleted=True)
    if contact is None:
        contact = Contact(
            owner_id=owner_id, user_id=other_id, source=ContactSource.SCAN.value, event_id=event_id,
            met_at=when, last_touched_at=when, scanned_me=scanned_me, state=FollowUpState.NEW.value,
        )
        try:
            with db.session.begin_nested():
                db.session.add(contact)
            return contact
        except IntegrityError:
            contact = contact_for(owner_id, other_id, include_deleted=True)
            if contact is None:
                raise
    if contact.deleted_at is not None:
        # Removed earlier, met again: back in the address book as a new connection.
        contact.deleted_at = None
        contact.state = FollowUpState.NEW.value
        contact.event_id, contact.met_at = event_id, when
    if contact.last_touched_at is None or when > contact.last_touched_at:
        contact.last_touched_at = when
    contact.updated_at = utcnow()
    return contact


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
