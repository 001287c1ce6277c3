"""Everything that runs on a clock, in one entry point.

``run_due`` is what the worker runs every minute and what ``flask send-due``
runs once: time-driven work first (each step queues outbox rows and commits),
then delivery of the whole outbox.
"""

from __future__ import annotations

from webapp.extensions import db
from webapp.models import utcnow
from webapp.services import outbox, recaps, tokens


def run_due() -> dict[str, int]:
    """Run every due job once and deliver the outbox; return counts by name."""
    counts: dict[str, int] = {}
    counts["expired_links_forgotten"] = tokens.purge_expired()
    db.session.commit()
    # Recorded and committed before delivery: compose → record → commit → deliver.
    counts["recaps_queued"] = recaps.run_due(utcnow())
    db.session.commit()
    report = outbox.deliver_due()
    counts.update(sent=report.sent, retrying=report.retrying, failed=report.failed)
    return counts
