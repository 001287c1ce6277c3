"""``flask create-event`` and ``flask add-attendee``, run for real: a subprocess
per command against a migrated SQLite file, so output and exit codes are the
ones scripts outside this project see."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from webapp import create_app
from webapp.extensions import db
from webapp.models import Attendance, Event, User

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).parent / "flask"
BASE = "http://example.test"
SETTINGS = ("DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "SECRET_KEY", "MEETLOOP_ENV", "BASE_URL", "PORT",
            "MEETLOOP_INSTANCE", "FLASK_APP", "FLASK_DEBUG")
ORGANIZER = "olga@example.com"


def run_flask(*args: str, database: Path, instance: Path) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    environ.update(DATABASE_URL=f"sqlite:///{database}", MEETLOOP_INSTANCE=str(instance), BASE_URL=BASE)
    return subprocess.run([str(FLASK), "--app", "wsgi", *args], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=120, check=False)


@dataclass
class Site:
    database: Path
    instance: Path

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        return run_flask(*args, database=self.database, instance=self.instance)

    @contextlib.contextmanager
    def app(self) -> Iterator[Flask]:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{self.database}", "SECRET_KEY": "cli-test",
                          "MAIL_TRANSPORT": "memory", "BASE_URL": BASE})
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """Migrated once, with an organizer account; each test gets a copy."""
    where = tmp_path_factory.mktemp("event-cli")
    site = Site(where / "template.db", where / "instance")
    for args in (("db", "upgrade"), ("create-user", ORGANIZER, "--name", "Olga", "--role", "organizer")):
        result = site.flask(*args)
        assert result.returncode == 0, result.stderr
    return site.database


@pytest.fixture
def site(template_db, tmp_path) -> Site:
    shutil.copy(template_db, tmp_path / "meetloop.db")
    return Site(tmp_path / "meetloop.db", tmp_path / "instance")


def last_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.rstrip("\n").splitlines()[-1]


def create_event(site: Site, *args: str) -> subprocess.CompletedProcess:
    return site.flask("create-event", "Spring Mixer", "--organizer", ORGANIZER, *args)


def test_create_event_converts_times_with_an_offset_and_prints_the_slug_last(site):
    result = create_event(site, "--starts", "2026-07-02T18:30:00+02:00", "--ends", "2026-07-02T22:00+02:00",
                          "--tz", "Europe/Lisbon")
    slug = last_line(result)
    assert slug == "spring-mixer"
    with site.app() as app:
        event = db.session.scalar(select(Event))
        assert event.slug == slug and event.timezone == "Europe/Lisbon"
        assert (event.starts_at, event.ends_at) == (datetime(2026, 7, 2, 16, 30, tzinfo=UTC),
                                                    datetime(2026, 7, 2, 20, 0, tzinfo=UTC))
        assert app.url_map.bind("x").match(f"/events/{slug}") == ("events.show", {"ref": slug})


def test_create_event_reads_times_without_an_offset_as_wall_clock_time_in_the_zone(site):
    # New York's clocks go forward in between: 20:00 is EST, 10:00 is EDT.
    result = create_event(site, "--starts", "2026-03-07T20:00", "--ends", "2026-03-08T10:00",
                          "--tz", "America/New_York")
    slug = last_line(result)
    with site.app():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        assert (event.starts_at, event.ends_at) == (datetime(2026, 3, 8, 1, 0, tzinfo=UTC),
                                                    datetime(2026, 3, 8, 14, 0, tzinfo=UTC))


ERRORS = {
    "bad-zone": (["--organizer", ORGANIZER, "--starts", "2026-07-02T18:00", "--ends", "2026-07-02T20:00",
                  "--tz", "Mars/Base"], "Mars/Base"),
    "a-folder-of-zones": (["--organizer", ORGANIZER, "--starts", "2026-07-02T18:00", "--ends", "2026-07-02T20:00",
                           "--tz", "Europe"], "Unknown time zone 'Europe'"),
    "ends-at-start": (["--organizer", ORGANIZER, "--starts", "2026-07-02T18:00", "--ends", "2026-07-02T18:00",
                       "--tz", "UTC"], "end after it starts"),
    "unknown-organizer": (["--organizer", "nobody@example.com", "--starts", "2026-07-02T18:00",
                           "--ends", "2026-07-02T20:00"], "nobody@example.com"),
}


def test_create_event_errors_are_one_line_on_stderr_with_exit_2(site):
    # The three cases run side by side: each is a process of its own anyway.
    with ThreadPoolExecutor(len(ERRORS)) as pool:
        results = dict(zip(ERRORS, pool.map(lambda case: site.flask("create-event", "Spring Mixer", *case[0]),
                                            ERRORS.values()), strict=True))
    for name, (_, phrase) in ERRORS.items():
        result = results[name]
        assert result.returncode == 2, (name, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout, name
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and phrase in lines[0], (name, result.stderr)
    with site.app():
        assert db.session.scalar(select(func.count()).select_from(Event)) == 0


def test_add_attendee_makes_a_passwordless_account_and_prints_the_same_badge_url_every_time(site):
    slug = last_line(create_event(site, "--starts", "2026-07-02T18:00", "--ends", "2026-07-02T21:00",
                                  "--tz", "Europe/Lisbon"))
    first = last_line(site.flask("add-attendee", slug, "New.Person@Example.com"))
    again = last_line(site.flask("add-attendee", slug, "new.person@example.com"))

    assert first == again
    assert first.startswith(f"{BASE}/b/")
    with site.app():
        user = db.session.scalar(select(User).where(User.email == "new.person@example.com"))
        assert user.password_hash is None
        (attendance,) = db.session.scalars(select(Attendance)).all()
        assert (attendance.user_id, attendance.event.slug) == (user.id, slug)
        assert first == f"{BASE}/b/{attendance.badge_token}"

    unknown = site.flask("add-attendee", "no-such-event", "x@example.com")
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1
