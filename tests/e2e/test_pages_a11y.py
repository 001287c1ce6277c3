"""Every page, filled with the demo's data, on phones from 360 to 430 px wide
and on a laptop, light and dark: axe-core finds nothing serious or critical,
nothing scrolls sideways, and on a phone every control is thumb-sized."""

from __future__ import annotations

from typing import NamedTuple

import pytest
from playwright.sync_api import expect

from tests.e2e.audit import SIZES, layout_problems, new_context, problems_on
from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, attend, make_event, make_user

pytestmark = pytest.mark.browser


class Screen(NamedTuple):
    name: str
    path: str  # formatted with the ``seeded`` fixture's values; ``email:KIND`` is that email's HTML


# Who looks at which pages. Anonymous visitors first, then the attendee (Ana),
# the organizer and the site admin of the demo.
SCREENS = {
    "visitor": (
        Screen("landing", "/"), Screen("sign in", "/login"), Screen("sign up", "/signup"),
        Screen("sign-in link", "/login/link"), Screen("password reset", "/reset"),
        Screen("badge scanned while signed out", "/b/{ben_badge}"), Screen("join an event", "/join/{join}"),
        Screen("not found", "/nowhere"),
    ),
    "ana": (
        Screen("home", "/"), Screen("my events", "/events"), Screen("past event", "/events/{past}"),
        Screen("upcoming event", "/events/{upcoming}"), Screen("my badge", "/events/{past}/badge"),
        Screen("scanner", "/scan"), Screen("connect (met before)", "/b/{ben_badge}"),
        Screen("connect (new)", "/b/{stranger_badge}"), Screen("who's here", "/events/{past}/people"),
        Screen("contacts", "/contacts"), Screen("a contact", "/contacts/{contact}"),
        Screen("losing touch", "/contacts/losing-touch"), Screen("add a contact", "/contacts/new"),
        Screen("import contacts", "/contacts/import"), Screen("who scanned me", "/contacts/scanned-me"),
        Screen("tags", "/tags"), Screen("follow-ups", "/follow-ups"), Screen("profile", "/profile"),
        Screen("edit profile", "/profile/edit"), Screen("email preferences", "/settings/email"),
        Screen("API tokens", "/settings/tokens"), Screen("account", "/account"),
        Screen("delete account", "/account/delete"),
        Screen("follow-up link from a recap", "{followup_link}"), Screen("touch link from a digest", "{touch_link}"),
        Screen("unsubscribe link", "{unsubscribe_link}"),
    ),
    "organizer": (
        Screen("new event", "/events/new"), Screen("edit event", "/events/{past}/edit"),
        Screen("attendees", "/events/{past}/attendees"), Screen("door check-in", "/events/{past}/door"),
        Screen("dashboard", "/events/{past}/dashboard"), Screen("badge sheets", "/events/{past}/badges"),
        Screen("registrant imports", "/events/{past}/imports"), Screen("recaps", "/events/{past}/recaps"),
        Screen("recap preview", "/events/{past}/recaps/preview/{ana_id}"),
        Screen("check someone in", "/b/{ben_badge}"),
    ),
    "admin": (
        Screen("site admin", "/admin"), Screen("users", "/admin/users"), Screen("mail log", "/admin/mail"),
        Screen("a mail message", "/admin/mail/{digest}"), Screen("digest email", "email:digest"),
        Screen("recap email", "email:recap"),
        Screen("health", "/admin/health"), Screen("audit log", "/admin/audit"),
    ),
}


def test_at_least_fifteen_named_screens_are_checked():
    names = [screen.name for screens in SCREENS.values() for screen in screens]
    assert len(names) == len(set(names)) >= 15


@pytest.mark.parametrize("who", list(SCREENS))
@pytest.mark.parametrize("size_name", list(SIZES))
def test_every_screen_passes_axe_and_fits_the_screen(app, seeded, live_server, browser, who, size_name):
    size = SIZES[size_name]
    context = new_context(browser, size)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    if who != "visitor":
        sign_in(page, live_server, f"{who}@meetloop.example")
    report = []
    for screen in SCREENS[who]:
        if screen.path.startswith("email:"):
            # As a mail app shows it: a blank page, no site CSP (the admin page frames it sandboxed).
            mail = context.new_page()
            mail.set_content(seeded[screen.path])
            report += [f"{screen.name}: {problem}" for problem in problems_on(mail, size)]
            mail.close()
            continue
        response = page.goto(live_server + screen.path.format(**seeded))
        expected = 404 if screen.name == "not found" else 200
        if response.status != expected:
            report.append(f"{screen.name}: answered {response.status}")
        report += [f"{screen.name}: {problem}" for problem in problems_on(page, size)]
    context.close()
    assert report == [], "\n".join(report)
    assert errors == []


@pytest.fixture
def newcomer(app):
    """Someone who just signed up and joined an event: nothing met, tagged or due yet."""
    organizer = make_user(app, "olga@example.com", name="Olga Organizer", role="organizer")
    event = make_event(app, organizer, "Porto Founders Breakfast")
    user = make_user(app, "nina@example.com", name="Nina Newcomer")
    attend(app, event, user)
    return {"user": user, "event": event}


# An empty page says so and points to the next step (a link or a button).
EMPTY = (
    ("/", "No connections yet", "Open the scanner"),
    ("/contacts", "No contacts yet", "scanner"),
    ("/contacts/losing-touch", "Nobody to keep track of yet", "Tags"),
    ("/contacts/scanned-me", "Nobody has scanned your badge yet", None),
    ("/tags", "No tags yet", "Contacts"),
    ("/follow-ups", "No follow-ups yet", "Open the scanner"),
    ("/settings/tokens", "No tokens yet", None),
)


@pytest.mark.parametrize("size_name", ["phone-360-dark", "desktop-1280-light"])
def test_empty_pages_say_what_to_do_next(app, newcomer, live_server, browser, size_name):
    size = SIZES[size_name]
    context = new_context(browser, size)
    page = context.new_page()
    sign_in(page, live_server, "nina@example.com", PASSWORD)
    report = []
    for path, message, next_step in EMPTY:
        page.goto(live_server + path)
        empty = page.locator(".empty", has_text=message)
        expect(empty).to_be_visible()
        if next_step:
            expect(page.locator("main a[href]", has_text=next_step).first).to_be_visible()
        report += [f"{path}: {problem}" for problem in problems_on(page, size)]
    context.close()
    assert report == [], "\n".join(report)


def test_field_errors_are_announced_and_tied_to_their_inputs(app, newcomer, live_server, browser):
    size = SIZES["phone-390-light"]
    context = new_context(browser, size)
    page = context.new_page()
    sign_in(page, live_server, "nina@example.com", PASSWORD)
    page.goto(f"{live_server}/contacts/new")
    page.get_by_label("Email").fill("rosa@example")  # the browser accepts it, the server does not
    page.get_by_role("button", name="Add").click()
    invalid = page.locator("[aria-invalid=true]")
    expect(invalid).to_have_count(1)
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    error = page.locator("#" + page.get_by_label("Email").get_attribute("aria-describedby"))
    expect(error).to_be_visible()
    assert "email" in error.inner_text().lower()
    assert problems_on(page, size) == []

    # A flash message is read out: a success is a status, a failure an alert.
    page.get_by_label("Name", exact=True).fill("Rosa Lima")
    page.get_by_label("Email").fill("rosa@example.com")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("status").filter(has_text="Rosa Lima")).to_be_visible()
    context.close()


def test_a_keyboard_alone_signs_in_and_connects(app, world, live_server, browser):
    """Tab order follows the page, focus is always visible, Enter submits."""
    bo = make_user(app, "bo@example.com", name="Bo Builder")
    attend(app, world.event, bo)
    context = new_context(browser, SIZES["desktop-1280-light"])
    page = context.new_page()
    page.goto(f"{live_server}/login?next=/b/{world.attendee_badge}")

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    focused = []
    for _ in range(12):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        assert page.evaluate(_FOCUS_VISIBLE), f"no visible focus on {focused[-1]!r}"
        if focused[-1] == "email":
            break
    assert focused[-1] == "email", f"the email field was not reached from the skip link: {focused}"
    page.keyboard.type(bo.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Ana Attendee")).to_be_visible()

    connect = page.get_by_role("button", name="Connect")
    for _ in range(30):
        if connect.evaluate("button => button === document.activeElement"):
            break
        page.keyboard.press("Tab")
        assert page.evaluate(_FOCUS_VISIBLE)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Connected with Ana Attendee.")).to_be_visible()
    context.close()


# The focused element draws an outline or a ring (box-shadow) the eye can find.
_FOCUS_VISIBLE = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return false;
  const style = getComputedStyle(el);
  return (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none';
}
"""


def test_long_names_and_addresses_never_push_the_page_sideways(app, world, live_server, browser):
    long_name = "Maximiliana Bartholomew-Featherstonehaugh Wolfeschlegelsteinhausenbergerdorff"
    long_email = "maximiliana.bartholomew.featherstonehaugh.wolfeschlegelstein@a-very-long-company-domain.example"
    guest = make_user(app, long_email, name=long_name, headline="Chief " + "Supercalifragilistic" * 4 + " Officer",
                      company="Internationalisierungsdienstleistungsgesellschaft mbH")
    attend(app, world.event, guest)
    size = SIZES["phone-360-dark"]
    context = new_context(browser, size)
    page = context.new_page()
    sign_in(page, live_server, long_email, PASSWORD)
    page.goto(f"{live_server}/b/{world.attendee_badge}")
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_text("Connected with Ana Attendee.")).to_be_visible()
    report = []
    for path in ("/", "/events", f"/events/{world.event.slug}/badge", "/contacts", "/profile", "/follow-ups",
                 "/settings/email"):
        page.goto(live_server + path)
        report += [f"{path}: {problem}" for problem in layout_problems(page, touch=True)]
    context.close()
    assert report == [], "\n".join(report)


def in_view(page, locator) -> bool:
    """Whether the whole of ``locator`` is on screen without scrolling."""
    box = locator.bounding_box()
    viewport = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] \
        and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]


def test_the_badge_the_scanner_and_connect_work_with_one_thumb(app, seeded, live_server, browser):
    """On a 390 by 844 phone the thing to do on each is on the first screen, in reach."""
    context = new_context(browser, SIZES["phone-390-light"])
    page = context.new_page()
    sign_in(page, live_server, "ana@meetloop.example")

    page.goto(f"{live_server}/events/{seeded['past']}/badge")
    assert in_view(page, page.get_by_role("img", name="QR code"))

    page.goto(f"{live_server}/b/{seeded['stranger_badge']}")
    connect = page.get_by_role("button", name="Connect", exact=True)
    assert in_view(page, connect)
    page.get_by_label("Note (only you see it)").fill("Talked about pilots")
    assert in_view(page, connect), "Connect stays in reach while the note is typed"
    connect.click()
    expect(page.get_by_role("status").filter(has_text="Connected with")).to_be_visible()

    page.goto(f"{live_server}/scan")
    for control in (page.locator(".viewfinder"), page.locator("#manual-code")):
        assert in_view(page, control)
    context.close()
