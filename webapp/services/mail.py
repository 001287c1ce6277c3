"""Compose and record emails: the first half of compose → record → commit → deliver.

Nothing here talks to a mail server. :func:`queue` renders a template pair into
an outbox row in the caller's transaction; the worker delivers it after the
commit (see :mod:`webapp.services.outbox`).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import OutboxMessage, OutboxStatus, SuppressedAddress, User
from webapp.services import sql

#: Set on the session when a row is queued; the app kicks the worker after commit.
PENDING_FLAG = "meetloop.outbox_pending"
SUPPRESSED_ERROR = "Address suppressed after a permanent delivery failure."


def external_url(endpoint: str, **values: Any) -> str:
    """``BASE_URL`` + the endpoint's path: links never use the request's host.

    Works without a request (worker, CLI), unlike ``url_for(_external=True)``.
    """
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["BASE_URL"] + path


# The outbox's subject column.
MAX_SUBJECT = 255


def render(template: str, **context: Any) -> tuple[str, str, str]:
    """Render ``email/<template>.txt`` and ``.html`` into (subject, text, html).

    The text template's first line is ``Subject: ...``, then a blank line, then
    the body, so subject and body are written side by side.
    """
    context.setdefault("base_url", current_app.config["BASE_URL"])
    text = render_template(f"email/{template}.txt", **context)
    head, _, body = text.lstrip().partition("\n")
    if not head.startswith("Subject:"):
        raise ValueError(f"email/{template}.txt must start with a 'Subject:' line")
    html = render_template(f"email/{template}.html", **context)
    return subject_line(head.removeprefix("Subject:")), body.strip() + "\n", html


def subject_line(text: str) -> str:
    """``text`` as a Subject: one line (any line break or control character in
    a name stored before they were refused becomes a space) that fits the
    outbox's column, cut with an ellipsis."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= MAX_SUBJECT else flat[:MAX_SUBJECT - 1].rstrip() + "…"


def queue(
    *,
    template: str,
    to: str,
    dedupe_key: str,
    user: User | None = None,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> OutboxMessage:
    """Record one email in the outbox, at most once per ``dedupe_key``.

    Returns the existing row when the key was used before (nothing is queued
    twice). A suppressed address gets a row marked failed, so the mail log
    shows why nothing went out.
    """
    existing = db.session.scalar(select(OutboxMessage).filter_by(dedupe_key=dedupe_key))
    if existing is not None:
        return existing
    subject, text, html = render(template, user=user, **context)
    message = OutboxMessage(
        dedupe_key=dedupe_key,
        kind=kind or template,
        user_id=user.id if user else None,
        recipient=to,
        subject=subject,
        text_body=text,
        html_body=html,
        extra_headers="".join(f"{k}: {v}\n" for k, v in (headers or {}).items()),
        status=OutboxStatus.PENDING.value,
    )
    if db.session.get(SuppressedAddress, to.lower()) is not None:
        message.status = OutboxStatus.FAILED.value
        message.last_error = SUPPRESSED_ERROR
    try:
        with db.session.begin_nested():
            db.session.add(message)
    except IntegrityError:
        # Another transaction queued the same key between our check and insert.
        return db.session.scalars(select(OutboxMessage).filter_by(dedupe_key=dedupe_key)).one()
    db.session.info[PENDING_FLAG] = True
    return message


def queue_many(messages: list[dict[str, Any]]) -> set[str]:
    """Record many rendered emails in one multi-row insert, with :func:`queue`'s
    promises: at most one row per ``dedupe_key`` (existing keys are skipped),
    suppressed addresses recorded as failed, and the worker woken after commit.

    Each message has ``dedupe_key``, ``kind``, ``recipient``, ``subject``,
    ``text_body``, ``html_body`` and optionally ``user_id`` and ``headers``.
    Returns the keys recorded by this call (not those another transaction had).
    """
    if not messages:
        return set()
    suppressed = set(db.session.scalars(select(SuppressedAddress.email).where(
        SuppressedAddress.email.in_({m["recipient"].lower() for m in messages}))))
    rows = []
    for message in messages:
        headers = message.get("headers") or {}
        failed = message["recipient"].lower() in suppressed
        rows.append({
            "dedupe_key": message["dedupe_key"], "kind": message["kind"], "user_id": message.get("user_id"),
            "recipient": message["recipient"], "subject": message["subject"],
            "text_body": message["text_body"], "html_body": message["html_body"],
            "extra_headers": "".join(f"{k}: {v}\n" for k, v in headers.items()),
            "status": OutboxStatus.FAILED.value if failed else OutboxStatus.PENDING.value,
            "last_error": SUPPRESSED_ERROR if failed else None,
        })
    statement = sql.insert_ignoring_conflicts(OutboxMessage, ["dedupe_key"]).returning(OutboxMessage.dedupe_key)
    recorded = set(db.session.scalars(statement, rows))
    db.session.info[PENDING_FLAG] = True
    return recorded


def log_query(status: str | None = None, search: str | None = None) -> Select[tuple[OutboxMessage]]:
    """The mail log, newest first, optionally by status and recipient/subject text."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status in {s.value for s in OutboxStatus}:
        query = query.where(OutboxMessage.status == status)
    if search and search.strip():
        # autoescape: "%" and "_" typed in the search box are matched literally.
        term = search.strip().lower()
        query = query.where(
            or_(
                func.lower(OutboxMessage.recipient).contains(term, autoescape=True),
                func.lower(OutboxMessage.subject).contains(term, autoescape=True),
            )
        )
    return query


def status_counts() -> dict[str, int]:
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    counts = {s.value: 0 for s in OutboxStatus}
    counts.update({status: n for status, n in rows})
    return counts
