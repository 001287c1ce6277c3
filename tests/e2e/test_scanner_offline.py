"""The scanner offline: scans are queued in IndexedDB, survive a reload served
by the service worker, and reach the server exactly once each when the network
returns, even when an answer got lost on the way back. Nothing queued is
dropped on an answer the person can fix (a lost session, a wrong code).
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.factories import PASSWORD, attend, make_event, make_user
from webapp.extensions import db
from webapp.models import Contact, Scan

API = "**/api/v1/**"


class People:
    def __init__(self, app) -> None:
        organizer = make_user(app, "org@example.com", name="Olga Organizer", role="organizer")
        self.event = make_event(app, organizer, "Spring Mixer")
        self.sam = make_user(app, "sam@example.com", name="Sam Scanner")
        self.ana = make_user(app, "ana@example.com", name="Ana Attendee")
        self.bo = make_user(app, "bo@example.com", name="Bo Builder")
        self.sam_code = attend(app, self.event, self.sam).badge_code
        self.ana_code = attend(app, self.event, self.ana).badge_code
        self.bo_code = attend(app, self.event, self.bo).badge_code


@pytest.fixture
def people(app, csrf):
    """Sam (who scans), Ana and Bo at one event; CSRF checks on, as in production."""
    return People(app)


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login?next=/scan")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/scan")


def open_scanner(page, base: str, email: str) -> None:
    sign_in(page, base, email)
    # Installed, precached and in control of this page (it claims its clients).
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    expect(page.locator("#sync-status")).to_have_text("All scans synced")


def type_code(page, code: str) -> None:
    page.get_by_label("Type the code under the QR code").fill(code)
    page.get_by_role("button", name="Add", exact=True).click()


def scans(app) -> list[Scan]:
    with app.app_context():
        return list(db.session.scalars(select(Scan).order_by(Scan.id)))


def scan_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Scan))


def eventually(page, predicate, what: str, timeout: float = 15) -> None:
    """Wait for ``predicate``, letting Playwright run route handlers meanwhile."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        page.wait_for_timeout(100)


def force_sync(page) -> None:
    page.evaluate("window.dispatchEvent(new Event('online'))")


def test_offline_scans_wait_then_sync_exactly_once(app, people, live_server, phone):
    page = phone.new_page()
    open_scanner(page, live_server, people.sam.email)
    my_badge = f"{live_server}/events/{people.event.slug}/badge"
    page.goto(my_badge)  # loaded once while online...

    phone.set_offline(True)
    page.route(API, lambda route: route.abort())
    shown = page.goto(my_badge)  # ...so it opens offline too
    assert shown is not None and shown.from_service_worker
    expect(page.locator(".badge-code")).to_contain_text(people.sam_code)
    page.goto(f"{live_server}/scan")
    status = page.locator("#sync-status")
    type_code(page, people.ana_code)
    expect(page.locator("#scan-result")).to_contain_text("Saved on this phone")
    type_code(page, people.bo_code.lower())  # typed in lower case
    # Bo's scan is queued and the note form is his before anything is typed in it.
    expect(status).to_have_text("2 scans waiting to sync")
    # A note typed while the scan is still queued travels with it.
    page.get_by_label("Note about").fill("Wants intros to battery investors")
    page.get_by_text("Introduce someone").click()
    page.get_by_role("button", name="Save note").click()
    expect(page.locator("#scan-result")).to_contain_text("Note saved")  # in IndexedDB before the reload below
    expect(status).to_have_text("2 scans waiting to sync")
    assert scan_count(app) == 0

    # The service worker serves the page offline; the queue lives in IndexedDB.
    reloaded = page.reload()
    assert reloaded is not None and reloaded.from_service_worker
    expect(status).to_have_text("2 scans waiting to sync")
    assert scan_count(app) == 0

    # Back online, but the first answer to each scan is lost on the way back:
    # the server has the scan, the phone doesn't know and sends it again.
    page.unroute(API)
    deliveries: dict[str, int] = {}

    def lose_first_answer(route):
        client_id = route.request.post_data_json["client_id"]
        response = route.fetch()  # the server has answered, so it has committed the scan
        deliveries[client_id] = deliveries.get(client_id, 0) + 1  # counted only now: no race with the asserts
        if deliveries[client_id] == 1:
            route.abort()
        else:
            route.fulfill(response=response)

    page.route("**/api/v1/scans", lose_first_answer)
    phone.set_offline(False)  # fires 'online': the queue syncs
    eventually(page, lambda: len(deliveries) == 1, "the first scan delivered")
    assert scan_count(app) == 1
    force_sync(page)  # the queue backs off after a failure; don't wait for its timer
    eventually(page, lambda: len(deliveries) == 2, "the second scan delivered")
    force_sync(page)
    expect(status).to_have_text("All scans synced")
    assert sorted(deliveries.values()) == [2, 2]  # each reached the server twice...
    expect(page.locator("#recent-list li")).to_have_count(2)
    page.unroute("**/api/v1/scans")
    force_sync(page)
    rows = scans(app)  # ...and is one scan
    assert sorted(s.scanned_id for s in rows) == sorted([people.ana.id, people.bo.id])
    assert len({s.client_id for s in rows}) == 2
    assert all(s.scanner_id == people.sam.id for s in rows)
    def saved_note() -> tuple[str, list[str]]:
        with app.app_context():
            contact = db.session.scalar(select(Contact).filter_by(owner_id=people.sam.id, user_id=people.bo.id))
            return contact.note, [t.name for t in contact.tags]

    # The note follows its scan as a queued PATCH: wait for it rather than racing it.
    eventually(page, lambda: saved_note()[0] != "", "the note synced")
    assert saved_note() == ("Wants intros to battery investors", ["Introduce someone"])
    assert scan_count(app) == 2


def test_a_scan_answered_401_stays_queued_until_signed_in_again(app, people, live_server, phone, browser):
    page = phone.new_page()
    open_scanner(page, live_server, people.sam.email)

    # Sam signs out everywhere from another phone: this page's session is gone.
    other = browser.new_context()
    other_page = other.new_page()
    sign_in(other_page, live_server, people.sam.email)
    other_page.goto(f"{live_server}/account")
    other_page.get_by_role("button", name="Sign out everywhere").click()
    other.close()

    type_code(page, people.ana_code)
    signin = page.locator("#sync-signin")
    expect(signin).to_be_visible()
    expect(signin).to_contain_text("Sign in again to sync")
    expect(page.locator("#sync-status")).to_have_text("1 scan waiting to sync")
    expect(page.locator("#scan-result")).to_contain_text("Sign in again to sync")
    force_sync(page)
    expect(page.locator("#sync-status")).to_have_text("1 scan waiting to sync")
    assert scan_count(app) == 0

    signin.get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill(people.sam.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/scan")
    expect(page.locator("#sync-status")).to_have_text("All scans synced")
    assert [s.scanned_id for s in scans(app)] == [people.ana.id]


def test_rejected_scans_are_listed_until_dismissed(app, people, live_server, phone):
    page = phone.new_page()
    open_scanner(page, live_server, people.sam.email)
    type_code(page, "ZZZZ9999")
    type_code(page, people.sam_code)
    problems = page.locator("#attention-list li")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_contain_text("No badge has that code")
    expect(problems.nth(1)).to_contain_text("That's your own badge.")
    expect(page.locator("#scan-result")).to_contain_text("That's your own badge.")

    page.reload()  # still there: nothing is dropped without the person saying so
    expect(problems).to_have_count(2)
    page.get_by_role("button", name="Dismiss Code ZZZZ9999").click()
    expect(problems).to_have_count(1)
    expect(problems.nth(0)).to_contain_text("That's your own badge.")
    assert scan_count(app) == 0


def test_a_note_after_a_scan_is_saved_to_the_contact(app, people, live_server, phone):
    page = phone.new_page()
    open_scanner(page, live_server, people.sam.email)
    type_code(page, people.ana_code)
    card = page.locator("#scan-result")
    expect(card).to_contain_text("Connected")
    expect(card).to_contain_text("Ana Attendee")
    page.get_by_label("Note about Ana Attendee").fill("Solar, Lisbon")
    page.get_by_text("Refer a client").click()
    page.get_by_role("button", name="Save note").click()
    expect(card).to_contain_text("Note saved")
    expect(page.locator("#sync-status")).to_have_text("All scans synced")

    # Meeting again: the card says so, and the first note stays.
    type_code(page, people.ana_code)
    expect(card).to_contain_text("Met again")
    page.get_by_label("Note about Ana Attendee").fill("Coffee next week")
    type_code(page, people.bo_code)  # the next scan never waits for the note: it saves it
    expect(card).to_contain_text("Bo Builder")
    expect(page.locator("#sync-status")).to_have_text("All scans synced")
    with app.app_context():
        contact = db.session.scalar(select(Contact).filter_by(owner_id=people.sam.id, user_id=people.ana.id))
        eventually(page, lambda: (db.session.refresh(contact), contact.note)[1] == "Solar, Lisbon\nCoffee next week",
                   "the second note")
        assert [t.name for t in contact.tags] == ["Refer a client"]
    assert scan_count(app) == 3


def test_scanner_fits_a_small_phone_with_thumb_sized_controls(app, people, live_server, browser):
    small = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = small.new_page()
    open_scanner(page, live_server, people.sam.email)
    type_code(page, people.ana_code)
    expect(page.locator("#scan-result")).to_contain_text("Connected")
    type_code(page, "ZZZZ9999")
    expect(page.locator("#attention-list li")).to_have_count(1)
    type_code(page, people.bo_code)  # the note step is open again
    expect(page.get_by_role("button", name="Save note")).to_be_visible()

    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    # A chip's checkbox is tapped through its label: the chip is the target.
    controls = page.locator("#scanner").locator("button, input:not([type=checkbox]), textarea, .chip")
    too_small = [
        (control.evaluate("e => e.outerHTML.slice(0, 80)"), box)
        for control in controls.all() if control.is_visible()
        for box in [control.bounding_box()] if box["height"] < 44 or box["width"] < 44
    ]
    assert too_small == []
    small.close()
