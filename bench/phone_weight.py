"""Phone weight: what a phone downloads the first time it opens ``/scan``
(signed in, cold cache), measured in a real browser (Chromium at 390x844)
against a live server, and whether a reload without any network is served by
the service worker.

Target: the HTML + CSS + JS of that first load, as transferred (compressed,
if the server compresses), at most 100 KB; the ``.wasm`` decoder is left out.
The service worker's own downloads while it installs count too (they are part
of the first visit). Each resource's raw size and the gzip size a compressing
proxy would send are printed beside what was transferred.

    .venv/bin/python -m bench.phone_weight
"""

from __future__ import annotations

import gzip
import logging
import os
import secrets
import shutil
import sys
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.common import Result, arguments, fresh_database, make_app, report

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
LIMIT_KB = 100.0
COUNTED = ("html", "css", "javascript")  # by content type
PAGE_PARTS = ("document", "stylesheet", "script")  # what an offline reload must get from the service worker
SECRET_KEY = secrets.token_hex(24)


@dataclass(frozen=True)
class Download:
    path: str
    kind: str  # html, css, javascript, wasm, json, image, other
    by_worker: bool  # fetched by the service worker (installing), not by the page
    raw: int  # bytes of the body as the browser sees it
    transferred: int  # body bytes on the wire (compressed when the server compressed)
    encoding: str
    gzip: int  # the body gzipped, as a compressing proxy would send it

    @property
    def counted(self) -> bool:
        return self.kind in COUNTED


def kind_of(content_type: str, path: str) -> str:
    if path.endswith(".wasm") or "wasm" in content_type:
        return "wasm"
    for kind in ("html", "css", "javascript", "json", "image"):
        if kind in content_type:
            return kind
    return "other"


def downloads(requests) -> list[Download]:
    """What came over the network (not from a cache or the service worker)."""
    found = []
    for request in requests:
        response = request.response()
        if response is None or response.from_service_worker or response.status == 304:
            continue
        body = response.body()
        if not body:
            continue  # revalidated (304) for the worker's cache: nothing came but headers
        headers = response.headers
        encoding = headers.get("content-encoding", "identity")
        zipped = len(gzip.compress(body, 6))
        sent = request.sizes()["responseBodySize"]
        if sent < 0.8 * zipped:  # the worker's own script: Chromium reports a few bytes; count what must have come
            sent = zipped if encoding == "gzip" else len(body)
        found.append(Download(
            path=urlsplit(request.url).path, kind=kind_of(headers.get("content-type", ""), request.url),
            by_worker=request.service_worker is not None, raw=len(body), transferred=sent, encoding=encoding,
            gzip=zipped,
        ))
    return found


def sign_in(context, base_url: str, app, user) -> None:
    """The session cookie a sign-in leaves, so no sign-in page warms the cache first."""
    value = app.session_interface.get_signing_serializer(app).dumps({"_user_id": user.get_id(), "_fresh": True})
    context.add_cookies([{"name": app.config["SESSION_COOKIE_NAME"], "value": value, "url": base_url}])


def measure(browser, base_url: str, app, user) -> tuple[Result, list[Download], dict]:
    """First load of /scan, then a reload with the network off. Returns the
    result, every download of the first load, and what the offline reload showed."""
    result = Result("phone_weight", "full")
    context = browser.new_context(**PHONE)
    try:
        sign_in(context, base_url, app, user)
        seen: list = []
        context.on("requestfinished", lambda request: seen.append(request))
        page = context.new_page()
        assert page.goto(f"{base_url}/scan").status == 200
        # Installed, everything precached, and in control of the page (it claims its clients).
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)
        page.wait_for_load_state("networkidle")
        first = downloads(seen)

        failed: list = []
        context.on("requestfailed", lambda request: failed.append(request))
        seen.clear()
        context.set_offline(True)
        reloaded = page.reload()
        page.wait_for_load_state("networkidle")
        # The page's own requests: the worker's background refreshes fail offline, as they may.
        mine = [r for r in seen if r.service_worker is None]
        offline = {
            "from_worker": bool(reloaded and reloaded.from_service_worker),
            "scanner_shown": page.locator("#scanner-title").inner_text() == "Scan badges",
            "failed": sorted(urlsplit(r.url).path for r in failed if r.service_worker is None),
            "not_from_worker": sorted(urlsplit(r.url).path for r in mine + [r for r in failed if r.service_worker
                                                                             is None]
                                      if r.resource_type in PAGE_PARTS and not (r.response() and
                                                                                r.response().from_service_worker)),
        }
    finally:
        context.close()
    counted = [d for d in first if d.counted]
    for d in sorted(first, key=lambda d: -d.raw):
        who = "service worker" if d.by_worker else "page"
        result.figure(f"{d.path} ({who})", f"{d.raw / 1024:,.1f} KB raw, {d.transferred / 1024:,.1f} KB sent "
                                           f"({d.encoding}), gzip {d.gzip / 1024:,.1f} KB")
    result.figure("HTML+CSS+JS raw, KB", sum(d.raw for d in counted) / 1024)
    result.figure("HTML+CSS+JS gzipped as a proxy would, KB", sum(d.gzip for d in counted) / 1024)
    result.figure("left out: .wasm transferred, KB", sum(d.transferred for d in first if d.kind == "wasm") / 1024)
    result.figure("offline reload: the page's failed requests", ", ".join(offline["failed"]) or "none")
    result.figure("offline reload: page parts not from the worker", ", ".join(offline["not_from_worker"]) or "none")
    result.target("first load HTML+CSS+JS transferred, KB", sum(d.transferred for d in counted) / 1024, LIMIT_KB)
    result.target("offline reload served by the service worker (1 = yes)",
                  float(offline["from_worker"] and offline["scanner_shown"] and not offline["not_from_worker"]), 1.0,
                  higher_is_better=True)
    return result, first, offline


def serve(app):
    """The app on a free local port in threads; returns (base URL, stop)."""
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_port}", server.shutdown


def run(size: str = "full", database: str = "sqlite") -> Result:
    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        raise SystemExit(f"phone_weight needs Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    from webapp.extensions import db
    from webapp.services import accounts

    with fresh_database(database) as url:
        app = make_app(url, SECRET_KEY=SECRET_KEY, RATELIMIT_ENABLED=False)
        with app.app_context():
            user = accounts.create_user("phone@bench.example", "Pat Phone", verified=True)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
        base_url, stop = serve(app)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                try:
                    result = measure(browser, base_url, app, user)[0]
                finally:
                    browser.close()
        finally:
            stop()
    result.size, result.database = size, ""
    return result


def main() -> int:
    args = arguments(__doc__.splitlines()[0])
    return 0 if report(run(args.size, "sqlite")).met else 1


if __name__ == "__main__":
    sys.exit(main())
