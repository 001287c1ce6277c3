"""A delivery worker killed mid-run loses nothing.

A real ``flask send-due --one-process`` delivers a full outbox to a real,
slightly slow SMTP server and is SIGKILLed part-way through. Each message's
outcome was committed before the next was sent, so at most the one message in
flight arrived without its outcome recorded. A second worker, started once the
dead one's lease has run out, takes over its claims and the rest: every
message arrives, every row ends ``sent``, and the in-flight message is the
only one that can arrive twice. Runs on the suite's kind of database (a fresh
one on the ``TEST_DATABASE_URL`` server, or a new SQLite file).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from tests.conftest import TEST_DATABASE_URL, SmtpSink, free_port
from webapp import create_app
from webapp.config import PROJECT_ROOT, normalise_database_url
from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.services import mail

MESSAGES = 1000
BATCH = 100
KILL_AT = 150  # messages arrived: half-way through the second batch, far from a claim boundary
LEASE_SECONDS = 1
BASE_URL = "http://meetloop.test"


@pytest.fixture
def database_url(request, tmp_path) -> str:
    if TEST_DATABASE_URL:
        return normalise_database_url(request.getfixturevalue("fresh_postgres_database"))
    return f"sqlite:///{tmp_path / 'worker.db'}"


@pytest.fixture
def site(database_url):
    """An in-process app on that database, migrated, to fill the outbox and read the outcome."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "fault-worker-test",
                      "RATELIMIT_ENABLED": False, "MAIL_TRANSPORT": "memory", "BASE_URL": BASE_URL})
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def sink():
    server = SmtpSink(free_port()).start()
    server.delay = 0.005  # a little slow, so the kill lands mid-run
    yield server
    server.stop()


def queue_outbox(app) -> list[int]:
    with app.app_context():
        mail.queue_many([
            {"dedupe_key": f"fault:{n}", "kind": "fault", "recipient": f"guest{n}@example.com",
             "subject": f"Message {n}", "text_body": f"Hello {n}\n", "html_body": f"<p>Hello {n}</p>"}
            for n in range(MESSAGES)
        ])
        db.session.commit()
        return list(db.session.scalars(select(OutboxMessage.id)))


def states(app) -> dict[str, int]:
    with app.app_context():
        counts = dict(db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
                      .all())
        db.session.rollback()
        return counts


def worker_environment(app, sink: SmtpSink, instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "FLASK_APP")}
    env.update(DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], MAIL_SERVER=sink.host,
               MAIL_PORT=str(sink.port), SECRET_KEY="fault-worker-test", MEETLOOP_INSTANCE=str(instance),
               BASE_URL=BASE_URL, OUTBOX_BATCH_SIZE=str(BATCH), **extra)
    return env


SEND_DUE = [sys.executable, "-m", "flask", "--app", "wsgi", "send-due", "--one-process"]


def test_a_worker_killed_mid_run_loses_nothing_and_sends_at_most_one_message_twice(site, sink, tmp_path):
    ids = queue_outbox(site)
    assert len(ids) == MESSAGES

    log_path = tmp_path / "killed-worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(SEND_DUE, cwd=PROJECT_ROOT, env=worker_environment(site, sink, tmp_path / "one"),
                                  stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 90
            while len(sink) < KILL_AT and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            still_running = worker.poll() is None
            os.kill(worker.pid, signal.SIGKILL)
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=30)
    assert still_running, f"the worker was not running when it was to be killed:\n{log_path.read_text()}"
    assert worker.returncode == -signal.SIGKILL
    time.sleep(0.3)  # the sink finishes whatever it was receiving when the connection died

    arrived_at_kill = len(sink)
    at_kill = states(site)
    print(f"killed after {arrived_at_kill} of {MESSAGES} arrived; outbox then: {at_kill}")
    assert KILL_AT <= arrived_at_kill < MESSAGES
    assert at_kill.get("sending", 0) > 0, "the kill left no claim behind: the lease was not exercised"
    # Each outcome is committed before the next message goes: at most the one in flight is unrecorded.
    unrecorded = arrived_at_kill - at_kill.get("sent", 0)
    assert unrecorded in (0, 1), at_kill

    time.sleep(LEASE_SECONDS + 0.5)  # the dead worker's lease runs out
    second = subprocess.run(SEND_DUE, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False,
                            env=worker_environment(site, sink, tmp_path / "two",
                                                   OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS)))
    assert second.returncode == 0, second.stderr

    arrivals = Counter(sink.message_ids())
    duplicates = sum(n - 1 for n in arrivals.values())
    print(f"duplicates after the kill: {duplicates}")
    assert set(arrivals) == {f"<outbox-{i}@meetloop.test>" for i in ids}  # every message arrived
    assert states(site) == {"sent": MESSAGES}  # none lost, none left claimed
    assert duplicates <= 1
    assert duplicates == unrecorded  # only the message in flight at the kill went twice
