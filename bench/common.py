"""What every benchmark shares: a fresh database, fast bulk data, counting SQL
statements, timing, memory, and one way to report figures against targets.

Machines here are shared and noisy, so every target is a ratio (or a count)
against a baseline measured in the same run; absolute times are printed for
information only. ``--size tiny`` is the smoke size ``make test`` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event as sa_event
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine, make_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


# --- Reporting ----------------------------------------------------------------------------------


@dataclass
class Target:
    what: str  # "scan throughput / baseline throughput"
    measured: float
    limit: float
    higher_is_better: bool = False

    @property
    def met(self) -> bool:
        return self.measured >= self.limit if self.higher_is_better else self.measured <= self.limit


@dataclass
class Result:
    name: str
    size: str
    database: str = ""
    figures: dict[str, str] = field(default_factory=dict)  # label -> printed value (information)
    targets: list[Target] = field(default_factory=list)

    def figure(self, label: str, value: object) -> None:
        self.figures[label] = value if isinstance(value, str) else f"{value:,.3f}" if isinstance(value, float) \
            else f"{value:,}" if isinstance(value, int) else str(value)

    def target(self, what: str, measured: float, limit: float, *, higher_is_better: bool = False) -> Target:
        found = Target(what, measured, limit, higher_is_better)
        self.targets.append(found)
        return found

    @property
    def met(self) -> bool:
        return all(t.met for t in self.targets)


def machine() -> str:
    cores = os.cpu_count() or 0
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            total_kb = int(meminfo.readline().split()[1])
    except (OSError, ValueError, IndexError):
        total_kb = 0
    return f"{cores} cores, {total_kb / 1024 / 1024:.1f} GiB RAM, Python {sys.version.split()[0]}"


def report(result: Result, *, save: bool = True) -> Result:
    """Print the figures and each target with whether it is met; save them as
    JSON in ``bench/results/`` (what docs/PERFORMANCE.md is written from)."""
    where = f" on {result.database}" if result.database else ""
    print(f"\n== {result.name} ({result.size}{where}) — {machine()}")
    for label, value in result.figures.items():
        print(f"   {label:<52} {value}")
    for target in result.targets:
        sign = "≥" if target.higher_is_better else "≤"
        verdict = "MET" if target.met else "MISSED"
        print(f"   target: {target.what:<44} {target.measured:,.3f} {sign} {target.limit:,.3f}  {verdict}")
    if save and result.size != "tiny":
        RESULTS.mkdir(exist_ok=True)
        stem = f"{result.name}-{result.database}" if result.database else result.name
        payload = {**asdict(result), "met": result.met, "machine": machine(),
                   "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                   "targets": [{**asdict(t), "met": t.met} for t in result.targets]}
        (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return result


def arguments(description: str, sizes: tuple[str, ...] = ("tiny", "full")) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", choices=sizes, default="full")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    return parser.parse_args()


def databases(choice: str) -> list[str]:
    return ["sqlite", "postgresql"] if choice == "both" else [choice]


# --- Measuring ------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by the nearest-rank method."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed: ...; elapsed()`` in seconds (monotonic)."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


class StatementCounter:
    """Counts SQL statements sent through ``engine`` while active (an
    ``executemany`` is one statement: one round trip)."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.count, self.statements = engine, 0, []

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.count += 1
        self.statements.append(statement.split(None, 1)[0].upper() if statement.strip() else "")

    def __enter__(self) -> StatementCounter:
        sa_event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc) -> None:
        sa_event.remove(self.engine, "before_cursor_execute", self._seen)


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory (VmHWM) of ``pid``, or of this process, in MB."""
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (from /proc)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                found += [int(child) for child in children.read().split()]
    return found


# --- A fresh database -------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """The URL of a new, empty database of ``kind`` (sqlite: a temp file;
    postgresql: a new database on ``BENCH_POSTGRES_URL``'s server), removed after."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="meetloop-bench-") as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    import psycopg

    server = make_url(os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
    admin_url = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    name = f"meetloop_bench_{secrets.token_hex(5)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_app(database_url: str, **overrides):
    """The app on ``database_url`` with the schema migrated, mail kept in memory."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import limiter

    config = {"SQLALCHEMY_DATABASE_URI": database_url, "MAIL_TRANSPORT": "memory", "SECRET_KEY": "bench-secret",
              "BASE_URL": "http://127.0.0.1:5000", "PASSWORD_HASH_METHOD": "scrypt:1024:8:1", **overrides}
    app = create_app(config)
    limiter.enabled = config.get("RATELIMIT_ENABLED", True)
    with app.app_context():
        upgrade()
    return app


# --- Bulk data, fast -----------------------------------------------------------------------------------


@dataclass
class World:
    organizer_id: int
    event_id: int
    user_ids: list[int]
    badge_tokens: list[str]  # user_ids[i]'s badge at the event
    scans: int = 0


def _chunks(rows: list[dict], size: int = 5000) -> Iterator[list[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def build_event(session, attendees: int, scans: int = 0, *, ended_hours_ago: float = 40, seed: int = 7,
                contacts: bool = True) -> World:
    """One event with ``attendees`` verified attendees and ``scans`` scans
    among them (each scan with both sides' contact entries, as ``record_scan``
    leaves them), inserted in bulk. Commits."""
    import random

    from webapp.models import Attendance, Contact, Scan, User
    from webapp.services import badges, events

    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    ends = now - timedelta(hours=ended_hours_ago)
    starts = ends - timedelta(hours=4)
    tag = secrets.token_hex(3)
    organizer = User(email=f"organizer-{tag}@bench.example", name="Bench Organizer", role="organizer",
                     email_verified=True)
    session.add(organizer)
    session.flush()
    event = events.create_event(organizer, f"Bench Summit {tag}", starts, ends, "Europe/Lisbon")
    session.execute(insert(User), [
        {"email": f"p{n}-{tag}@bench.example", "name": f"Person {n:05d}", "headline": f"Role {n % 97}",
         "company": f"Company {n % 211}", "email_verified": True, "role": "attendee", "timezone": "Europe/Lisbon",
         "created_at": starts - timedelta(days=30)}
        for n in range(attendees)
    ])
    user_ids = list(session.scalars(text("SELECT id FROM \"user\" WHERE email LIKE :p ORDER BY id"),
                                    {"p": f"p%-{tag}@bench.example"}))
    tokens = [secrets.token_urlsafe(badges.TOKEN_BYTES) for _ in user_ids]
    codes = set()
    rows = []
    for user_id, token in zip(user_ids, tokens, strict=True):
        code = secrets.token_hex(3).upper()
        while code in codes:
            code = secrets.token_hex(3).upper()
        codes.add(code)
        rows.append({"event_id": event.id, "user_id": user_id, "badge_token": token, "badge_code": code,
                     "registered_via": "import", "registered_at": starts - timedelta(days=7),
                     "checked_in_at": starts + timedelta(minutes=rng.randint(0, 90)) if rng.random() < 0.85 else None})
    for chunk in _chunks(rows):
        session.execute(insert(Attendance), chunk)
    scan_rows, contact_rows, pairs = [], {}, set()
    minutes = (ends - starts).total_seconds() / 60
    for n in range(scans):
        a, b = rng.sample(range(len(user_ids)), 2)
        when = starts + timedelta(minutes=rng.uniform(1, minutes - 1))
        scanner, scanned = user_ids[a], user_ids[b]
        scan_rows.append({"event_id": event.id, "scanner_id": scanner, "scanned_id": scanned, "client_id": f"b{n}",
                          "badge": tokens[b], "note": "", "scanned_at": when, "created_at": when})
        if contacts:
            for owner, other, scanned_me in ((scanner, scanned, False), (scanned, scanner, True)):
                key = (owner, other)
                if key not in contact_rows:
                    contact_rows[key] = {"owner_id": owner, "user_id": other, "source": "scan", "event_id": event.id,
                                         "met_at": when, "last_touched_at": when, "scanned_me": scanned_me,
                                         "state": "new", "created_at": when, "updated_at": when}
        pairs.add(frozenset((scanner, scanned)))
    for chunk in _chunks(scan_rows):
        session.execute(insert(Scan), chunk)
    for chunk in _chunks(list(contact_rows.values())):
        session.execute(insert(Contact), chunk)
    session.commit()
    return World(organizer.id, event.id, user_ids, tokens, scans)
