"""Is everything running? The load balancer's check and the admin health page.

:func:`database_reachable` is all ``/healthz`` asks (one ``SELECT 1``: cheap,
and it answers the one question a load balancer has). :func:`check` gathers
what a site admin needs to see that the parts around the web process work:
the database and its migration, Redis when it is used, whether the worker
still runs its periodic task, and whether mail is stuck or failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db
from webapp.models import OutboxMessage, OutboxStatus, WorkerHeartbeat, utcnow

#: The periodic task whose heartbeat the page shows (see webapp.jobs).
WORKER_TASK = "run_due_work"
#: It runs every minute: five missed runs mean no worker runs periodic tasks.
HEARTBEAT_LATE = timedelta(minutes=5)
#: Mail waiting this long is stuck (no worker, or a mail server refusing us).
OUTBOX_LATE = timedelta(minutes=15)
FAILED_WINDOW = timedelta(hours=24)

DATABASE_KINDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
WAITING = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
REDIS_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Health:
    """What the admin health page shows. ``None`` ages mean "nothing to measure"."""

    checked_at: datetime
    database_ok: bool
    database_kind: str
    migration: str | None  # alembic_version in the database
    migration_head: str | None  # the newest migration in the code
    redis: str  # "not used", "ok" or "unreachable"
    heartbeat_at: datetime | None
    heartbeat_host: str
    oldest_waiting_at: datetime | None  # the oldest message pending or being sent
    failed_recently: int  # failed messages whose last attempt was due in FAILED_WINDOW

    @property
    def migration_current(self) -> bool:
        return self.migration is not None and self.migration == self.migration_head

    @property
    def heartbeat_age(self) -> timedelta | None:
        return None if self.heartbeat_at is None else self.checked_at - self.heartbeat_at

    @property
    def worker_late(self) -> bool:
        """No heartbeat at all, or an old one."""
        return self.heartbeat_age is None or self.heartbeat_age > HEARTBEAT_LATE

    @property
    def oldest_waiting_age(self) -> timedelta | None:
        return None if self.oldest_waiting_at is None else self.checked_at - self.oldest_waiting_at

    @property
    def outbox_late(self) -> bool:
        age = self.oldest_waiting_age
        return age is not None and age > OUTBOX_LATE

    @property
    def redis_ok(self) -> bool:
        return self.redis != "unreachable"

    @property
    def ok(self) -> bool:
        return (self.database_ok and self.migration_current and self.redis_ok and not self.worker_late
                and not self.outbox_late)


def database_reachable() -> bool:
    """One ``SELECT 1``; False (and the session rolled back) when it fails."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return False
    return True


def beat(name: str, host: str, now: datetime | None = None) -> None:
    """Record that the periodic task ``name`` is running now on ``host``
    (one upsert; the caller commits it on its own, before the task's work)."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(WorkerHeartbeat).values(name=name, beat_at=now or utcnow(), host=host[:255])
    db.session.execute(insert.on_conflict_do_update(
        index_elements=["name"], set_={"beat_at": insert.excluded.beat_at, "host": insert.excluded.host}))


def migration_head() -> str | None:
    """The newest revision in ``migrations/`` (the code this process runs)."""
    heads = ScriptDirectory(current_app.extensions["migrate"].directory).get_heads()
    return heads[0] if len(heads) == 1 else None


def redis_status(url: str | None) -> str:
    """``not used`` without ``REDIS_URL``; else ``ok`` or ``unreachable``, by whether it answers a PING."""
    if not url:
        return "not used"
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                                  socket_timeout=REDIS_TIMEOUT_SECONDS)
    try:
        return "ok" if client.ping() else "unreachable"
    except (redis.RedisError, OSError):
        return "unreachable"
    finally:
        client.close()


def check(now: datetime | None = None, *, redis_url: str | None = None) -> Health:
    """Everything the admin health page shows, measured as of ``now``."""
    now = now or utcnow()
    kind = DATABASE_KINDS.get(db.session.get_bind().dialect.name, db.session.get_bind().dialect.name)
    facts = {"migration": None, "heartbeat_at": None, "heartbeat_host": "", "oldest_waiting_at": None,
             "failed_recently": 0}
    reachable = database_reachable()
    if reachable:
        facts.update(_database_facts(now))
    return Health(checked_at=now, database_ok=reachable, database_kind=kind, migration_head=migration_head(),
                  redis=redis_status(redis_url), **facts)


def _database_facts(now: datetime) -> dict:
    """The migration, heartbeat and outbox facts. A database behind the code
    (tables missing) still gets a page that says so, rather than an error."""
    facts: dict = {}
    try:
        facts["migration"] = db.session.scalar(text("SELECT version_num FROM alembic_version"))
        heartbeat = db.session.get(WorkerHeartbeat, WORKER_TASK)
        if heartbeat is not None:
            facts.update(heartbeat_at=heartbeat.beat_at, heartbeat_host=heartbeat.host)
        facts["oldest_waiting_at"] = db.session.scalar(
            select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status.in_(WAITING)))
        facts["failed_recently"] = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            # A failed message's next_attempt_at is when its last attempt was due (claimed_at is cleared).
            OutboxMessage.status == OutboxStatus.FAILED.value, OutboxMessage.next_attempt_at >= now - FAILED_WINDOW))
    except SQLAlchemyError:
        db.session.rollback()
    return facts
