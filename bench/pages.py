"""Pages at scale: the organizer's dashboard (5,000 attendees, 50,000 scans),
the attendee search, and a 5,000-contact address book, against a trivial
signed-in page (``/profile`` of an organizer with no contacts) in the same run.

Targets: each page's median server time (in-process test client) at most 5x
the trivial page's; a statement count per request that does not grow with the
data (the same pages at a tenth of the size must issue as many); and the peak
RSS of one real gunicorn web worker (production ``gunicorn.conf.py``) after
serving all these pages over HTTP at most 150 MB.

    .venv/bin/python -m bench.pages --size full --database both
"""

from __future__ import annotations

import secrets
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from bench.common import (
    Result,
    StatementCounter,
    arguments,
    databases,
    fresh_database,
    make_app,
    median,
    peak_rss_mb,
    report,
)
from bench.pages_data import Site, build, pages
from bench.scan_burst_server import Server

# (attendees, scans, contacts) for the measured data and for the tenth-size copy the statement counts compare with.
SIZES = {"full": ((5000, 50000, 5000), (500, 5000, 500)), "tiny": ((40, 200, 60), (20, 60, 20))}
REQUESTS = {"full": 30, "tiny": 2}  # per page, in process
HTTP_REQUESTS = {"full": 20, "tiny": 2}  # per page, against gunicorn
CONCURRENT = 4  # requests at once: half the worker's threads busy
RATIO, RSS_MB = 5.0, 150.0
SECRET_KEY = secrets.token_hex(24)  # in-process app and gunicorn alike: the session cookies carry over


def session_cookie(app, session_id: str) -> str:
    """A signed session cookie for a user, as Flask-Login leaves it after sign-in."""
    value = app.session_interface.get_signing_serializer(app).dumps({"_user_id": session_id, "_fresh": True})
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


def clients(app, site: Site) -> dict:
    found = {}
    for who in ("organizer", "keeper"):
        found[who] = client = app.test_client()
        with client.session_transaction() as session:
            session.update({"_user_id": getattr(site, who), "_fresh": True})
    return found


def statements(app, client, path: str) -> int:
    from webapp.extensions import db

    client.get(path)  # warm: templates compiled, caches filled
    with app.app_context():
        engine = db.engine
    with StatementCounter(engine) as counter:
        response = client.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code}"
    return counter.count


def server_times(client, path: str, n: int) -> list[float]:
    client.get(path)  # warm
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, f"{path}: {response.status_code}"
    return times


class PagesServer(Server):
    """gunicorn as bench/scan_burst.py runs it (production settings, one worker
    without Redis), signing sessions with the key the cookies here are made with."""

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["SECRET_KEY"] = SECRET_KEY
        env.pop("BENCH_ENDPOINTS", None)  # only the product's own routes
        return env

    def worker(self) -> int:
        with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children", encoding="ascii") as children:
            workers = [int(pid) for pid in children.read().split()]
        assert len(workers) == 1, f"expected one web worker, found {workers}"
        return workers[0]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect (to sign in) is an answer to count, not to follow
        return None


OPENER = urllib.request.build_opener(_NoRedirects)


def fetch(base: str, path: str, cookie: str) -> int:
    request = urllib.request.Request(base + path, headers={"Cookie": cookie})  # noqa: S310 (http://127.0.0.1)
    try:
        with OPENER.open(request, timeout=120) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def first_views(app, client, path: str, n: int) -> float:
    """The dashboard as its first view (or the first after a new scan) gets
    it: with nothing kept from a moment ago. Median seconds."""
    from webapp.organize.stats import RECENT

    times = []
    for _ in range(n):
        RECENT.clear()
        started = time.perf_counter()
        assert client.get(path).status_code == 200
        times.append(time.perf_counter() - started)
    return median(times)


def run(size: str = "tiny", database: str = "sqlite") -> Result:
    result = Result("pages", size, database)
    (attendees, scans, contacts), small = SIZES[size]
    with fresh_database(database) as url:
        app = make_app(url, RATELIMIT_ENABLED=False, SECRET_KEY=SECRET_KEY)
        from webapp.extensions import db

        with app.app_context():
            big_site = build(db.session, attendees, scans, contacts, seed=7)
            small_site = build(db.session, *small, seed=8)
            if db.engine.dialect.name == "postgresql":  # as autovacuum soon would after a bulk load
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("ANALYZE")
        result.figure("data", f"{attendees:,} attendees, {scans:,} scans, {contacts:,} contacts "
                              f"(statements compared with {small[0]:,}/{small[1]:,}/{small[2]:,})")
        big, little = clients(app, big_site), clients(app, small_site)
        measured = pages(big_site, size)
        # The baseline is sampled before and after the pages, so a noisy spell weighs on both.
        trivial = server_times(big["organizer"], measured[0][2], REQUESTS[size])
        timings = {}
        for (label, who, path, targeted), (_l, _w, small_path, _t) in zip(measured, pages(small_site, size),
                                                                         strict=True):
            counts = statements(app, little[who], small_path), statements(app, big[who], path)
            grows = "" if counts[1] <= counts[0] else "  (grows)"
            result.figure(f"{label}: statements small / full", f"{counts[0]} / {counts[1]}{grows}")
            if label == measured[0][0]:
                continue
            timings[label] = median(server_times(big[who], path, REQUESTS[size]))
            if targeted:
                result.target(f"{label}: statements growth", counts[1] - counts[0], 0)
        baseline = median(trivial + server_times(big["organizer"], measured[0][2], REQUESTS[size]))
        result.figure("trivial page /profile: median ms", baseline * 1000)
        first = first_views(app, big["organizer"], measured[1][2], max(3, REQUESTS[size] // 10))
        result.figure("dashboard, first view (nothing kept): median ms", first * 1000)
        for label, _who, _path, targeted in measured[1:]:
            result.figure(f"{label}: median ms", timings[label] * 1000)
            if targeted:
                result.target(f"{label} / trivial page", timings[label] / baseline, RATIO)
        with app.app_context():
            db.engine.dispose()  # the worker gets the database to itself
        cookies = {who: session_cookie(app, getattr(big_site, who)) for who in ("organizer", "keeper")}
        with PagesServer.folder() as folder, PagesServer(url, folder) as server:
            base, worker = server.url, server.worker()
            result.figure("web worker RSS after start, MB", peak_rss_mb(worker))
            statuses = []
            for label, who, path, _t in measured:  # page by page, to see which one grows the worker
                try:
                    with ThreadPoolExecutor(CONCURRENT) as pool:
                        statuses += pool.map(fetch, [base] * HTTP_REQUESTS[size], [path] * HTTP_REQUESTS[size],
                                             [cookies[who]] * HTTP_REQUESTS[size])
                except OSError:
                    print(server.tail(), file=sys.stderr)
                    raise
                result.figure(f"worker peak RSS after {label}, MB", peak_rss_mb(worker))
            result.figure("HTTP requests answered 200", f"{statuses.count(200)} of {len(statuses)}")
            result.target("web worker peak RSS, MB", peak_rss_mb(worker), RSS_MB)
    return result


def main() -> int:
    args = arguments(__doc__.splitlines()[0])
    results = [report(run(args.size, kind)) for kind in databases(args.database)]
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
