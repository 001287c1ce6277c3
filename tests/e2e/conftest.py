"""Browser tests: the app served by a real threaded server, driven by Debian's
Chromium through Playwright at phone size."""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from webapp.extensions import db
from webapp.models import Attendance, Contact, Event, OutboxMessage, User
from webapp.services import demo, schedule

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    """Everything here drives Chromium: ``-m "not browser"`` leaves it out."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def live_server(app):
    """The test app on a free local port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        message = f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        print(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def phone(browser):
    """A fresh phone-sized browser context (its own cookies)."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    yield context
    context.close()


def sign_in(page, base: str, email: str, password: str = demo.DEMO_PASSWORD) -> None:
    """Through the sign-in form, as a person would."""
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture
def seeded(app) -> dict:
    """The demo (with its morning-after recaps sent), and references into it."""
    with app.app_context():
        demo.seed()
        db.session.commit()
        users = {u.email.split("@")[0]: u for u in db.session.scalars(db.select(User))}
        past, upcoming = db.session.scalars(db.select(Event).order_by(Event.starts_at)).all()
        ana = users["ana"]
        known = set(db.session.scalars(db.select(Contact.user_id).filter_by(owner_id=ana.id)))
        badges = {a.user_id: a for a in db.session.scalars(db.select(Attendance).filter_by(event_id=past.id))}
        stranger = next(a for user_id, a in badges.items() if user_id not in known | {ana.id})
        met = db.session.scalar(db.select(Contact).filter_by(owner_id=ana.id, source="scan"))
        digest = db.session.scalar(db.select(OutboxMessage).filter_by(user_id=ana.id, kind="digest"))
        schedule.run_due()
        db.session.commit()
        recap = db.session.scalar(db.select(OutboxMessage).filter_by(user_id=ana.id, kind="recap"))
        links = [urlsplit(href).path for href in re.findall(r'href="([^"]+)"', recap.html_body + digest.html_body)]
        return {
            "past": past.slug, "upcoming": upcoming.slug, "join": upcoming.join_code,
            "ben_badge": badges[users["ben"].id].badge_token, "stranger_badge": stranger.badge_token,
            "ana_id": ana.id, "contact": met.id, "digest": digest.id,
            "email:digest": digest.html_body, "email:recap": recap.html_body,
            # The confirm pages behind the emails' one-click links.
            "followup_link": next(path for path in links if path.startswith("/f/")),
            "touch_link": next(path for path in links if path.startswith("/touch/")),
            "unsubscribe_link": next(path for path in links if path.startswith("/unsubscribe/")),
        }
