"""Shared fixtures: a real database (SQLite file, or PostgreSQL from
``TEST_DATABASE_URL``), the app, its test client, mail capture and a real SMTP
server.

The database schema is built once per run by the Alembic migrations (never
``create_all``), and every test starts from empty tables.

No fixture pushes an app context around a test's HTTP requests: Flask reuses an
outer context for requests, which would share ``g`` (and so ``current_user``)
and the SQLAlchemy session between requests. Tests that call services use the
``ctx`` fixture instead.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile

# Settings from the developer's shell must not leak into tests.
for _name in ("DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "SECRET_KEY", "MEETLOOP_ENV", "BASE_URL", "PORT",
              "BENCH_ENDPOINTS", "NUDGE_DAYS", "UNSUBSCRIBE_MAILDIR"):
    os.environ.pop(_name, None)
os.environ["MEETLOOP_INSTANCE"] = tempfile.mkdtemp(prefix="meetloop-test-instance-")

import pytest  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from webapp import create_app  # noqa: E402
from webapp.config import normalise_database_url  # noqa: E402
from webapp.email import MEMORY_KEY  # noqa: E402
from webapp.extensions import db as _db  # noqa: E402
from webapp.extensions import limiter  # noqa: E402
from webapp.jobs import huey  # noqa: E402

huey.immediate = True  # tasks run inline, in memory

BASE_URL = "http://meetloop.test"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def pytest_report_header(config):
    return f"database: {'PostgreSQL (TEST_DATABASE_URL)' if TEST_DATABASE_URL else 'SQLite (temporary file)'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if TEST_DATABASE_URL:
        return normalise_database_url(TEST_DATABASE_URL)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'meetloop-test.db'}"


@pytest.fixture(scope="session")
def _session_app(database_url: str, tmp_path_factory: pytest.TempPathFactory):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "BASE_URL": BASE_URL,
            "MAIL_TRANSPORT": "memory",
            "MAIL_DIR": str(tmp_path_factory.mktemp("mail")),
            "WTF_CSRF_ENABLED": False,
            # Enabled so Flask-Limiter sets itself up; switched off right after
            # (and per test) by ``limiter.enabled``: the rate_limits fixture turns it on.
            "RATELIMIT_ENABLED": True,
            "SECRET_KEY": "test-secret-key",
            # scrypt at a test-sized cost: same code path, a fraction of the time.
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        }
    )
    limiter.enabled = False
    with app.app_context():
        if database_url.startswith("postgresql"):
            with _db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
    return app


def _empty_tables() -> None:
    tables = list(reversed(_db.metadata.sorted_tables))
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def app(_session_app):
    saved = dict(_session_app.config)
    yield _session_app
    _session_app.config.clear()
    _session_app.config.update(saved)
    limiter.enabled = False
    _session_app.extensions.get(MEMORY_KEY, []).clear()
    with _session_app.app_context():
        _db.session.remove()
        _empty_tables()


@pytest.fixture
def ctx(app):
    """An app context for tests that call services directly (no HTTP in between)."""
    with app.app_context():
        yield app
        _db.session.rollback()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def rate_limits(app):
    """Turn Flask-Limiter on (fresh counters) for one test."""
    limiter.enabled = True
    with app.app_context():
        limiter.reset()
    yield limiter
    limiter.enabled = False


def _postgres_server_url() -> str:
    """The maintenance database on the server the tests may use."""
    given = os.environ.get("TEST_DATABASE_URL")
    base = make_url(given) if given else make_url("postgresql://postgres@127.0.0.1:5432/postgres")
    return base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


@pytest.fixture
def fresh_postgres_database():
    """A brand-new, empty database on the shared server, dropped afterwards."""
    import psycopg
    server = _postgres_server_url()
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {make_url(server).render_as_string()}: {str(exc).strip()}"
        if os.environ.get("TEST_DATABASE_URL"):
            pytest.fail(reason)
        print(reason)
        pytest.skip(reason)
    name = f"meetloop_migr_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_redis(url: str, setting: str):
    """Yield ``url`` with its Redis database emptied before and after; skip with
    a printed reason when Redis isn't running (fail instead under ``CI``)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        if os.environ.get("CI"):
            raise
        print(f"Redis not reachable at {url}: {exc}")
        pytest.skip(f"Redis not reachable at {url} (set {setting})")
    client.flushdb()
    yield url
    client.flushdb()


def bench_smoke(run):
    """``run(database_kind)`` for a benchmark's smoke test, on the suite's kind of
    database (a fresh one on the ``TEST_DATABASE_URL`` server, or SQLite), leaving
    the rate limiter as it was (a benchmark's own app switches it on)."""
    server = os.environ.get("TEST_DATABASE_URL")
    with pytest.MonkeyPatch.context() as patch:
        if server:
            patch.setenv("BENCH_POSTGRES_URL", server)
        patch.setattr(limiter, "enabled", limiter.enabled)
        return run("postgresql" if server else "sqlite")


def released_together(*jobs) -> list:
    """Run each job in its own thread, all released at once by a barrier;
    return their results in the jobs' order. Re-raises a thread's error."""
    import threading

    start = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(n, job):
        try:
            start.wait(timeout=10)
            results[n] = job()
        except BaseException as error:  # re-raised below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n, job)) for n, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    assert not any(thread.is_alive() for thread in threads), "a job did not finish"
    return results


def at_once(app, job, workers: int = 2) -> list:
    """Run ``job()`` in ``workers`` threads, each in its own app context, released
    together; return what each returned. Re-raises a thread's error."""

    def in_context():
        with app.app_context():
            return job()

    return released_together(*[in_context] * workers)


def without_csrf(body: str) -> str:
    """``body`` with its CSRF tokens (the meta tag's and any form's) blanked: they
    differ between sessions and carry a timestamp, so two pages compared as a
    visitor sees them must not compare those."""
    body = re.sub(r'(name="csrf-token" content=")[^"]*', r"\1CSRF", body)
    return re.sub(r'(<input [^>]*name="csrf_token"[^>]*value=")[^"]*', r"\1CSRF", body)


def csrf_token_of(client, path: str = "/signup") -> str:
    """The token the page at ``path`` carries in its <meta name="csrf-token"> for this browser session."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match, f"no csrf-token meta tag on {path}"
    return match.group(1)


@pytest.fixture
def csrf(app):
    """Turn CSRF protection on for one test (it is off by default to keep tests short)."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


class Outbox:
    """The messages the memory transport delivered, with helpers to read them."""

    def __init__(self, store: list) -> None:
        self.messages = store

    def __len__(self) -> int:
        return len(self.messages)

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]

    def last(self, address: str | None = None):
        messages = self.to(address) if address else self.messages
        assert messages, f"no email delivered{' to ' + address if address else ''}"
        return messages[-1]

    @staticmethod
    def text(message) -> str:
        return message.get_body(("plain",)).get_content()

    @classmethod
    def link(cls, message, path_fragment: str = "") -> str:
        """The first BASE_URL link in the plain-text body containing ``path_fragment``."""
        links = re.findall(re.escape(BASE_URL) + r"\S+", cls.text(message))
        matching = [link for link in links if path_fragment in link]
        assert matching, f"no link with {path_fragment!r} in:\n{cls.text(message)}"
        return matching[0]

    @classmethod
    def path(cls, message, path_fragment: str = "") -> str:
        return cls.link(message, path_fragment).removeprefix(BASE_URL)


@pytest.fixture
def outbox(app):
    return Outbox(app.extensions.setdefault(MEMORY_KEY, []))


class Auth:
    def __init__(self, client) -> None:
        self.client = client

    def login(self, email: str, password: str, **extra):
        return self.client.post("/login", data={"email": email, "password": password, **extra})

    def as_user(self, user) -> None:
        """Sign ``user`` in directly (for tests about something other than sign-in)."""
        with self.client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return Auth(client)


# --- A real SMTP server -------------------------------------------------------

import asyncio  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from email import policy  # noqa: E402
from email.message import EmailMessage  # noqa: E402
from email.parser import BytesParser  # noqa: E402
from typing import Any  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ReceivedMail:
    """One message as the server received it: envelope, raw bytes, parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage  # parsed with email.policy.default
    tls: bool
    login: Any  # what the authenticator put in AuthResult.auth_data, if AUTH succeeded


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that keeps what it receives.

    ``refuse(reply, address)`` answers RCPT for ``address`` (or everyone when
    None) with ``reply``, e.g. ``"450 4.2.1 Try later"`` or ``"550 5.1.1 No such
    user"``; ``data_reply`` does the same after DATA. ``stop()``/``start()``
    keep the port, so a test can cut the server and bring it back.
    """

    host = "127.0.0.1"

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[ReceivedMail] = []
        self.refusals: dict[str | None, str] = {}
        self.data_reply: str | None = None
        self.delay = 0.0  # seconds spent "delivering" each message (lets workers overlap)
        self.first_message = threading.Event()
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    # control
    def start(self, **smtp_kwargs: Any) -> SmtpSink:
        assert self._controller is None, "SMTP sink already running"
        self._controller = Controller(self, hostname=self.host, port=self.port, **smtp_kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def restart(self, **smtp_kwargs: Any) -> SmtpSink:
        self.stop()
        return self.start(**smtp_kwargs)

    def refuse(self, reply: str, address: str | None = None) -> None:
        self.refusals[address.lower() if address else None] = reply

    def accept(self) -> None:
        self.refusals.clear()
        self.data_reply = None

    # reading
    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [r.message for r in self.received]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def message_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]

    def __len__(self) -> int:
        with self._lock:
            return len(self.received)

    # aiosmtpd handler hooks
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.refusals.get(address.lower(), self.refusals.get(None))
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or envelope.content
        mail = ReceivedMail(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            raw=raw,
            message=BytesParser(policy=policy.default).parsebytes(raw),
            tls=session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            login=session.auth_data if session.authenticated else None,
        )
        with self._lock:
            self.received.append(mail)
        self.first_message.set()
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(app):
    """A real SMTP server the app delivers to (MAIL_TRANSPORT=smtp)."""
    sink = SmtpSink(free_port()).start()
    app.config.update(MAIL_TRANSPORT="smtp", MAIL_SERVER=sink.host, MAIL_PORT=sink.port)
    yield sink
    sink.stop()


# --- Event-level roles, for route x role tables ----------------------------------------

EVENT_ROLES = ("anonymous", "attendee", "other_attendee", "other_organizer", "organizer", "admin")


class EventWorld:
    """An event with its organizer and an attendee, another event with its own
    organizer and attendee, and a site admin. ``sign_in(role)`` signs the test
    client in as one of ``EVENT_ROLES`` (``anonymous`` does nothing)."""

    def __init__(self, app, auth) -> None:
        from tests.factories import attend, make_event, make_user

        self.app, self.auth = app, auth
        self.organizer = make_user(app, "organizer@example.com", name="Olga Organizer", role="organizer")
        self.attendee = make_user(app, "attendee@example.com", name="Ana Attendee")
        self.other_organizer = make_user(app, "other-org@example.com", name="Otto Other", role="organizer")
        self.other_attendee = make_user(app, "other-att@example.com", name="Ben Elsewhere")
        self.admin = make_user(app, "admin@example.com", name="Ada Admin", role="admin")
        self.event = make_event(app, self.organizer, "Spring Mixer")
        self.other_event = make_event(app, self.other_organizer, "Autumn Summit")
        mine = attend(app, self.event, self.attendee)
        theirs = attend(app, self.other_event, self.other_attendee)
        self.attendee_badge, self.attendee_code = mine.badge_token, mine.badge_code
        self.other_badge, self.other_code = theirs.badge_token, theirs.badge_code

    def user(self, role: str):
        return None if role == "anonymous" else getattr(self, role)

    def sign_in(self, role: str) -> None:
        if role != "anonymous":
            self.auth.as_user(self.user(role))


@pytest.fixture
def world(app, auth):
    return EventWorld(app, auth)
