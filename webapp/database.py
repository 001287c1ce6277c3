"""Engine tuning and the after-commit hook that wakes the mail worker.

SQLite under threaded gunicorn needs WAL (readers don't block the writer), a
busy timeout (writers wait instead of failing) and ``BEGIN IMMEDIATE`` (a
transaction that reads and then writes can't lose the race for the write lock
half-way through, which ``busy_timeout`` cannot recover from). GET and HEAD
requests never write (no state change on GET), so they begin a plain deferred
transaction and read concurrently instead of queueing for the write lock; so
does any code inside :func:`reading` (e.g. a worker rendering a batch of
emails before the short transaction that records them), and a
:func:`reads_first` view until it calls :func:`begin_writing` (a scan).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from contextvars import ContextVar

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.services.mail import PENDING_FLAG

#: Set on a session whose commit included new outbox rows.
COMMITTED_FLAG = "meetloop.outbox_committed"


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Let SQLAlchemy's "begin" event decide how transactions start.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_reading: ContextVar[bool] = ContextVar("meetloop_reading", default=False)


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """A transaction that only reads: on SQLite it doesn't take the write lock,
    so writers go on meanwhile. It ends (rolled back) on the way out: don't
    write inside. Commit (or roll back) what was open before entering."""
    if db.session().in_transaction():
        raise RuntimeError("reading() starts its own transaction: end the open one first")
    token = _reading.set(True)
    try:
        yield
    finally:
        db.session.rollback()
        _reading.reset(token)


_WRITING = "meetloop_writing"  # on flask.g: a reads-first view has started writing
_DEFERRED = "meetloop_deferred"  # on the connection: its transaction began without the write lock


def reads_first(view):
    """Mark a view whose request reads (who is asking, what they asked about)
    before it writes: on SQLite its transaction starts without the write lock,
    and :func:`begin_writing` takes it just before the first write, so
    concurrent writers don't queue behind the reads."""
    view.reads_first = True
    return view


def begin_writing() -> None:
    """Where a :func:`reads_first` view's reads end: end the reading
    transaction (keeping what it loaded, nothing expired) so the writes that
    follow take SQLite's write lock only now. Its facts may be a moment old by
    then, so the writes must not depend on them staying true (insert ignoring
    conflicts, as scans do). Anywhere else, and on PostgreSQL, nothing happens."""
    if not has_request_context():
        return
    g.setdefault(_WRITING, True)
    session = db.session()
    if not session.in_transaction() or not session.connection().info.get(_DEFERRED):
        return
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("begin_writing() after a write: the reads came too late")
    keep, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def _takes_write_lock() -> bool:
    if _reading.get():
        return False
    if not has_request_context() or g.get(_WRITING):
        return True
    if request.method in ("GET", "HEAD"):
        return False
    return not getattr(current_app.view_functions.get(request.endpoint), "reads_first", False)


def _sqlite_begin(connection) -> None:
    locking = _takes_write_lock()
    connection.info[_DEFERRED] = not locking
    connection.exec_driver_sql("BEGIN IMMEDIATE" if locking else "BEGIN")


def tune_engine(engine: Engine) -> None:
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_connect):
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)


def _after_commit(session: Session) -> None:
    if session.info.pop(PENDING_FLAG, False):
        session.info[COMMITTED_FLAG] = True


def _after_rollback(session: Session, _previous: object) -> None:
    # A rolled-back transaction queued nothing. (A savepoint rollback also
    # lands here; the flag then errs on the side of one extra, harmless wake-up.)
    if not session.in_transaction():
        session.info.pop(PENDING_FLAG, None)


def take_committed_mail_flag() -> bool:
    """True once after a commit that queued mail (then reset)."""
    return bool(db.session.info.pop(COMMITTED_FLAG, False))


def register(app: Flask) -> None:
    with app.app_context():
        for engine in db.engines.values():
            tune_engine(engine)
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)
