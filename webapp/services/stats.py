"""How well an event connected people: the figures behind the organizer's
dashboard and ``GET /events/EVENT/stats.json``.

Every figure comes from a fixed handful of aggregate queries, however large
the event: no query per attendee. The heavy ones (a pass over every scan) may be
reused for a moment (:func:`event_stats`). What is counted:

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

from sqlalchemy import Float, and_, case, distinct, func, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import String

from webapp.extensions import db
from webapp.models import Attendance, Contact, ContactSource, Event, Scan
from webapp.services.kept import Kept

FOLLOW_UP_GOAL = timedelta(hours=48)
FOLLOW_UP_LATE = timedelta(days=7)
TOP_HOURS = 3


class utc_hour(FunctionElement[str]):  # named like the SQL function it stands for
    """The UTC hour a timestamp falls in: ISO text ``YYYY-MM-DD HH:00:00`` (SQLite)
    or a naive UTC timestamp (PostgreSQL). Cheap per row: it runs once per scan."""

    type = String()
    inherit_cache = True


@compiles(utc_hour, "sqlite")
def _utc_hour_sqlite(element, compiler, **kw):
    # Stored as naive UTC text "YYYY-MM-DD HH:MM:SS.ffffff" (UTCDateTime): the hour is a prefix.
    return f"(substr({compiler.process(element.clauses, **kw)}, 1, 13) || ':00:00')"


@compiles(utc_hour, "postgresql")
def _utc_hour_postgresql(element, compiler, **kw):
    # A literal unit (not a bound parameter) so GROUP BY matches the select list.
    return f"date_trunc('hour', ({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC')"


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


@dataclass(frozen=True)
class _Networking:
    """The figures that take a pass over every scan or scan contact."""

    scans_by_hour: tuple[HourCount, ...]
    connections: int
    connected_attendees: int
    median_connections: float
    top10_connections: int
    rates: tuple[float, float]

    @classmethod
    def of(cls, event: Event) -> _Networking:
        degrees = connections_per_person(event)
        return cls(scans_by_hour(event), connections=sum(degrees) // 2,  # every connection has two ends
                   connected_attendees=sum(1 for n in degrees if n),
                   median_connections=float(statistics.median(degrees)) if degrees else 0.0,
                   top10_connections=top_share_floor(degrees, 0.10), rates=follow_up_rates(event))


def event_stats(event: Event, recent: Kept[_Networking] | None = None, viewer_id: int = 0) -> EventStats:
    """The event's networking figures, as of now (see the module docstring).

    With ``recent``, the heavy ones may be those ``viewer_id`` was shown a
    moment ago, reused only while the event's registrations and the newest
    scan anywhere are unchanged (scan ids grow: a new scan here shows at once).
    Follow-ups show within ``recent.seconds``. Never shared between events or viewers.
    """
    registered, checked_in, newest_scan = db.session.execute(
        select(func.count(Attendance.id), func.count(Attendance.checked_in_at),
               select(func.max(Scan.id)).scalar_subquery()).where(Attendance.event_id == event.id)
    ).one()
    # created_at too: a database emptied and refilled (tests) may give a new event an old id.
    key, version = (event.id, viewer_id), (event.created_at, registered, newest_scan)
    heavy = recent.get(key, version) if recent is not None else None
    if heavy is None:
        heavy = _Networking.of(event)
        if recent is not None:
            recent.put(key, version, heavy)
    return EventStats(
        registered=registered, checked_in=checked_in, scans=sum(h.scans for h in heavy.scans_by_hour),
        connections=heavy.connections, connected_attendees=heavy.connected_attendees,
        scans_by_hour=heavy.scans_by_hour, followed_up_48h_rate=heavy.rates[0], followed_up_7d_rate=heavy.rates[1],
        median_connections=heavy.median_connections, top10_connections=heavy.top10_connections,
    )


def top_share_floor(counts: list[int], share: float) -> int:
    """The least count among the top ``share`` of ``counts`` (at least one person)."""
    if not counts:
        return 0
    ranked = sorted(counts, reverse=True)
    return ranked[max(1, math.ceil(len(ranked) * share)) - 1]


def connections_per_person(event: Event) -> list[int]:
    """One number per person (registered, or in a connection): their
    connections, ascending. One query, answering how many people made each
    number of connections (a few rows, however large the event)."""
    ends = union_all(
        select(Scan.scanner_id.label("person"), Scan.scanned_id.label("other")).where(Scan.event_id == event.id),
        select(Scan.scanned_id, Scan.scanner_id).where(Scan.event_id == event.id),
    ).subquery("ends")
    degree = select(ends.c.person, func.count(distinct(ends.c.other)).label("n")).group_by(ends.c.person).cte("degree")
    # Registered people who met nobody; NOT IN against the (materialised) degree list, never a join per person.
    loners = select(literal(0), func.count()).where(
        Attendance.event_id == event.id, Attendance.user_id.not_in(select(degree.c.person)))
    histogram = union_all(select(degree.c.n, func.count()).group_by(degree.c.n), loners)
    counts: list[int] = []
    for n, people in sorted(db.session.execute(histogram).all()):
        counts.extend([int(n)] * int(people))
    return counts


def scans_by_hour(event: Event) -> tuple[HourCount, ...]:
    """Scans per UTC hour from the first scan's hour to the last's, zero-filled. One query."""
    hour = utc_hour(Scan.scanned_at)
    rows = db.session.execute(
        select(hour, func.count()).where(Scan.event_id == event.id).group_by(hour).order_by(hour)
    ).all()
    if not rows:
        return ()
    counts = {_as_hour(start): n for start, n in rows}
    first, last = min(counts), max(counts)
    hours = int((last - first) / timedelta(hours=1)) + 1
    return tuple(
        HourCount(start, counts.get(start, 0)) for start in (first + timedelta(hours=i) for i in range(hours))
    )


def _as_hour(value: str | datetime) -> datetime:
    return (datetime.fromisoformat(value) if isinstance(value, str) else value).replace(tzinfo=UTC)


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

