"""Someone who opens an invitation on their phone is signed in, shown their
badge and told how to connect in at most three screens, each of them passing
the accessibility and thumb-size audit."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.conftest import BASE_URL, Auth
from tests.e2e.audit import axe_problems, layout_problems
from tests.factories import make_event, make_user
from webapp.extensions import db
from webapp.jobs import import_registrants
from webapp.models import Attendance, Event, RegistrantImport, User
from webapp.services import registrant_import

PHONE = {"width": 390, "height": 844}
MAX_SCREENS = 3


class Screens:
    """The pages the person sees: each main-frame document that commits (a
    redirect's hops never show, so they don't count)."""

    def __init__(self, page, base: str) -> None:
        self.paths: list[str] = []
        self.problems: list[str] = []
        page.on("framenavigated", lambda frame: self._seen(page, frame, base))

    def _seen(self, page, frame, base: str) -> None:
        if frame == page.main_frame and frame.url.startswith(base):
            self.paths.append(urlsplit(frame.url).path)

    def audit(self, page) -> None:
        """Record this screen's accessibility and layout problems."""
        path = urlsplit(page.url).path
        self.problems += [f"{path}: {p}" for p in axe_problems(page) + layout_problems(page, touch=True)]


def above_the_fold(page, locator) -> bool:
    """Whether ``locator`` is wholly on the first screen, before any scrolling."""
    box = locator.bounding_box()
    scrolled = page.evaluate("window.scrollY")
    return box is not None and scrolled == 0 and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]


def organizer_invitation(app, outbox) -> tuple[str, str]:
    """An organizer invites Ivy from the event page; returns her emailed link and the event's slug."""
    olga = make_user(app, "olga@example.com", name="Olga Organizer", role="organizer")
    event = make_event(app, olga, "Spring Mixer")
    organizer = app.test_client()
    Auth(organizer).as_user(olga)
    sent = organizer.post(f"/events/{event.slug}/invite",
                          data={"invite-name": "Ivy Invited", "invite-email": "ivy@example.com"})
    assert sent.status_code == 302
    return outbox.link(outbox.last("ivy@example.com"), "/invite/"), event.slug


def registrant_import_invitation(app, outbox) -> tuple[str, str]:
    """The organizers import a CSV with Ivy in it; returns her emailed link and the event's slug."""
    olga = make_user(app, "olga@example.com", name="Olga Organizer", role="organizer")
    event = make_event(app, olga, "Spring Mixer")
    with app.app_context():
        imp = registrant_import.create_import(db.session.get(Event, event.id), db.session.get(User, olga.id),
                                              "people.csv", b"name,email\r\nIvy Invited,ivy@example.com\r\n")
        registrant_import.start(imp)
        db.session.commit()
        import_registrants(imp.id)  # the worker's task, run inline
        assert db.session.get(RegistrantImport, imp.id).status == "done"
    return outbox.link(outbox.last("ivy@example.com"), "/invite/"), event.slug


def badge_code(app, slug: str, email: str) -> str:
    with app.app_context():
        return db.session.scalar(
            db.select(Attendance.badge_code).join(User, User.id == Attendance.user_id)
            .join(Event, Event.id == Attendance.event_id)
            .where(Event.slug == slug, User.email == email))


def expect_badge_with_how_to(page, code: str) -> None:
    """Signed in, the QR (named with the badge code) on the first screen, the how-to under it."""
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Me", exact=True)).to_be_visible()
    qr = page.get_by_role("img", name=re.compile("QR code"))
    expect(qr).to_have_accessible_name(re.compile(re.escape(code)))
    assert above_the_fold(page, qr), "the QR code must be on the first screen"
    how_to = page.get_by_role("region", name="How to connect")
    expect(how_to).to_be_visible()
    expect(how_to.get_by_role("listitem")).to_have_count(3)
    expect(how_to.get_by_role("button", name="Scan someone")).to_be_visible()


@pytest.mark.browser
@pytest.mark.parametrize("invitation", [organizer_invitation, registrant_import_invitation],
                         ids=["organizer's invitation", "registrant import"])
def test_an_emailed_invitation_reaches_the_badge_and_how_to_connect_within_three_screens(
        app, live_server, phone, outbox, invitation):
    link, slug = invitation(app, outbox)
    page = phone.new_page()  # the phone's browser, where the mail app opens the link
    screens = Screens(page, live_server)

    page.goto(link.replace(BASE_URL, live_server))
    join = page.get_by_role("button", name=re.compile("^(Join Spring Mixer|Get my badge)$"))
    expect(join).to_be_visible()
    expect(page.get_by_text("You'll get your badge next")).to_be_visible()
    assert above_the_fold(page, join), "the join button must be on the first screen"
    screens.audit(page)

    join.click()
    page.wait_for_url(f"{live_server}/events/{slug}/badge")
    expect_badge_with_how_to(page, badge_code(app, slug, "ivy@example.com"))
    screens.audit(page)

    assert len(screens.paths) <= MAX_SCREENS, screens.paths
    assert screens.paths[-1] == f"/events/{slug}/badge" and screens.paths[0].startswith("/invite/")
    assert screens.problems == []

    page.get_by_role("button", name="Scan someone").click()
    page.wait_for_url(f"{live_server}/scan")


@pytest.mark.browser
def test_the_public_join_link_ends_on_the_badge_with_how_to_connect(app, browser, live_server, phone, outbox):
    olga = make_user(app, "olga@example.com", name="Olga Organizer", role="organizer")
    event = make_event(app, olga, "Spring Mixer")
    page = phone.new_page()
    screens = Screens(page, live_server)
    page.goto(f"{live_server}/join/{event.join_code}")
    screens.audit(page)
    page.get_by_label("Name").fill("Nia Newcomer")
    page.get_by_label("Email").fill("nia@example.com")
    page.get_by_role("button", name="Email me a link to join").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    screens.audit(page)

    # The mail app may open the link in another browser (iOS: Safari), so a new context.
    link = outbox.link(outbox.last("nia@example.com"), "/login/link/").replace(BASE_URL, live_server)
    safari = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    tab = safari.new_page()
    tab_screens = Screens(tab, live_server)
    tab.goto(link)
    tab_screens.audit(tab)
    tab.get_by_role("button", name="Sign me in").click()
    join = tab.get_by_role("button", name="Join as Nia Newcomer")
    expect(join).to_be_visible()
    tab_screens.audit(tab)
    join.click()
    tab.wait_for_url(f"{live_server}/events/{event.slug}/badge")
    expect_badge_with_how_to(tab, badge_code(app, event.slug, "nia@example.com"))
    tab_screens.audit(tab)
    safari.close()
    assert screens.problems + tab_screens.problems == []
