"""Several workers draining one outbox: every row is delivered exactly once.

Claims are atomic (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: ``FOR UPDATE SKIP
LOCKED``), so workers in threads of one process and in separate processes
never send the same row twice.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, insert, select

from webapp.config import PROJECT_ROOT
from webapp.extensions import db
from webapp.models import OutboxMessage, utcnow
from webapp.services import outbox as delivery

ROWS = 320
BATCH = 10  # small batches, so the workers' claims interleave many times


def fill_outbox(app, n: int, **values) -> list[int]:
    now = utcnow()
    with app.app_context():
        start = db.session.scalar(select(func.count()).select_from(OutboxMessage))
        db.session.execute(insert(OutboxMessage), [
            {"dedupe_key": f"race:{start + i}", "kind": "race", "recipient": f"guest{start + i}@example.com",
             "subject": f"Message {start + i}", "text_body": "Hello\n", "html_body": "<p>Hello</p>",
             "extra_headers": "", "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
             **values}
            for i in range(n)
        ])
        db.session.commit()
        return list(db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(n)))


def message_id(row_id: int) -> str:
    return f"<outbox-{row_id}@meetloop.test>"


def assert_each_row_sent_exactly_once(app, smtp, ids: list[int]) -> None:
    sent = Counter(smtp.message_ids())
    assert sorted(mid for mid, n in sent.items() if n > 1) == []  # no duplicates at the sink
    assert set(sent) == {message_id(i) for i in ids}  # and none missing
    assert len(smtp) == len(ids)
    with app.app_context():
        states = db.session.execute(
            select(OutboxMessage.status, OutboxMessage.attempts, func.count())
            .group_by(OutboxMessage.status, OutboxMessage.attempts)
        ).all()
        assert [tuple(s) for s in states] == [("sent", 0, len(ids))]


class ThreadWorker(threading.Thread):
    """A worker thread with its own app context, so its own database session."""

    def __init__(self, app, start_together: threading.Barrier) -> None:
        super().__init__()
        self.app, self.start_together = app, start_together
        self.report: delivery.DeliveryReport | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.app.app_context():
                self.start_together.wait(timeout=30)
                self.report = delivery.deliver_due()
        except BaseException as exc:
            self.error = exc


def run_threads(app, count: int) -> list[delivery.DeliveryReport]:
    barrier = threading.Barrier(count)
    workers = [ThreadWorker(app, barrier) for _ in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.error for w in workers] == [None] * count
    return [w.report for w in workers]


def test_two_worker_threads_deliver_every_row_exactly_once(app, smtp):
    app.config["OUTBOX_BATCH_SIZE"] = BATCH
    smtp.delay = 0.001
    ids = fill_outbox(app, ROWS)

    reports = run_threads(app, 2)

    assert_each_row_sent_exactly_once(app, smtp, ids)
    assert sum(r.sent for r in reports) == ROWS
    assert all(r.sent > 0 for r in reports), f"the threads did not race: {reports}"
    assert all(r.retrying == r.failed == 0 for r in reports)


def start_send_due(app, smtp) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "MAIL_SERVER": smtp.host,
        "MAIL_PORT": str(smtp.port),
        "BASE_URL": app.config["BASE_URL"],
        "OUTBOX_BATCH_SIZE": str(BATCH),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "send-due"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_two_processes_and_two_threads_deliver_every_row_exactly_once(app, smtp):
    app.config["OUTBOX_BATCH_SIZE"] = BATCH
    smtp.delay = 0.002  # keeps the outbox from draining before the last worker joins in
    ids = fill_outbox(app, ROWS)

    processes = [start_send_due(app, smtp) for _ in range(2)]
    try:
        # The processes take a moment to boot; start the threads once one is sending.
        started = smtp.first_message.wait(timeout=30)
        reports = run_threads(app, 2)
        outputs = [p.communicate(timeout=60) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert started, f"no worker process sent anything: {[p.returncode for p in processes]}"

    assert [p.returncode for p in processes] == [0, 0], outputs
    process_sent = [int(re.search(r"\bsent=(\d+)", out).group(1)) for out, _ in outputs]
    thread_sent = [r.sent for r in reports]
    assert_each_row_sent_exactly_once(app, smtp, ids)
    assert sum(process_sent) + sum(thread_sent) == ROWS
    assert sum(process_sent) > 0 and all(n > 0 for n in thread_sent), (process_sent, thread_sent)


def test_a_row_left_sending_by_a_dead_worker_is_reclaimed_after_its_lease(app, smtp):
    lease = timedelta(seconds=app.config["OUTBOX_LEASE_SECONDS"])
    stale_claim = utcnow() - lease - timedelta(minutes=1)
    (stale,) = fill_outbox(app, 1, status="sending", claimed_by="dead:1", claimed_at=stale_claim)
    (live,) = fill_outbox(app, 1, status="sending", claimed_by="busy:2", claimed_at=utcnow())
    (pending,) = fill_outbox(app, 1)

    with app.app_context():
        report = delivery.deliver_due()
        states = dict(db.session.execute(select(OutboxMessage.id, OutboxMessage.status)).all())
        live_row = db.session.get(OutboxMessage, live)

    assert report.sent == 2
    assert states == {stale: "sent", live: "sending", pending: "sent"}
    assert live_row.claimed_by == "busy:2"  # still that worker's, within its lease
    assert sorted(smtp.message_ids()) == sorted([message_id(stale), message_id(pending)])


def test_a_claimed_row_is_not_claimed_again_by_another_worker(app):
    ids = fill_outbox(app, 5)
    with app.app_context():
        first = delivery.claim_batch(3, "worker-a")
        second = delivery.claim_batch(10, "worker-b")
        third = delivery.claim_batch(10, "worker-c")

    assert len(first) == 3
    assert sorted(first + second) == sorted(ids)
    assert set(first).isdisjoint(second)
    assert third == []
