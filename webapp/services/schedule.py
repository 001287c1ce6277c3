"""Everything that runs on a clock, in one entry point.

``run_due`` is what the worker runs every minute and what ``flask send-due``
runs once: time-driven work first (each step queues outbox rows and commits),
then delivery of the whole outbox. Recaps are committed a batch at a time and
other consumers of the worker (or ``send-due``'s second process) deliver
them meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from webapp.extensions import db
from webapp.models import utcnow
from webapp.services import contact_import, digest, nudges, outbox, recaps, tokens, unsubscribe


def run_due(now: datetime | None = None, *, wake_delivery: Callable[[], None] = lambda: None) -> dict[str, int]:
    """Run every due job once (as of ``now``) and deliver the outbox; return counts by name.
    ``wake_delivery`` is called after each commit of a batch of recaps (the
    worker queues a delivery task there, for its other consumers)."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    counts["expired_links_forgotten"] = tokens.purge_expired()
    counts["stale_uploads_deleted"] = contact_import.purge(now)
    db.session.commit()
    if current_app.config["UNSUBSCRIBE_MAILDIR"]:
        counts["unsubscribed_by_mail"] = unsubscribe.read_mailbox(current_app.config["UNSUBSCRIBE_MAILDIR"])
    # Recorded and committed before delivery: compose → record → commit → deliver.
    counts["recaps_queued"] = recaps.run_due(now, after_commit=wake_delivery)
    db.session.commit()
    counts["nudges_queued"] = nudges.queue_due(now)
    db.session.commit()
    counts["digests_queued"] = digest.queue_due(now)
    db.session.commit()
    report = outbox.deliver_due()
    counts.update(sent=report.sent, retrying=report.retrying, failed=report.failed)
    return counts
