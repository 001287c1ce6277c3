"""The Huey instance and its tasks. Tasks are thin: they call services.

``SqliteHuey`` in ``instance/`` by default, ``RedisHuey`` when ``REDIS_URL`` is
set. Run a worker with ``huey_consumer webapp.jobs.huey`` (``make run`` does).
Huey's immediate mode (tests) runs tasks inline but never periodic ones: tests
call :func:`run_due_work` directly.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

from flask import Flask, current_app, has_app_context
from huey import RedisHuey, SqliteHuey, crontab

from webapp import config

log = logging.getLogger(__name__)


def _make_huey() -> SqliteHuey | RedisHuey:
    settings = config.load()
    if settings["REDIS_URL"]:
        return RedisHuey("meetloop", url=settings["REDIS_URL"])
    path = Path(settings["HUEY_SQLITE_PATH"])
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("meetloop", filename=str(path))


huey = _make_huey()
_worker_app: Flask | None = None


@contextlib.contextmanager
def app_context() -> Iterator[Flask]:
    """The current app when there is one (web, CLI, tests), else the worker's own."""
    global _worker_app
    if has_app_context():
        yield current_app._get_current_object()
        return
    if _worker_app is None:
        from webapp import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        yield _worker_app


@huey.task()
def deliver_outbox() -> dict[str, int]:
    """Send whatever is due in the outbox (queued right after a commit)."""
    from webapp.services import outbox

    with app_context():
        report = outbox.deliver_due()
        return vars(report)


def heartbeat(name: str) -> None:
    """Record that the periodic task ``name`` runs, in a short transaction of
    its own (the admin health page flags a worker whose beat is old). A
    failure is logged, never raised: the heartbeat must not stop the work."""
    from sqlalchemy.exc import SQLAlchemyError

    from webapp.extensions import db
    from webapp.services import health

    try:
        health.beat(name, socket.gethostname())
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not record the %s heartbeat", name)


@huey.periodic_task(crontab(minute="*"))
def run_due_work() -> dict[str, int]:
    """Every minute: scheduled work, then retries and anything left in the outbox."""
    from webapp.hooks import wake_mail_worker
    from webapp.services import health, schedule

    with app_context():
        heartbeat(health.WORKER_TASK)
        # After each committed batch of recaps, a delivery task: other consumers send them meanwhile.
        return schedule.run_due(wake_delivery=wake_mail_worker)


@huey.task()
def import_registrants(import_id: int) -> dict | None:
    """Run a confirmed registrant import, then hand its invitations to delivery
    (its own task, so mail flows on any consumer while this one finishes)."""
    from webapp.services import registrant_import

    with app_context():
        report = registrant_import.run_import(import_id)
    if report is not None and report["created"] + report["attached"]:
        deliver_outbox()
    return report
