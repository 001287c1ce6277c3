"""Never lose a scan, never count one twice, under real concurrency.

The app runs in a real multi-threaded WSGI server (Werkzeug's, in a thread of
this process) and 50 threads upload at once over TCP, as a phone's offline
queue does when it comes back online and retries. On SQLite the writes queue
on the write lock (WAL, BEGIN IMMEDIATE, busy_timeout); on PostgreSQL they
run in parallel and the unique constraint on (scanner, client_id) settles it.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.error import HTTPError

import pytest
from sqlalchemy import event
from werkzeug.serving import make_server

from tests.api_support import SCANS, count, new_client_id, token_for
from tests.factories import attend, make_event, make_user
from webapp.extensions import db
from webapp.models import Contact, Scan

PARALLEL = 50
# No proxy from the environment may come between us and 127.0.0.1.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def server(app):
    """The app served by a threaded Werkzeug server on a free local port."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="api-test-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)
    httpd.server_close()


@pytest.fixture
def pair(app):
    organizer = make_user(app, "olga@example.com", name="Olga", password=None, role="organizer")
    ana = make_user(app, "ana@example.com", name="Ana", password=None)
    pia = make_user(app, "pia@example.com", name="Pia", password=None)
    event = make_event(app, organizer, "Spring Mixer")
    attend(app, event, ana)
    return ana, pia, attend(app, event, pia).badge_token, token_for(app, ana)


def post_all(url: str, token: str, bodies: list[dict]) -> list[tuple[int, dict]]:
    """POST every body at once (a barrier lines the threads up first)."""
    start = threading.Barrier(len(bodies))

    def post(body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(  # noqa: S310 - our own http://127.0.0.1 server
            url, data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        start.wait(timeout=30)
        try:
            with _opener.open(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(post, bodies))


def contacts_between(app, a_id: int, b_id: int) -> tuple[int, int]:
    return (count(app, Contact, Contact.owner_id == a_id, Contact.user_id == b_id),
            count(app, Contact, Contact.owner_id == b_id, Contact.user_id == a_id))


def test_fifty_parallel_uploads_of_one_scan_make_one_scan_and_one_201(app, server, pair):
    ana, pia, badge, token = pair
    body = {"badge": badge, "client_id": new_client_id(), "note": "Met at the coffee stand", "tags": ["VIP"]}

    answers = post_all(server + SCANS, token, [body] * PARALLEL)

    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: 1, 200: PARALLEL - 1}, answers[:3]
    first = next(payload for status, payload in answers if status == 201)
    assert all(payload == first for _, payload in answers), "a replay answered differently"
    assert count(app, Scan) == 1
    assert contacts_between(app, ana.id, pia.id) == (1, 1)
    assert first["contact"]["note"] == "Met at the coffee stand"  # once, not fifty times


def test_fifty_parallel_meetings_of_one_pair_make_fifty_scans_and_one_contact_each(app, server, pair):
    ana, pia, badge, token = pair

    answers = post_all(server + SCANS, token, [{"badge": badge, "client_id": new_client_id()}
                                               for _ in range(PARALLEL)])

    assert Counter(status for status, _ in answers) == {201: PARALLEL}, answers[:3]
    assert sum(not payload["already_connected"] for _, payload in answers) >= 1
    assert count(app, Scan) == PARALLEL
    assert contacts_between(app, ana.id, pia.id) == (1, 1)


def test_a_scan_takes_the_write_lock_only_for_its_writes(app, client, pair):
    """On SQLite a scan reads (its caller, the badge, the facts) in a deferred
    transaction and takes the write lock (BEGIN IMMEDIATE) only for its
    inserts, so writers queue behind writes, not reads. On PostgreSQL the
    reads and writes stay one transaction."""
    _, _, badge, token = pair
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def statement(conn, cursor, text, parameters, context, executemany) -> None:
        seen.append(text.split(None, 2)[0].upper() + (" IMMEDIATE" if text.startswith("BEGIN IMMEDIATE") else ""))

    def commit(conn) -> None:
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        answer = client.post(SCANS, json={"badge": badge, "client_id": new_client_id()},
                             headers={"Authorization": f"Bearer {token}"})
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    assert answer.status_code == 201, answer.get_json()
    first_insert = seen.index("INSERT")
    if engine.dialect.name == "sqlite":
        assert seen[0] == "BEGIN" and "SELECT" in seen[:first_insert]  # reads without the lock
        lock = seen.index("BEGIN IMMEDIATE")
        assert seen[lock - 1] == "COMMIT" and lock < first_insert  # the lock comes right before the writes
    else:
        assert "COMMIT" not in seen[:first_insert] and "SELECT" in seen[:first_insert]
    assert count(app, Scan) == 1 and count(app, Contact) == 2
