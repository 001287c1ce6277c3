"""The database out of reach during requests: pages answer 503 with the
friendly error page and ``Retry-After``, the API its JSON error shape, and
nothing of the driver's message reaches the response or the log; once the
database is back the same requests work again, without restarting the app.

PostgreSQL goes away through a TCP proxy in front of the shared server (which
is never stopped): the proxy is cut, dropping every connection and refusing
new ones, and later listens again. It runs on both the SQLite and the
PostgreSQL run. SQLite goes away as a database whose folder isn't there (a
volume not mounted yet) and as a database another writer keeps locked.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sqlite3
import threading

import pytest
from flask import Blueprint, jsonify
from flask_migrate import upgrade
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from tests.conftest import Auth, free_port
from tests.factories import attend, make_event, make_user
from webapp import create_app
from webapp.extensions import db
from webapp.models import User
from webapp.services import api_tokens

# What a response must never show of the failure.
LEAKS = ("Traceback", 'File "', "psycopg", "sqlalchemy", "sqlite3", "OperationalError", "Connection refused",
         "connection failed", "server closed", "unable to open", "database is locked", "SELECT")
# What the log line must not carry: a driver's message names hosts, ports and users.
LOG_LEAKS = ("Traceback", "Connection refused", "connection failed", "server closed", "127.0.0.1", "postgres@")


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 in front of a database server. ``cut()`` drops
    every connection through it and stops listening (new connections are
    refused), as a database server going away does; ``restore()`` listens on
    the same port again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._accepting: threading.Thread | None = None

    def restore(self) -> CuttableProxy:
        assert self._listener is None, "the proxy is already listening"
        self._listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: the same port again
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._accepting = threading.Thread(target=self._accept, args=(self._listener, self._stop), daemon=True)
        self._accepting.start()
        return self

    start = restore

    def cut(self) -> None:
        if self._listener is not None:
            self._stop.set()
            self._accepting.join(timeout=10)
            self._listener.close()
            self._listener = None
        with self._lock:
            dropped, self._sockets = self._sockets, set()
        for sock in dropped:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):  # one side gone: the other goes too
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def make_app(database_url: str):
    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "fault-database-test",
                       "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False, "MAIL_TRANSPORT": "memory",
                       "BASE_URL": "http://meetloop.test"})


def assert_unavailable(name: str, response, *, api: bool, secrets: tuple[str, ...] = ()) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == 503, f"{name}: {response.status_code} {body[:500]}"
    retry_after = response.headers.get("Retry-After", "")
    assert retry_after.isdigit() and int(retry_after) > 0, name
    for leak in (*LEAKS, *secrets):
        assert leak not in body, f"{name} shows {leak!r}"
    if api:
        assert response.mimetype == "application/json", name
        error = response.get_json()["error"]
        assert set(error) == {"code", "message"} and error["code"] == "unavailable" and error["message"].strip()
    else:
        assert response.mimetype == "text/html", name
        assert "<html" in body and 'class="error-code">503<' in body and 'href="/"' in body, name


def assert_logged_without_secrets(caplog, requests: int, *secrets: str) -> None:
    lines = [r for r in caplog.records if r.name == "webapp.errors"]
    assert len(lines) == requests, [r.getMessage() for r in lines]
    for record in lines:
        message = record.getMessage()
        assert record.levelno == logging.WARNING and record.exc_info is None
        assert "\n" not in message and "503" in message
        for secret in (*LOG_LEAKS, *secrets):
            assert secret not in message, message


# --- PostgreSQL behind a proxy that is cut --------------------------------------------------


def midway_blueprint(proxy: CuttableProxy) -> Blueprint:
    """Routes during which the database goes away: after one query, before the next."""
    bp = Blueprint("midway", __name__)

    @bp.get("/midway")
    @bp.get("/api/midway")
    def midway():
        people = db.session.scalar(select(func.count()).select_from(User))
        proxy.cut()
        people += db.session.scalar(select(func.count()).select_from(User))
        return jsonify({"people": people})

    return bp


@pytest.fixture
def proxied(fresh_postgres_database):
    server = make_url(fresh_postgres_database)
    proxy = CuttableProxy(server.host or "127.0.0.1", server.port or 5432).start()
    url = server.set(drivername="postgresql+psycopg", host="127.0.0.1", port=proxy.port)
    app = make_app(url.render_as_string(hide_password=False))
    app.register_blueprint(midway_blueprint(proxy))
    with app.app_context():
        upgrade()
    yield app, proxy
    proxy.cut()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def people(proxied):
    """A signed-in browser, a visitor's browser, an API token and a badge to open."""
    app, _ = proxied
    user = make_user(app, "ada@example.com", name="Ada Lovelace")
    badge = attend(app, make_event(app, make_user(app, role="organizer")), user).badge_token
    with app.app_context():
        _, bearer = api_tokens.create(db.session.get(User, user.id), "fault test")
        db.session.commit()
    signed_in, visitor = app.test_client(), app.test_client()
    Auth(signed_in).as_user(user)
    return signed_in, visitor, bearer, badge


def every_kind_of_request(people) -> dict[str, tuple[bool, object]]:
    """name -> (is the API, response)."""
    signed_in, visitor, bearer, badge = people
    return {
        "signed-in page": (False, signed_in.get("/contacts")),
        "visitor's badge page": (False, visitor.get(f"/b/{badge}")),
        "sign-in form": (False, visitor.post("/login", data={"email": "ada@example.com", "password": "wrong"})),
        "API with a token": (True, visitor.get("/api/v1/me/contacts", headers={"Authorization": f"Bearer {bearer}"})),
        "API with the session": (True, signed_in.get("/api/v1/me")),
    }


def assert_all_working(people) -> None:
    statuses = {name: response.status_code for name, (_, response) in every_kind_of_request(people).items()}
    assert statuses == dict.fromkeys(statuses, 200)


def test_postgresql_going_away_is_a_503_for_every_request_until_it_is_back(proxied, people, caplog):
    _, proxy = proxied
    assert_all_working(people)  # the pool now holds connections through the proxy

    proxy.cut()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        down = every_kind_of_request(people)
    for name, (api, response) in down.items():
        assert_unavailable(name, response, api=api, secrets=(str(proxy.port),))
    assert_logged_without_secrets(caplog, len(down), str(proxy.port), people[2], people[3])

    proxy.restore()
    assert_all_working(people)  # the same app: no restart, and the first request after is already fine
    assert people[0].get("/api/v1/me").get_json()["email"] == "ada@example.com"  # the 503s kept the session


def test_connections_that_died_while_idle_are_replaced_before_the_first_request(proxied, people):
    _, proxy = proxied
    assert_all_working(people)

    proxy.cut()  # every pooled connection is dead now, and the pool doesn't know
    proxy.restore()

    assert_all_working(people)


@pytest.mark.parametrize(("path", "api"), [("/midway", False), ("/api/midway", True)])
def test_a_connection_lost_in_the_middle_of_a_request_is_a_503_and_the_next_request_works(
    proxied, people, path, api
):
    _, proxy = proxied
    assert_all_working(people)

    response = people[0].get(path)

    assert_unavailable(path, response, api=api, secrets=(str(proxy.port),))
    proxy.restore()
    assert_all_working(people)


# --- SQLite -----------------------------------------------------------------------------------


def test_a_sqlite_database_whose_folder_is_missing_is_a_503_until_it_is_there(tmp_path, caplog):
    volume = tmp_path / "volume"  # not mounted yet
    app = make_app(f"sqlite:///{volume / 'meetloop.db'}")
    visitor = app.test_client()
    badge, bearer = "b" * 22, "ml_" + "t" * 43  # well-formed: looking them up needs the database

    def requests():
        return {
            "badge page": (False, visitor.get(f"/b/{badge}")),
            "sign-in form": (False, visitor.post("/login", data={"email": "ada@example.com", "password": "x"})),
            "API": (True, visitor.get("/api/v1/me/contacts", headers={"Authorization": f"Bearer {bearer}"})),
        }

    try:
        with caplog.at_level(logging.WARNING):
            down = requests()
        for name, (api, response) in down.items():
            assert_unavailable(name, response, api=api)
        assert_logged_without_secrets(caplog, len(down), badge, bearer)

        volume.mkdir()
        with app.app_context():
            upgrade()
        up = {name: response.status_code for name, (_, response) in requests().items()}
        assert up == {"badge page": 404, "sign-in form": 200, "API": 401}
    finally:
        with app.app_context():
            db.engine.dispose()


def _short_busy_timeout(dbapi_connection, _record) -> None:
    # Runs after the app's own connect hook: wait 0.2 s for a lock instead of 15.
    dbapi_connection.execute("PRAGMA busy_timeout=200")


def test_a_sqlite_database_locked_by_another_writer_is_a_503_not_a_500(tmp_path):
    path = tmp_path / "meetloop.db"
    app = make_app(f"sqlite:///{path}")
    with app.app_context():
        event.listen(db.engine, "connect", _short_busy_timeout)
        upgrade()
    browser = app.test_client()
    form = {"email": "ada@example.com", "password": "wrong"}

    try:
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
            locked = browser.post("/login", data=form)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert_unavailable("sign-in form", locked, api=False)

        assert browser.post("/login", data=form).status_code == 200
    finally:
        with app.app_context():
            db.engine.dispose()
