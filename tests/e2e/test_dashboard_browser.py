"""The organizer dashboard refreshes itself from stats.json in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.test_stats import at, build_mixer
from webapp.extensions import db
from webapp.models import User
from webapp.services import connections


@pytest.mark.browser
def test_the_dashboard_redraws_from_stats_json_in_a_browser(app, live_server, browser):
    mixer = build_mixer(app)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("olga@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/events/{mixer['slug']}/dashboard")
    expect(page.locator('[data-stat="scans"]')).to_have_text("7")
    expect(page.locator("rect.chart-bar")).to_have_count(3)

    # E meets F at 20:10 UTC: a new connection in a new hour.
    with app.app_context():
        connections.record_scan(db.session.scalar(db.select(User).filter_by(email="e@example.com")),
                                mixer["badges"]["F"], "s8", scanned_at=at(20, 10))
        db.session.commit()
    # Coming back to the tab refreshes at once (rather than waiting up to 15 s).
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")

    expect(page.locator('[data-stat="scans"]')).to_have_text("8")
    expect(page.locator('[data-stat="connections"]')).to_have_text("6")
    expect(page.locator("rect.chart-bar")).to_have_count(4)
    expect(page.locator("text.chart-label")).to_have_text(["18:00", "19:00", "20:00", "21:00"])
    expect(page.locator("rect.chart-bar-peak")).to_have_count(1)
    expect(page.locator("[data-live-status]")).to_contain_text("Updated at")
    context.close()
    assert problems == []
