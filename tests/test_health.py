"""Health: ``/healthz`` for load balancers (one query, no details, 503 when the
database is gone) and the site admin's health page (database, migration,
Redis, the worker's heartbeat, mail waiting and failing)."""

from __future__ import annotations

import os
import re
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tests.conftest import empty_redis, free_port
from webapp import create_app
from webapp.extensions import db
from webapp.jobs import run_due_work
from webapp.models import OutboxMessage, WorkerHeartbeat, utcnow
from webapp.services import health

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/10")


def test_healthz_says_ok_to_anyone_and_nothing_more(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("kind", ("postgresql", "sqlite"))
def test_healthz_answers_503_without_details_when_the_database_cannot_be_reached(tmp_path, kind):
    # Real refusals: a port nobody listens on, a file in a folder that doesn't exist.
    port = free_port()
    url = (f"postgresql+psycopg://meetloop:secret@127.0.0.1:{port}/meetloop" if kind == "postgresql"
           else f"sqlite:///{tmp_path / 'missing-folder' / 'meetloop.db'}")
    # RATELIMIT_ENABLED off: Flask-Limiter is one object, and a second app's setting would carry into later tests.
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "health", "MAIL_TRANSPORT": "memory",
                      "RATELIMIT_ENABLED": False})
    try:
        response = app.test_client().get("/healthz")
    finally:
        with app.app_context():
            db.engine.dispose()
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}
    body = response.get_data(as_text=True)
    assert str(port) not in body and "missing-folder" not in body and "secret" not in body


# --- The worker's heartbeat -------------------------------------------------------------------


def heartbeats() -> list[tuple[str, str]]:
    return [(h.name, h.host) for h in db.session.scalars(select(WorkerHeartbeat))]


def test_each_run_of_the_periodic_task_records_one_heartbeat(ctx):
    before = utcnow()
    run_due_work.call_local()
    first = db.session.get(WorkerHeartbeat, health.WORKER_TASK).beat_at
    assert heartbeats() == [(health.WORKER_TASK, socket.gethostname())]
    assert before <= first <= utcnow()

    db.session.rollback()
    run_due_work.call_local()
    db.session.expire_all()
    assert heartbeats() == [(health.WORKER_TASK, socket.gethostname())]  # the same row, beaten again
    assert db.session.get(WorkerHeartbeat, health.WORKER_TASK).beat_at >= first


def test_the_heartbeat_is_committed_before_the_work_starts(app, ctx):
    """Its own transaction: a run whose work fails still shows the worker is alive.
    (The work fails for real: the unsubscribe mailbox setting names a file, not a Maildir.)"""
    not_a_maildir = os.path.join(app.config["INSTANCE_DIR"], "not-a-maildir")
    with open(not_a_maildir, "w") as handle:
        handle.write("x")
    app.config["UNSUBSCRIBE_MAILDIR"] = not_a_maildir
    with pytest.raises(NotADirectoryError):
        run_due_work.call_local()
    db.session.rollback()
    assert heartbeats() == [(health.WORKER_TASK, socket.gethostname())]


@pytest.mark.parametrize(("minutes_ago", "late"), ((None, True), (1, False), (4, False), (6, True), (120, True)))
def test_the_worker_is_late_after_five_minutes_without_a_heartbeat(ctx, minutes_ago, late):
    now = utcnow()
    if minutes_ago is not None:
        health.beat(health.WORKER_TASK, "worker-1", now - timedelta(minutes=minutes_ago))
        db.session.commit()
    report = health.check(now)
    assert report.worker_late is late
    assert report.heartbeat_age == (None if minutes_ago is None else timedelta(minutes=minutes_ago))


# --- Mail waiting and failing -----------------------------------------------------------------


def message(n: int, status: str, created_minutes_ago: int, *, last_due_minutes_ago: int | None = None,
            now=None) -> None:
    now = now or utcnow()
    due = now - timedelta(minutes=created_minutes_ago if last_due_minutes_ago is None else last_due_minutes_ago)
    db.session.add(OutboxMessage(
        dedupe_key=f"health:{n}", kind="test", recipient=f"r{n}@example.com", subject="s", text_body="t",
        html_body="h", status=status, created_at=now - timedelta(minutes=created_minutes_ago), next_attempt_at=due))


def test_the_oldest_message_pending_or_being_sent_is_measured_and_flagged_after_15_minutes(ctx):
    now = utcnow()
    assert health.check(now).oldest_waiting_at is None
    message(1, "sent", 300, now=now)
    message(2, "failed", 200, now=now)
    message(3, "pending", 10, now=now)
    db.session.commit()
    report = health.check(now)
    assert report.oldest_waiting_at is not None and report.oldest_waiting_at.tzinfo is not None
    assert report.oldest_waiting_age == timedelta(minutes=10)
    assert report.outbox_late is False

    message(4, "sending", 20, now=now)
    db.session.commit()
    report = health.check(now)
    assert report.oldest_waiting_age == timedelta(minutes=20)
    assert report.outbox_late is True


def test_failed_messages_are_counted_by_when_their_last_attempt_was_due_within_a_day(ctx):
    message(1, "failed", 60 * 30, last_due_minutes_ago=60 * 2)  # queued 30 h ago, last tried 2 h ago
    message(2, "failed", 60 * 30)  # last tried 30 h ago
    message(3, "failed", 5)
    message(4, "pending", 5)
    db.session.commit()
    assert health.check().failed_recently == 2


# --- The page -----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(app, client, auth):
    from tests.factories import make_user

    auth.as_user(make_user(app, "ada@example.com", role="admin", password=None))
    return client


def section(body: str, name: str) -> str:
    match = re.search(rf'<article id="{name}">(.*?)</article>', body, re.S)
    assert match, f"no {name} section"
    return match.group(1)


def test_the_page_names_the_database_its_migration_and_says_redis_is_not_used(app, admin_client):
    with app.app_context():
        kind = db.engine.dialect.name
        revision = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    body = admin_client.get("/admin/health").get_data(as_text=True)
    database = section(body, "database")
    assert {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind] in database
    assert f"<code>{revision}</code>" in database and "up to date" in database
    assert "not used" in section(body, "redis")
    assert "never seen" in section(body, "worker")
    assert "nothing waiting" in section(body, "mail")


def test_the_page_shows_the_heartbeat_and_flags_it_when_old(app, admin_client):
    with app.app_context():
        health.beat(health.WORKER_TASK, "<b>worker-7</b>", utcnow() - timedelta(minutes=2))
        db.session.commit()
    worker = section(admin_client.get("/admin/health").get_data(as_text=True), "worker")
    assert "2 minutes ago" in worker and "&lt;b&gt;worker-7&lt;/b&gt;" in worker and "running" in worker
    with app.app_context():
        health.beat(health.WORKER_TASK, "worker-7", utcnow() - timedelta(minutes=7))
        db.session.commit()
    worker = section(admin_client.get("/admin/health").get_data(as_text=True), "worker")
    assert "7 minutes ago" in worker and "late" in worker


def test_the_page_flags_stuck_mail_and_links_failures_to_the_mail_log(app, admin_client):
    with app.app_context():
        message(1, "pending", 40)
        message(2, "failed", 3)
        db.session.commit()
    mail = section(admin_client.get("/admin/health").get_data(as_text=True), "mail")
    assert "40 minutes ago" in mail and "stuck" in mail
    assert '<a href="/admin/mail?status=failed">1 failed</a>' in mail


@pytest.fixture
def redis_url():
    yield from empty_redis(REDIS_URL, "TEST_REDIS_URL")


def test_the_page_says_whether_redis_answers(app, admin_client, redis_url):
    app.config["REDIS_URL"] = redis_url
    assert re.search(r">\s*ok\s*<", section(admin_client.get("/admin/health").get_data(as_text=True), "redis"))
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    redis = section(admin_client.get("/admin/health").get_data(as_text=True), "redis")
    assert "unreachable" in redis and "status-failed" in redis


def test_the_whole_report_is_ok_only_when_every_part_is(ctx):
    now = utcnow()
    health.beat(health.WORKER_TASK, "w", now)
    db.session.commit()
    assert health.check(now).ok
    message(1, "pending", 16, now=now)
    db.session.commit()
    assert not health.check(now).ok
