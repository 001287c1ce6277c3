"""Deliver the outbox: the second half of compose → record → commit → deliver.

Unlike other services this module owns its transactions, because delivery is
a loop of independent steps that must each survive a crash: a claim is one
commit, and each message's outcome is one commit. A worker killed mid-batch
therefore leaves at most the one message it was sending in ``sending``; its
lease expires and it is retried (the only case where a duplicate can happen).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import queue
import smtplib
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import Connection, and_, bindparam, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from webapp.email import Outgoing, render_message, transport_for
from webapp.extensions import db
from webapp.models import OutboxMessage, OutboxStatus, SuppressedAddress, utcnow
from webapp.services import sql

log = logging.getLogger(__name__)

PENDING = OutboxStatus.PENDING.value
SENDING = OutboxStatus.SENDING.value
SENT = OutboxStatus.SENT.value
FAILED = OutboxStatus.FAILED.value


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def __iadd__(self, other: DeliveryReport) -> DeliveryReport:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        return self


class PermanentFailure(Exception):
    def __init__(self, message: str, *, suppress: bool) -> None:
        super().__init__(message)
        self.suppress = suppress


def backoff(attempts: int) -> timedelta:
    """Wait after the n-th failed attempt: 1, 2, 4 … minutes, capped at one hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def claim_batch(limit: int, worker: str) -> list[int]:
    """Atomically mark up to ``limit`` due rows as ours and commit; return their ids.

    Due means pending and past ``next_attempt_at``, or claimed by a worker whose
    lease ran out (it died). PostgreSQL skips rows another worker is claiming;
    SQLite serialises the claim with ``BEGIN IMMEDIATE``.
    """
    now = utcnow()
    lease_expired = now - timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    due = (
        select(OutboxMessage.id)
        .where(
            or_(
                and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now),
                and_(OutboxMessage.status == SENDING, OutboxMessage.claimed_at < lease_expired),
            )
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(
        db.session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(status=SENDING, claimed_at=now, claimed_by=worker)
            .returning(OutboxMessage.id)
        )
    )
    db.session.commit()
    return sorted(ids)


def _classify(error: Exception) -> Exception:
    """Turn a refusal of *this message* into PermanentFailure; leave the rest transient.

    Only the recipient (5xx to RCPT) and the content (5xx after DATA) are about
    the message. A refused sender, HELO or login is our configuration or the
    server's state: retrying (with backoff, up to the attempt limit) lets the
    mail go out once that is fixed.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            replies = "; ".join(f"{code} {_text(reply)}" for code, reply in error.recipients.values())
            return PermanentFailure(f"Recipient refused: {replies}", suppress=True)
    elif isinstance(error, smtplib.SMTPDataError) and error.smtp_code >= 500:
        return PermanentFailure(f"Message refused: {error.smtp_code} {_text(error.smtp_error)}", suppress=False)
    return error


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _connection_lost(error: Exception) -> bool:
    """Is the connection unusable after ``error``? 421 means the server is
    closing it (smtplib then closes its side); any other SMTP reply leaves it
    usable. (SMTPException subclasses OSError: the order of the tests matters.)"""
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return any(code == 421 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code == 421
    return isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)


# The common outcome, compiled once: delivery writes one per message.
_MARK_SENT = (
    update(OutboxMessage).where(OutboxMessage.id == bindparam("row_id"))
    .values(status=SENT, sent_at=bindparam("now"), last_error=None, claimed_at=None, claimed_by=None)
)


def _record_outcome(conn: Connection, row: OutboxMessage, error: Exception | None, report: DeliveryReport) -> None:
    """Write ``row``'s outcome on ``conn`` (the caller commits). ``row`` is a
    detached snapshot taken when it was claimed: nothing is reloaded."""
    now = utcnow()
    if error is None:
        row.status = SENT
        conn.execute(_MARK_SENT, {"row_id": row.id, "now": now})
        report.sent += 1
        return
    row.attempts += 1
    values = {"attempts": row.attempts, "last_error": f"{type(error).__name__}: {error}"[:2000],
              "claimed_at": None, "claimed_by": None}
    if isinstance(error, PermanentFailure) or row.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        values["status"] = FAILED
        report.failed += 1
        if isinstance(error, PermanentFailure) and error.suppress:
            conn.execute(sql.insert_ignoring_conflicts(SuppressedAddress, ["email"])
                         .values(email=row.recipient.lower(), reason=values["last_error"], created_at=now))
    else:
        values.update(status=PENDING, next_attempt_at=now + backoff(row.attempts))
        report.retrying += 1
    row.status = values["status"]
    conn.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values))


def deliver_batch(ids: list[int]) -> DeliveryReport:
    """Send claimed rows over one connection; commit each outcome on its own.

    The messages are built first and that read transaction ends before the
    mail server is contacted: no database transaction (on SQLite, the write
    lock) stays open while waiting on the network. Each outcome is committed
    before the next message is sent, so a worker killed at any point has at
    most the one message in flight left to resend. Outcomes go through one
    database connection kept for the batch (no pool checkout per message).
    """
    report = DeliveryReport()
    if not ids:
        return report
    app = current_app._get_current_object()
    sender, base_url = app.config["MAIL_DEFAULT_SENDER"], app.config["BASE_URL"]
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)).all()
    for row in rows:
        db.session.expunge(row)  # snapshots: nothing is expired or reloaded as outcomes commit
    db.session.commit()
    with db.engine.connect() as conn, _relaxed_commits(conn):
        ready: list[tuple[OutboxMessage, Outgoing]] = []
        for row in rows:
            try:
                ready.append((row, render_message(row, sender, base_url)))
            except Exception as exc:
                # It would fail the same way on every retry; left in `sending`
                # it would also hold up the rows claimed with it.
                log.exception("cannot build outbox message %s", row.id)
                _record_outcome(conn, row, PermanentFailure(f"Cannot build the message: {exc}", suppress=False),
                                report)
        conn.commit()
        _send(app, conn, rows, ready, report)
    return report


@contextlib.contextmanager
def _relaxed_commits(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, outcome commits don't wait for the WAL to reach the disk.

    A worker killed at any point loses nothing by this (the server has the
    commit); only a crash of the database server itself can forget the last
    fraction of a second of outcomes, whose messages are then sent again. That
    trade buys a commit per message at memory speed; SQLite's WAL with
    ``synchronous=NORMAL`` makes the same one already."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.exec_driver_sql("SET synchronous_commit TO OFF")
    conn.commit()
    try:
        yield
    finally:
        try:
            conn.rollback()
            conn.exec_driver_sql("RESET synchronous_commit")  # the connection goes back to the pool
            conn.commit()
        except SQLAlchemyError:
            conn.invalidate()  # never back to the pool with the setting on


def _send(app, conn: Connection, rows: list[OutboxMessage], ready: list[tuple[OutboxMessage, Outgoing]],
          report: DeliveryReport) -> None:
    try:
        with transport_for(app.config, app.extensions).open() as connection:
            for row, message in ready:
                error: Exception | None = None
                try:
                    connection.send(message)
                except (smtplib.SMTPException, OSError) as exc:
                    error = _classify(exc)
                    if _connection_lost(exc):
                        # The connection is gone: give the rest back and stop.
                        _record_outcome(conn, row, error, report)
                        _release(conn, [r for r in rows if r.status == SENDING])
                        conn.commit()
                        return
                _record_outcome(conn, row, error, report)
                conn.commit()
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        # Could not connect (or log in): every row still claimed waits and retries.
        log.warning("mail transport unavailable: %s", type(exc).__name__)
        for row in rows:
            if row.status == SENDING:
                _record_outcome(conn, row, exc, report)
        conn.commit()


def _release(conn: Connection, rows: list[OutboxMessage]) -> None:
    if rows:
        conn.execute(update(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in rows]))
                     .values(status=PENDING, claimed_at=None, claimed_by=None))


def deliver_due(max_batches: int | None = None) -> DeliveryReport:
    """Claim and send due messages until none are left (or ``max_batches``)."""
    worker = f"{socket.gethostname()[:48]}:{uuid.uuid4().hex[:8]}"  # fits claimed_by (64)
    total = DeliveryReport()
    batches = 0
    while max_batches is None or batches < max_batches:
        ids = claim_batch(current_app.config["OUTBOX_BATCH_SIZE"], worker)
        if not ids:
            break
        total += deliver_batch(ids)
        batches += 1
        if total.retrying and not total.sent:
            break  # the server is refusing everything: let backoff do its work
    return total


# --- Delivering alongside composition, in a second process -------------------------------------------


def _deliver_until_stopped(config: dict, ready, stop, results) -> None:
    """A spawned process's main: deliver whatever is due, again and again,
    until told to stop and nothing is left; put the report on ``results``."""
    from webapp import create_app

    app = create_app(config)
    gc.freeze()  # as send-due does: the app's objects stay, out of the collector's way
    total = DeliveryReport()
    with app.app_context():
        ready.set()
        while True:
            stopping = stop.is_set()  # read first: the last rows were committed before it was set
            report = deliver_due()
            total += report
            if stopping and not report.sent:
                break
            if not report.sent:
                stop.wait(IDLE_WAIT_SECONDS)
    results.put(vars(total))


IDLE_WAIT_SECONDS = 0.05


class ParallelDelivery:
    """Deliver the outbox in a second process while this one composes mail
    (``flask send-due``): the first recaps go out seconds after the run starts
    instead of after the last one is rendered, and a second core does the
    sending. Claims keep the two apart (each message goes once); the report
    counts what the second process sent. Only for transports another process
    can reach (SMTP and files) and a database on disk or on a server."""

    def __init__(self, app) -> None:
        self.app = app
        self.report = DeliveryReport()
        self._process = None

    @staticmethod
    def possible(config) -> bool:
        return config["MAIL_TRANSPORT"] in ("smtp", "file") and ":memory:" not in config["SQLALCHEMY_DATABASE_URI"]

    def __enter__(self) -> ParallelDelivery:
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited connections
        ready, self._stop, self._results = context.Event(), context.Event(), context.Queue()
        self._process = context.Process(target=_deliver_until_stopped, name="meetloop-delivery", daemon=True,
                                        args=(dict(self.app.config), ready, self._stop, self._results))
        self._process.start()
        # Under a second to start; composing meanwhile would only race it for the core.
        while not ready.wait(0.1) and self._process.is_alive():
            pass
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        while True:
            try:
                self.report += DeliveryReport(**self._results.get(timeout=0.5))
                break
            except queue.Empty:
                if not self._process.is_alive():  # it died: its claims are retried when their lease runs out
                    log.warning("the delivery process ended without a report (exit code %s)",
                                self._process.exitcode)
                    break
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
