"""An event's registrants as its organizers see them: the list, the CSV
export, the door (search, walk-ins) and removing someone.

Everything here reads a fixed number of statements however many people
registered: filters are SQL (``EXISTS`` for "has connections"), connection
counts come from one grouped query. Nothing here ever reads a scan's or a
contact's note: those belong to the people who wrote them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, case, distinct, exists, func, literal, or_, select, union, union_all
from sqlalchemy.orm import aliased, contains_eager, joinedload
from sqlalchemy.sql.expression import BindParameter, ColumnElement, ScalarSelect

from webapp.extensions import db
from webapp.models import Attendance, Event, Scan, User
from webapp.models.user import profile_search_text
from webapp.services import NotFound, PermissionDenied, ValidationFailed, accounts, audit, badges, checkin, events
from webapp.services.contacts import contains_text, like_pattern, needs_escape

PER_PAGE = 25  # a screenful at the door or on a laptop; quick to build at any event size
DOOR_LIMIT = 20
MAX_SEARCH = 100
MAX_WORDS = 6

# sort key -> what it means; "-" reverses. Not checked in yet always sorts last.
SORTS = ("name", "-name", "registered", "-registered", "checked_in", "-checked_in")

EXPORT_COLUMNS = (
    "name", "email", "company", "headline", "badge_code", "registered_via",
    "registered_at", "checked_in_at", "checked_in_by", "connections",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ListQuery:
    """What the organizer asked the list for. ``None`` filters mean "either"."""

    search: str = ""
    checked_in: bool | None = None
    has_connections: bool | None = None
    sort: str = "name"


@dataclass(frozen=True)
class Totals:
    registered: int
    checked_in: int


@dataclass(frozen=True)
class DoorResults:
    attendances: list[Attendance]
    more: bool  # there were more matches than shown: type more of the name


@dataclass(frozen=True)
class WalkIn:
    attendance: Attendance
    new_account: bool  # an account was made for this email just now
    was_registered: bool  # they had registered before (the walk-in only checked them in)
    check_in: checkin.CheckIn


# --- Shared pieces ---------------------------------------------------------------------------


def search_words(text: str) -> list[str]:
    """The words of a search as matched: lower case, at most ``MAX_WORDS`` of them."""
    return text.strip()[:MAX_SEARCH].lower().split()[:MAX_WORDS]


def matches_every_word(words: Sequence[str | BindParameter[str]], *columns, dialect: str | None = None,
                       escaped: bool = True) -> list:
    """One condition per word: it appears (case-insensitively, literally) in one of
    ``columns``, all of them the person's (``User``'s). A word is the text, or a
    bound parameter that will hold its :func:`~webapp.services.contacts.like_pattern`
    (``escaped`` as for :func:`~webapp.services.contacts.contains_text`).

    On PostgreSQL each word is also looked up in the trigram index on the
    person's searchable text (which holds every column searched here): the
    index finds the candidates, the exact test then checks them.
    """
    dialect = dialect or db.session.get_bind().dialect.name
    conditions = [contains_text(word, *columns, dialect=dialect, escaped=escaped) for word in words]
    if dialect == "postgresql":
        for word in words:
            if isinstance(word, str):
                word, escaped = literal(like_pattern(word)), needs_escape(word)
            conditions.append(profile_search_text(User).like(word, escape="/" if escaped else None))
    return conditions


def has_connections(event_id) -> ColumnElement[bool]:
    """Whether the attendance's person met someone at the event ``event_id`` (a value or a parameter)."""
    # Two EXISTS rather than one with an OR, so each can use an index on the scan table.
    return or_(
        exists().where(Scan.event_id == event_id, Scan.scanner_id == Attendance.user_id),
        exists().where(Scan.event_id == event_id, Scan.scanned_id == Attendance.user_id),
    )


def people_met_by(user_id, event_id) -> ScalarSelect[int]:
    """How many different people ``user_id`` met at the event ``event_id``:
    a count correlated to the enclosing query's ``user_id`` column, for a
    page's rows, read from the scan indexes."""
    others = union(
        select(Scan.scanned_id).where(Scan.event_id == event_id, Scan.scanner_id == user_id).correlate_except(Scan),
        select(Scan.scanner_id).where(Scan.event_id == event_id, Scan.scanned_id == user_id).correlate_except(Scan),
    ).subquery("met")
    return select(func.count()).select_from(others).scalar_subquery()


def _people_met(event: Event, user_ids: Sequence[int] | None = None):
    """(person, people they met) counts at ``event`` as a subquery with columns
    ``user_id`` and ``connections``: distinct others they scanned or were scanned by."""
    scanned, scanner = [Scan.event_id == event.id], [Scan.event_id == event.id]
    if user_ids is not None:
        scanned.append(Scan.scanner_id.in_(user_ids))
        scanner.append(Scan.scanned_id.in_(user_ids))
    pairs = union_all(
        select(Scan.scanner_id.label("user_id"), Scan.scanned_id.label("other_id")).where(*scanned),
        select(Scan.scanned_id.label("user_id"), Scan.scanner_id.label("other_id")).where(*scanner),
    ).subquery()
    return (
        select(pairs.c.user_id, func.count(distinct(pairs.c.other_id)).label("connections"))
        .group_by(pairs.c.user_id)
        .subquery()
    )


def attendance_in(event: Event, attendance_id: int) -> Attendance:
    """One of ``event``'s registrations by id; :class:`NotFound` for any other event's."""
    attendance = db.session.get(Attendance, attendance_id)
    if attendance is None or attendance.event_id != event.id:
        raise NotFound("No such attendee at this event.")
    return attendance


def totals(event: Event) -> Totals:
    registered, checked_in = db.session.execute(
        select(func.count(), func.count(Attendance.checked_in_at)).where(Attendance.event_id == event.id)
    ).one()
    return Totals(registered or 0, checked_in or 0)


# --- The attendee list (see attendee_list) --------------------------------------------------


def connection_counts(event: Event, user_ids: Sequence[int]) -> dict[int, int]:
    """How many different people each of ``user_ids`` met at ``event`` (one
    query; people who met nobody are left out)."""
    if not user_ids:
        return {}
    met = _people_met(event, list(user_ids))
    return {user_id: n for user_id, n in db.session.execute(select(met.c.user_id, met.c.connections))}


def remove_registrant(event: Event, attendance: Attendance) -> None:
    """Take ``attendance`` off ``event``: their badge stops resolving at once.
    Their scans stay (the event's stats keep counting the meetings), and so do
    the contacts people made of each other."""
    if attendance.event_id != event.id:
        raise NotFound("No such attendee at this event.")
    db.session.delete(attendance)
    db.session.flush()


# --- The CSV export --------------------------------------------------------------------------


def _iso(event: Event, value) -> str:
    return "" if value is None else events.local(event, value).isoformat(timespec="seconds")


def export_rows(event: Event) -> Iterator[list[str | int]]:
    """The header (``EXPORT_COLUMNS``), then one row per registrant by name,
    from one streamed query. Times are ISO 8601 in the event's zone, with
    the offset. Deliberately no notes, and no phone numbers."""
    yield list(EXPORT_COLUMNS)
    checker = aliased(User)
    met = _people_met(event)
    statement = (
        select(User.name, User.email, User.company, User.headline, Attendance.badge_code,
               Attendance.registered_via, Attendance.registered_at, Attendance.checked_in_at,
               checker.name, func.coalesce(met.c.connections, 0))
        .select_from(Attendance)
        .join(User, Attendance.user_id == User.id)
        .outerjoin(checker, Attendance.checked_in_by_id == checker.id)
        .outerjoin(met, met.c.user_id == Attendance.user_id)
        .where(Attendance.event_id == event.id)
        .order_by(func.lower(User.name), Attendance.id)
        .execution_options(yield_per=500)
    )
    for name, email, company, headline, code, via, registered, checked_in, by, connections in (
        db.session.execute(statement)
    ):
        yield [name, email, company or "", headline or "", code, via, _iso(event, registered),
               _iso(event, checked_in), by or "", connections]


def spreadsheet_safe(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_chunks(rows: Iterable[Sequence[object]], rows_per_chunk: int = 200) -> Iterator[str]:
    """``rows`` as CSV text in chunks, starting with a UTF-8 byte order mark so
    Excel reads names with accents right; every text cell is ``spreadsheet_safe``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"
    for n, row in enumerate(rows, 1):
        writer.writerow([spreadsheet_safe(value) for value in row])
        if n % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# --- The door --------------------------------------------------------------------------------


def door_search(event: Event, text: str, limit: int = DOOR_LIMIT) -> DoorResults:
    """People at ``event`` for the door: by badge code (ignoring case, spaces
    and dashes), a scanned badge URL, or words that each appear in the name or
    email. Exact code matches come first, then by name; at most ``limit``."""
    words = search_words(text)
    if not words:
        return DoorResults([], False)
    code = badges.normalise_code(text[:MAX_SEARCH])
    code_match = func.upper(Attendance.badge_code) == code
    found = [code_match, and_(*matches_every_word(words, User.name, User.email))]
    token = badges.token_from(text)
    if token:
        found.append(Attendance.badge_token == token)
    rows = list(db.session.scalars(
        select(Attendance)
        .join(Attendance.user)
        .options(contains_eager(Attendance.user), joinedload(Attendance.checked_in_by))
        .where(Attendance.event_id == event.id, or_(*found))
        .order_by(case((code_match, 0), else_=1), func.lower(User.name), Attendance.id)
        .limit(limit + 1)
    ))
    return DoorResults(rows[:limit], len(rows) > limit)


def recent_check_ins(event: Event, limit: int = 5) -> list[Attendance]:
    """The last people checked in, latest first (the door's view before a search)."""
    return list(db.session.scalars(
        select(Attendance)
        .join(Attendance.user)
        .options(contains_eager(Attendance.user), joinedload(Attendance.checked_in_by))
        .where(Attendance.event_id == event.id, Attendance.checked_in_at.is_not(None))
        .order_by(Attendance.checked_in_at.desc(), Attendance.id.desc())
        .limit(limit)
    ))


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def walk_in(event: Event, organizer: User, name: str, email: str, company: str = "") -> WalkIn:
    """Register someone at the door and check them in. An unknown email gets
    a new passwordless account (name and company as given); a known one keeps
    its profile as its owner wrote it. Someone already registered is only
    checked in (and a repeat says when and by whom, like any check-in)."""
    if not events.is_organizer(organizer, event):
        raise PermissionDenied("Only the event's organizers can register walk-ins.")
    events.ensure_open(event, "register walk-ins")
    name, email = name.strip(), accounts.normalise_email(email)
    if not name:
        raise ValidationFailed("Enter their name.", field="name")
    if not _EMAIL.fullmatch(email):
        raise ValidationFailed("Enter a valid email address.", field="email")
    user = accounts.find_by_email(email)
    new_account = user is None
    if user is None:
        user = accounts.create_user(email, name, company=company.strip())
    attendance = events.attendance_of(user, event)
    was_registered = attendance is not None
    if attendance is None:
        attendance = events.add_attendee(event, user, via="walk_in")
        audit.record(organizer, "attendees.walk_in", event=event, subject=f"user {user.id}")
    return WalkIn(attendance, new_account, was_registered, checkin.check_in(organizer, attendance))
