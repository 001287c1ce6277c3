"""The organizer's attendee list: one page of an event's registrants,
searched, filtered and sorted (see :class:`~webapp.services.attendees.ListQuery`).

A page is one statement however many people registered: the page's
attendances are chosen (and, when filtered, counted) first, then only those
are joined to who checked them in and how many people each met, along with
the event's totals for the page's header. It reads only the columns the
list shows. Statements are built once for each shape of query and reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Select, bindparam, func, null, select, true
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.models import Attendance, Event, User
from webapp.services.attendees import (
    SORTS,
    ListQuery,
    Totals,
    has_connections,
    matches_every_word,
    people_met_by,
    search_words,
)
from webapp.services.attendees import totals as service_totals
from webapp.services.contacts import like_pattern, needs_escape
from webapp.services.paging import Page


@dataclass(frozen=True, slots=True)
class Listed:
    """One registrant as the list shows them."""

    id: int  # the attendance's
    user_id: int
    name: str
    email: str
    company: str
    badge_code: str
    registered_at: datetime
    registered_via: str
    checked_in_at: datetime | None
    checked_in_by: str | None  # who checked them in, if still known
    connections: int  # different people met at the event


@dataclass(frozen=True)
class _Shape:
    """What decides the form of a list statement (everything else is a parameter)."""

    dialect: str
    sort: str
    words: int
    escaped: bool  # some word has a LIKE wildcard to escape
    checked_in: bool | None
    has_connections: bool | None
    counted: bool


def _order(shape: _Shape, attendance, user) -> tuple:
    # PostgreSQL walks ix_user_lower_name. SQLite sorts (it can't know, without statistics, that
    # walking every user by name is worth it): NOCASE folds ASCII letters exactly as its lower()
    # does, without a lower-cased copy of every name.
    name = func.lower(user.name) if shape.dialect == "postgresql" else user.name.collate("NOCASE")
    pk = attendance.id
    not_in_yet = attendance.checked_in_at.is_(None)
    return {
        "name": (name, pk),
        "-name": (name.desc(), pk.desc()),
        "registered": (attendance.registered_at, pk),
        "-registered": (attendance.registered_at.desc(), pk.desc()),
        "checked_in": (not_in_yet, attendance.checked_in_at, pk),
        "-checked_in": (not_in_yet, attendance.checked_in_at.desc(), pk.desc()),
    }[shape.sort]


def _conditions(shape: _Shape) -> list:
    """Conditions on ``Attendance`` joined to its ``User``: search words must
    each appear in the person's name, email or company."""
    event_id = bindparam("event_id")
    conditions = [Attendance.event_id == event_id, *matches_every_word(
        [bindparam(f"word_{n}") for n in range(shape.words)], User.name, User.email, User.company,
        dialect=shape.dialect, escaped=shape.escaped)]
    if shape.checked_in is not None:
        is_in = Attendance.checked_in_at.is_not(None)
        conditions.append(is_in if shape.checked_in else ~is_in)
    if shape.has_connections is not None:
        connected = has_connections(event_id)
        conditions.append(connected if shape.has_connections else ~connected)
    return conditions


def _shown(attendance, user) -> tuple:
    """What a row shows, then who checked them in (by id)."""
    return (attendance.id, attendance.user_id, user.name, user.email, user.company, attendance.badge_code,
            attendance.registered_at, attendance.registered_via, attendance.checked_in_at,
            attendance.checked_in_by_id)


# Built once per shape and reused (values are parameters): building a statement
# this size costs more than running it for a page of an indexed event.
@lru_cache(maxsize=256)
def _page_statement(shape: _Shape) -> Select:
    """The page's registrants chosen (and counted) first, then only those
    joined to who checked them in and how many people each met.

    PostgreSQL walks the name index and stops after the page, its rows read
    along the way. SQLite sorts the event (see :func:`_order`): only ids go
    through its sort, and the page's 25 rows are read after.
    """
    total = [func.count().over().label("total")] if shape.counted else []
    if shape.dialect == "sqlite":
        chosen = _chosen(shape, Attendance.id.label("chosen_id"), *total)
        listed, person = aliased(Attendance, name="listed"), aliased(User, name="person")
        rows = (select(*_shown(listed, person)[:-1]).select_from(chosen).join(listed, listed.id == chosen.c.chosen_id)
                .join(person, person.id == listed.user_id))
        row = _Row(listed.id, listed.user_id, person.name, listed.registered_at, listed.checked_in_at,
                   listed.checked_in_by_id)
    else:
        chosen = _chosen(shape, *_shown(Attendance, User), *total)
        rows = select(*(chosen.c[column.key] for column in _shown(Attendance, User)[:-1])).select_from(chosen)
        row = chosen.c
    checker = aliased(User, name="checker")
    # The event's registrations and check-ins (the page's header), counted once for the
    # statement from the index on (event, check-in), joined to every row. Materialised: left
    # to itself PostgreSQL may count them again for each row.
    every = aliased(Attendance, name="every")
    totals = (select(func.count().label("registered"), func.count(every.checked_in_at).label("checked_in"))
              .where(every.event_id == bindparam("event_id")).cte("totals").prefix_with("MATERIALIZED"))
    return (rows.add_columns(checker.name, people_met_by(row.user_id, bindparam("event_id")),
                             totals.c.registered, totals.c.checked_in, chosen.c.total if shape.counted else null())
            .join(totals, true()).outerjoin(checker, checker.id == row.checked_in_by_id)
            .order_by(*_order(shape, row, row)))


@dataclass(frozen=True)
class _Row:
    """The columns :func:`_order` and the joins read, by name, from wherever they come."""

    id: object
    user_id: object
    name: object
    registered_at: object
    checked_in_at: object
    checked_in_by_id: object


def _chosen(shape: _Shape, *columns):
    return (select(*columns).select_from(Attendance).join(User, User.id == Attendance.user_id)
            .where(*_conditions(shape)).order_by(*_order(shape, Attendance, User))
            .limit(bindparam("limit")).offset(bindparam("offset")).subquery("chosen"))


def _narrowed(query: ListQuery, words: list[str]) -> bool:
    return bool(words) or query.checked_in is not None or query.has_connections is not None


@dataclass(frozen=True)
class Listing:
    """A page of the list and the event's totals (the header's figures)."""

    page: Page[Listed]
    totals: Totals


def list_page(event: Event, query: ListQuery, page: int, per_page: int) -> Listing:
    """Page ``page`` of ``event``'s attendances matching ``query``, in its
    order, with the event's totals, in one statement (two when the page is
    empty). The unfiltered list's total is the number registered; a filtered
    one counts its matches along with its rows.
    """
    words = search_words(query.search)
    counted = _narrowed(query, words)
    shape = _Shape(db.session.get_bind().dialect.name, query.sort if query.sort in SORTS else "name", len(words),
                   any(needs_escape(word) for word in words), query.checked_in, query.has_connections, counted)
    values = {"event_id": event.id, "limit": per_page, "offset": (page - 1) * per_page,
              **{f"word_{n}": like_pattern(word) for n, word in enumerate(words)}}
    rows = db.session.execute(_page_statement(shape), values).all()
    items = [Listed(*row[:11]) for row in rows]
    totals = Totals(rows[0][11], rows[0][12]) if rows else service_totals(event)
    if not counted:
        total = totals.registered
    elif rows:
        total = rows[0][-1]
    else:
        total = 0 if page == 1 else _count(shape, values)
    return Listing(Page(items, page, per_page, total), totals)


def _count(shape: _Shape, values: dict) -> int:
    """How many match, for a page past the last (which shows none of them)."""
    statement = select(func.count()).select_from(Attendance).join(User, User.id == Attendance.user_id)
    return db.session.scalar(statement.where(*_conditions(shape)), values) or 0
