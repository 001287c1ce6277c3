"""The scale-out setup works as documented: two Huey consumers on Redis (one
running periodic tasks, one started with ``--no-periodic``), sharing one
PostgreSQL database, deliver a full outbox to a real SMTP server with every
message arriving exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select

from tests.conftest import SmtpSink, empty_redis, free_port
from webapp.config import normalise_database_url
from webapp.models import OutboxMessage

ROOT = Path(__file__).resolve().parent.parent
CONSUMER = Path(sys.executable).parent / "huey_consumer"
REDIS_URL = os.environ.get("TEST_SCALE_REDIS_URL", "redis://127.0.0.1:6379/14")
MESSAGES = 500


@pytest.fixture
def redis_url():
    yield from empty_redis(REDIS_URL, "TEST_SCALE_REDIS_URL")


def environment(database_url: str, redis_url: str, sink: SmtpSink, instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "FLASK_APP")}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, MAIL_SERVER=sink.host, MAIL_PORT=str(sink.port),
               MEETLOOP_INSTANCE=str(instance), SECRET_KEY="scale-out-test-secret", BASE_URL="http://meetloop.test",
               OUTBOX_BATCH_SIZE="10")
    return env


def fill_outbox(database_url: str) -> None:
    engine = create_engine(normalise_database_url(database_url))
    now = datetime.now(UTC)
    try:
        with engine.begin() as connection:
            connection.execute(insert(OutboxMessage), [
                {"dedupe_key": f"scale:{n}", "kind": "scale", "recipient": f"guest{n}@example.com",
                 "subject": f"Message {n}", "text_body": "Hello\n", "html_body": "<p>Hello</p>", "extra_headers": "",
                 "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
                for n in range(MESSAGES)
            ])
    finally:
        engine.dispose()


def outbox_states(database_url: str) -> dict[str, int]:
    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
            return dict(rows.all())
    finally:
        engine.dispose()


def test_two_consumers_on_redis_deliver_every_message_exactly_once(fresh_postgres_database, redis_url, tmp_path):
    sink = SmtpSink(free_port()).start()
    sink.delay = 0.002  # long enough for both consumers to be sending at once
    env = environment(fresh_postgres_database, redis_url, sink, tmp_path)
    migrated = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
    assert migrated.returncode == 0, migrated.stderr
    fill_outbox(fresh_postgres_database)

    consumers = [
        subprocess.Popen([str(CONSUMER), "webapp.jobs.huey", "-k", "thread", "-w", "2", *flags], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for flags in ((), ("--no-periodic",))
    ]
    try:
        # What a web process does after a commit that queued mail: enqueue delivery tasks.
        enqueued = subprocess.run(
            [sys.executable, "-c", "from webapp.jobs import deliver_outbox\nfor _ in range(6): deliver_outbox()"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert enqueued.returncode == 0, enqueued.stderr
        deadline = time.monotonic() + 120
        while len(sink) < MESSAGES and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # anything sent twice would arrive now
    finally:
        for consumer in consumers:
            consumer.terminate()
        errors = [consumer.communicate(timeout=30)[1] for consumer in consumers]
        sink.stop()

    ids = Counter(sink.message_ids())
    assert len(ids) == MESSAGES, f"{len(ids)} of {MESSAGES} arrived; consumer logs: {errors}"
    assert [mid for mid, n in ids.items() if n > 1] == []
    assert len(sink) == MESSAGES
    assert outbox_states(fresh_postgres_database) == {"sent": MESSAGES}
    # Both consumers took part (their logs name the tasks they executed).
    assert all("deliver_outbox" in log for log in errors), errors
