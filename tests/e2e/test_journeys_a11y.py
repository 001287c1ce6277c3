"""The main journeys, step by step, on a phone and on a laptop: every screen
along the way passes axe-core and fits, and each step does what it says."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.audit import SIZES, new_context, problems_on
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.browser
DATA = Path(__file__).parent.parent / "data"
JOURNEY_SIZES = ["phone-390-light", "desktop-1280-light"]


class Walk:
    """One person's signed-in page, and the problems found on each screen visited so far."""

    def __init__(self, browser, size_name: str, base: str, email: str) -> None:
        self.size = SIZES[size_name]
        self.context = new_context(browser, self.size)
        self.page, self.problems = self.context.new_page(), []
        sign_in(self.page, base, email)

    def finish(self) -> None:
        self.context.close()
        assert self.problems == [], "\n".join(self.problems)

    def check(self, step: str) -> None:
        self.page.wait_for_load_state()
        self.problems += [f"{step}: {problem}" for problem in problems_on(self.page, self.size)]


@pytest.mark.parametrize("size_name", JOURNEY_SIZES)
def test_an_attendee_meets_someone_follows_up_and_logs_a_touch(app, seeded, live_server, browser, size_name):
    walk = Walk(browser, size_name, live_server, "ana@meetloop.example")
    page = walk.page
    walk.check("home")

    page.goto(f"{live_server}/b/{seeded['stranger_badge']}")
    name = page.locator(".connect-card h2").inner_text()
    walk.check("connect")
    page.get_by_label("Note (only you see it)").fill("Wants a pilot in March")
    page.locator("label.chip", has_text="Refer a client").click()
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(page.get_by_role("status").filter(has_text=f"Connected with {name}")).to_be_visible()
    walk.check("connected")

    page.get_by_role("link", name="Follow-ups").click()
    entry = page.locator("article.followup", has_text=name)
    expect(entry).to_contain_text("Wants a pilot in March")
    walk.check("follow-ups")
    entry.get_by_role("button", name="Mark followed up").click()
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.locator("article.followup", has_text=name)).to_have_count(0)
    walk.check("followed up")

    page.get_by_role("link", name="People").click()
    page.get_by_role("link", name=name).first.click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    walk.check("contact")
    page.get_by_label("What did you do?").select_option(label="Call")
    page.get_by_role("button", name="Log it").click()
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.locator("section", has_text="History")).to_contain_text("Call")
    walk.check("touch logged")

    page.goto(f"{live_server}/contacts/import")
    page.get_by_label("Contacts file").set_input_files(str(DATA / "vcards" / "broken.vcf"))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import broken.vcf")
    walk.check("contact import preview")
    walk.finish()


@pytest.mark.parametrize("size_name", JOURNEY_SIZES)
def test_an_organizer_checks_someone_in_and_watches_the_dashboard(app, seeded, live_server, browser, size_name):
    walk = Walk(browser, size_name, live_server, "organizer@meetloop.example")
    page = walk.page

    page.get_by_role("link", name="Events").click()
    page.get_by_role("link", name="Lisbon Tech Mixer — Autumn").first.click()
    walk.check("event")
    page.goto(f"{live_server}/events/{seeded['past']}/door")
    walk.check("door")
    page.get_by_role("searchbox").fill("Lena")
    page.get_by_role("button", name="Find").click()
    walk.check("door search")
    page.get_by_role("button", name="Check in Lena Fischer").click()
    expect(page.get_by_role("status").filter(has_text="Lena Fischer")).to_be_visible()
    expect(page.locator("#checked-in-count")).to_have_text("12")
    walk.check("checked in")

    page.goto(f"{live_server}/events/{seeded['past']}/dashboard")
    expect(page.locator('[data-stat="checked_in"]')).to_have_text("12")
    walk.check("dashboard")
    page.goto(f"{live_server}/events/{seeded['past']}/attendees")
    walk.check("attendees")

    # Registrants for the next event: one good row, one without an email.
    page.goto(f"{live_server}/events/{seeded['upcoming']}/imports")
    page.get_by_label("CSV file").set_input_files(files={
        "name": "registrants.csv", "mimeType": "text/csv",
        "buffer": b"name,email,company\nRosa Lima,rosa@example.com,Lima & Co\nNo Address,,\n"})
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.locator("main")).to_contain_text("rosa@example.com")
    walk.check("registrant import preview")
    walk.finish()
