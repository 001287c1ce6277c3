"""The ``flask`` commands, run for real: a subprocess per command against a
migrated SQLite file of its own, so stderr and exit codes are the real ones."""

from __future__ import annotations

import contextlib
import email
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from webapp import create_app
from webapp.extensions import db as _db
from webapp.models import Attendance, Event, OutboxMessage, User, utcnow

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).parent / "flask"
# Settings a developer's shell might carry; each run gets exactly what it is given.
SETTINGS = ("DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "SECRET_KEY", "MEETLOOP_ENV", "BASE_URL", "PORT",
            "MEETLOOP_INSTANCE", "FLASK_APP", "FLASK_DEBUG")
PASSWORD = "a long enough password"


def run_flask(*args: str, database: Path, instance: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    environ.update(DATABASE_URL=f"sqlite:///{database}", MEETLOOP_INSTANCE=str(instance), **env)
    return subprocess.run(
        [str(FLASK), "--app", "wsgi", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120,
        check=False,
    )


@dataclass
class Site:
    """One migrated database file and instance directory, as `make run` would have."""

    database: Path
    instance: Path

    def flask(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return run_flask(*args, database=self.database, instance=self.instance, **env)

    @contextlib.contextmanager
    def app(self) -> Iterator[Flask]:
        """An in-process app on the same file, to look at what a command did."""
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{self.database}",
            "SECRET_KEY": "cli-test-key",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "MAIL_TRANSPORT": "memory",
            "BASE_URL": "http://meetloop.test",
        })
        try:
            yield app
        finally:
            with app.app_context():
                _db.engine.dispose()

    def users_by_role(self) -> dict[str, int]:
        with contextlib.closing(sqlite3.connect(self.database)) as conn:
            return dict(conn.execute('SELECT role, count(*) FROM "user" GROUP BY role').fetchall())


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """Migrated once per module; each test gets a copy."""
    where = tmp_path_factory.mktemp("cli-template")
    result = run_flask("db", "upgrade", database=where / "template.db", instance=where / "instance")
    assert result.returncode == 0, result.stderr
    assert not Path(f"{where / 'template.db'}-wal").exists() or Path(f"{where / 'template.db'}-wal").stat().st_size == 0
    return where / "template.db"


@pytest.fixture
def site(template_db, tmp_path) -> Site:
    shutil.copy(template_db, tmp_path / "meetloop.db")
    return Site(tmp_path / "meetloop.db", tmp_path / "instance")


def sign_in(app: Flask, email_address: str, password: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email_address, "password": password})
    return client, response


def assert_one_line_error(result: subprocess.CompletedProcess, *phrases: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for phrase in phrases:
        assert phrase in lines[0]
    return lines[0]


@pytest.mark.parametrize(("role", "admin_page"), [("attendee", 403), ("organizer", 403), ("admin", 200)])
def test_create_user_makes_an_active_verified_account_with_the_role(site, role, admin_page):
    result = site.flask("create-user", "Grace.Hopper@Example.COM", "--name", "Grace Hopper",
                        "--password", PASSWORD, "--role", role)
    assert result.returncode == 0, result.stderr
    assert "grace.hopper@example.com" in result.stdout
    with site.app() as app:
        with app.app_context():
            user = _db.session.scalar(select(User).where(User.email == "grace.hopper@example.com"))
            assert (user.name, user.role, user.email_verified, user.is_active) == ("Grace Hopper", role, True, True)
        client, response = sign_in(app, "grace.hopper@example.com", PASSWORD)
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == "/"
        assert "Hi Grace" in client.get("/").get_data(as_text=True)
        assert client.get("/admin").status_code == admin_page


def test_create_user_without_password_makes_a_passwordless_attendee(site):
    result = site.flask("create-user", "linkonly@example.com", "--name", "Link Only")
    assert result.returncode == 0, result.stderr
    with site.app() as app:
        with app.app_context():
            user = _db.session.scalar(select(User).where(User.email == "linkonly@example.com"))
            assert (user.role, user.password_hash, user.email_verified) == ("attendee", None, True)
        _, response = sign_in(app, "linkonly@example.com", PASSWORD)
        assert response.status_code == 200  # the form again, with an error: no password to match


def test_create_user_refuses_a_duplicate_email_in_one_line(site):
    assert site.flask("create-user", "dup@example.com", "--name", "First", "--password", PASSWORD).returncode == 0
    result = site.flask("create-user", "DUP@example.com", "--name", "Second", "--password", PASSWORD)
    assert_one_line_error(result, "already exists")
    assert site.users_by_role() == {"attendee": 1}


@pytest.mark.parametrize(
    ("args", "phrases"),
    [
        (["x@example.com", "--name", "X", "--password", "short"], ["12 characters"]),
        (["x@example.com", "--name", "X", "--password", PASSWORD, "--role", "boss"], ["--role", "boss"]),
        (["x@example.com", "--password", PASSWORD], ["--name"]),
        (["--name", "X", "--password", PASSWORD], ["EMAIL"]),
        (["x@example.com", "--name", "X", "--bogus"], ["--bogus"]),
    ],
    ids=["short-password", "bad-role", "missing-name", "missing-email", "unknown-option"],
)
def test_create_user_errors_are_one_line_on_stderr(site, args, phrases):
    assert_one_line_error(site.flask("create-user", *args), *phrases)
    assert site.users_by_role() == {}


def test_a_database_that_was_never_migrated_is_a_one_line_error(tmp_path):
    result = run_flask("create-user", "x@example.com", "--name", "X", database=tmp_path / "empty.db",
                       instance=tmp_path / "instance")
    assert_one_line_error(result, "flask db upgrade")


@pytest.mark.parametrize(
    ("env", "phrase"),
    [({"MAIL_USE_TLS": "perhaps"}, "MAIL_USE_TLS"), ({"MEETLOOP_ENV": "production"}, "SECRET_KEY")],
)
def test_a_bad_setting_is_a_one_line_error(site, env, phrase):
    assert_one_line_error(site.flask("send-due", **env), phrase)


def demo_snapshot(site: Site) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(site.database)) as conn:
        return {
            table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608 - fixed names
            for table in ("user", "event", "attendance", "event_organizer", "outbox_message")
        } | {"roles": tuple(sorted(site.users_by_role().items()))}


def test_demo_seeds_varied_people_and_two_events_and_is_idempotent(site):
    first = site.flask("demo")
    assert first.returncode == 0, first.stderr
    after_first = demo_snapshot(site)
    second = site.flask("demo")
    assert second.returncode == 0, second.stderr
    assert demo_snapshot(site) == after_first

    with site.app() as app, app.app_context():
        users = _db.session.scalars(select(User)).all()
        attendees = [u for u in users if u.role == "attendee"]
        organizers = [u for u in users if u.role == "organizer"]
        assert len(organizers) == 1
        assert len(attendees) >= 12
        headlines = [u.headline for u in attendees]
        assert all(h.strip() for h in headlines) and len(set(headlines)) == len(headlines)
        assert all(u.looking_for.strip() and u.company.strip() for u in attendees)
        assert len({u.name for u in attendees}) == len(attendees)
        assert len({u.timezone for u in attendees}) >= 3
        assert all(u.email_verified for u in users)

        now = utcnow()
        events = _db.session.scalars(select(Event)).all()
        past = [e for e in events if e.ends_at < now]
        upcoming = [e for e in events if e.starts_at > now]
        assert len(past) == 1 and len(upcoming) == 1 and len(events) == 2
        assert {e.owner_id for e in events} == {organizers[0].id}
        for event in events:
            people = _db.session.scalars(select(Attendance).where(Attendance.event_id == event.id)).all()
            assert len(people) >= 2

    # The logins it prints are the ones that work.
    logins = re.findall(r"^\s*(\w+)\s+(\S+@\S+)\s+password: (\S+)$", first.stdout, re.M)
    assert {role for role, _, _ in logins} >= {"organizer", "attendee"}
    assert re.findall(r"^\s*(\w+)\s+(\S+@\S+)\s+password: (\S+)$", second.stdout, re.M) == logins
    with site.app() as app:
        for role, address, password in logins:
            _, response = sign_in(app, address, password)
            assert response.status_code == 302, (role, address)
            with app.app_context():
                assert _db.session.scalar(select(User.role).where(User.email == address)) == role


def test_send_due_delivers_queued_mail_once_and_exits_zero(site):
    with site.app() as app, app.app_context():
        from webapp.services import accounts

        accounts.create_user("mailme@example.com", "Mail Me", verified=True)
        accounts.request_signin_link("mailme@example.com")
        _db.session.commit()

    result = site.flask("send-due")
    assert result.returncode == 0, result.stderr
    assert "sent=1" in result.stdout.split()
    files = list((site.instance / "mail").glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes())
    assert message["To"] == "mailme@example.com"

    again = site.flask("send-due")
    assert again.returncode == 0, again.stderr
    assert "sent=0" in again.stdout.split()
    assert len(list((site.instance / "mail").glob("*.eml"))) == 1
    with site.app() as app, app.app_context():
        assert _db.session.scalars(select(OutboxMessage.status)).all() == ["sent"]

