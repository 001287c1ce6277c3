"""How well an event connected people: the figures behind the organizer's
dashboard and ``GET /events/EVENT/stats.json``.

Every figure comes from a fixed handful of aggregate queries, however large
the event: no query per attendee. What is counted:

* ``registered``: the event's attendances; ``checked_in``: those checked in.
* ``scans``: the event's scan rows. A replayed ``client_id`` never makes a
  row, so this counts distinct scans.
* ``connections``: unordered pairs of people with at least one scan between
  them at this event, in either direction (A scanning B and B scanning A, or
  meeting twice, is one connection).
* ``connected_attendees``: people in at least one connection.

Everyone in a scan is a person here: an organizer who scans badges without
being registered met those people too, and someone who scanned and later left
the event still met them. So ``connected_attendees`` can exceed ``registered``
in principle; in practice organizers rarely scan.

Connections per attendee (median, and the least the top 10% made) are taken
over everyone registered plus anyone else in a connection, so registered
people who met nobody count as 0.

The follow-up rates are over this event's scan contacts that are still in an
address book (a removed contact is nobody's follow-up): the share whose
``followed_up_at`` came within 48 hours (7 days) of meeting (``met_at``, else
the contact's creation).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Float, and_, case, func, select, union, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import String

from webapp.extensions import db
from webapp.models import Attendance, Contact, ContactSource, Event, Scan

FOLLOW_UP_GOAL = timedelta(hours=48)
FOLLOW_UP_LATE = timedelta(days=7)
TOP_HOURS = 3


class utc_hour(FunctionElement[str]):  # named like the SQL function it stands for
    """The UTC hour a timestamp falls in, as text ``YYYY-MM-DDTHH:00:00``."""

    type = String()
    inherit_cache = True


@compiles(utc_hour, "sqlite")
def _utc_hour_sqlite(element, compiler, **kw):  # stored as naive UTC text
    return f"strftime('%Y-%m-%dT%H:00:00', {compiler.process(element.clauses, **kw)})"


@compiles(utc_hour, "postgresql")
def _utc_hour_postgresql(element, compiler, **kw):
    # Literal formats (not bound parameters) so GROUP BY matches the select list.
    return f"""to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:00:00')"""


class seconds_between(FunctionElement[float]):
    """``later - earlier`` in seconds."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


@dataclass(frozen=True)
class HourCount:
    hour: datetime  # the start of a UTC hour, aware
    scans: int


@dataclass(frozen=True)
class EventStats:
    registered: int
    checked_in: int
    scans: int
    connections: int
    connected_attendees: int
    scans_by_hour: tuple[HourCount, ...]  # first to last scan's hour, every hour, zeros included
    followed_up_48h_rate: float
    followed_up_7d_rate: float
    median_connections: float  # per attendee
    top10_connections: int  # the top 10% of attendees made at least this many

    @property
    def most_connected_hours(self) -> tuple[HourCount, ...]:
        """The busiest hours by scans (ties: the earlier hour first)."""
        busy = sorted((h for h in self.scans_by_hour if h.scans), key=lambda h: (-h.scans, h.hour))
        return tuple(busy[:TOP_HOURS])


def event_stats(event: Event) -> EventStats:
    """The event's networking figures, as of now (see the module docstring)."""
    registered, checked_in = db.session.execute(
        select(func.count(Attendance.id), func.count(Attendance.checked_in_at)).where(
            Attendance.event_id == event.id
        )
    ).one()
    degrees = connections_per_person(event)
    by_hour = scans_by_hour(event)
    within_goal, within_late = follow_up_rates(event)
    return EventStats(
        registered=registered,
        checked_in=checked_in,
        scans=sum(h.scans for h in by_hour),
        connections=sum(degrees) // 2,  # every connection has two ends
        connected_attendees=sum(1 for n in degrees if n),
        scans_by_hour=by_hour,
        followed_up_48h_rate=within_goal,
        followed_up_7d_rate=within_late,
        median_connections=float(statistics.median(degrees)) if degrees else 0.0,
        top10_connections=top_share_floor(degrees, 0.10),
    )


def top_share_floor(counts: list[int], share: float) -> int:
    """The least count among the top ``share`` of ``counts`` (at least one person)."""
    if not counts:
        return 0
    ranked = sorted(counts, reverse=True)
    return ranked[max(1, math.ceil(len(ranked) * share)) - 1]


def connections_per_person(event: Event) -> list[int]:
    """One number per person (registered, or in a connection): their connections. One query."""
    lower = case((Scan.scanner_id < Scan.scanned_id, Scan.scanner_id), else_=Scan.scanned_id)
    upper = case((Scan.scanner_id < Scan.scanned_id, Scan.scanned_id), else_=Scan.scanner_id)
    pairs = select(lower.label("a"), upper.label("b")).where(Scan.event_id == event.id).distinct().cte("pairs")
    ends = union_all(select(pairs.c.a.label("person")), select(pairs.c.b.label("person"))).subquery("ends")
    degree = select(ends.c.person, func.count().label("n")).group_by(ends.c.person).cte("degree")
    people = union(
        select(Attendance.user_id.label("person")).where(Attendance.event_id == event.id),
        select(degree.c.person),
    ).subquery("people")
    query = select(func.coalesce(degree.c.n, 0)).select_from(
        people.outerjoin(degree, degree.c.person == people.c.person)
    )
    return [int(n) for n in db.session.scalars(query)]


def scans_by_hour(event: Event) -> tuple[HourCount, ...]:
    """Scans per UTC hour from the first scan's hour to the last's, zero-filled. One query."""
    hour = utc_hour(Scan.scanned_at)
    rows = db.session.execute(
        select(hour, func.count()).where(Scan.event_id == event.id).group_by(hour).order_by(hour)
    ).all()
    if not rows:
        return ()
    counts = {datetime.fromisoformat(text).replace(tzinfo=UTC): n for text, n in rows}
    first, last = min(counts), max(counts)
    hours = int((last - first) / timedelta(hours=1)) + 1
    return tuple(
        HourCount(start, counts.get(start, 0)) for start in (first + timedelta(hours=i) for i in range(hours))
    )


def _within(limit: timedelta) -> ColumnElement[int]:
    met = func.coalesce(Contact.met_at, Contact.created_at)
    quick = and_(Contact.followed_up_at.is_not(None),
                 seconds_between(Contact.followed_up_at, met) <= limit.total_seconds())
    return func.coalesce(func.sum(case((quick, 1), else_=0)), 0)


def follow_up_rates(event: Event) -> tuple[float, float]:
    """(share followed up within 48 h, within 7 days) of the event's scan contacts. One query."""
    total, goal, late = db.session.execute(
        select(func.count(), _within(FOLLOW_UP_GOAL), _within(FOLLOW_UP_LATE)).where(
            Contact.event_id == event.id,
            Contact.source == ContactSource.SCAN.value,
            Contact.deleted_at.is_(None),
        )
    ).one()
    if not total:
        return 0.0, 0.0
    return goal / total, late / total

