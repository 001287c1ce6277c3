"""Deliver the outbox: the second half of compose → record → commit → deliver.

Unlike other services this module owns its transactions, because delivery is
a loop of independent steps that must each survive a crash: a claim is one
commit, and each message's outcome is one commit. A worker killed mid-batch
therefore leaves at most the one message it was sending in ``sending``; its
lease expires and it is retried (the only case where a duplicate can happen).
"""

from __future__ import annotations

import logging
import smtplib
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import Connection, and_, bindparam, or_, select, update

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
    with db.engine.connect() as conn:
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
