"""A signed-out visitor opens a badge URL, signs in by emailed link, connects
with a note, and both sides see the contact."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.conftest import BASE_URL
from tests.factories import PASSWORD, attend, make_user
from webapp.extensions import db
from webapp.models import Contact


def test_signed_out_visitor_connects_through_a_magic_link(app, world, live_server, phone, browser, outbox):
    bo = make_user(app, "bo@example.com", name="Bo Builder", headline="Battery startup CTO", password=None)
    attend(app, world.event, bo)
    page = phone.new_page()

    page.goto(f"{live_server}/b/{world.attendee_badge}")
    expect(page.get_by_role("heading", name="You scanned a MeetLoop badge")).to_be_visible()
    assert "Ana Attendee" not in page.content()
    page.get_by_label("Email").fill(bo.email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    # The mail app opens the link in another browser (iOS: Safari), so a new context.
    link = outbox.link(outbox.last(bo.email), "/login/link/").replace(BASE_URL, live_server)
    safari = browser.new_context(viewport=phone.pages[0].viewport_size, is_mobile=True, has_touch=True)
    tab = safari.new_page()
    tab.goto(link)
    tab.get_by_role("button", name="Sign me in").click()
    expect(tab.get_by_role("heading", name="Ana Attendee")).to_be_visible()
    tab.get_by_label("Note (only you see it)").fill("Met at the coffee bar")
    tab.get_by_text("Refer a client").click()
    tab.get_by_role("button", name="Connect").click()
    expect(tab.get_by_text("Connected with Ana Attendee.")).to_be_visible()
    expect(tab.get_by_text("Met at the coffee bar")).to_be_visible()
    safari.close()

    with app.app_context():
        mine = db.session.scalar(db.select(Contact).filter_by(owner_id=bo.id))
        theirs = db.session.scalar(db.select(Contact).filter_by(owner_id=world.attendee.id))
        assert mine.user_id == world.attendee.id and mine.note == "Met at the coffee bar"
        assert [t.name for t in mine.tags] == ["Refer a client"]
        assert theirs.user_id == bo.id and theirs.scanned_me

    # Ana, on her own phone, sees who scanned her.
    ana = browser.new_context(viewport=phone.pages[0].viewport_size, is_mobile=True)
    ana_page = ana.new_page()
    ana_page.goto(f"{live_server}/login")
    ana_page.get_by_label("Email").fill(world.attendee.email)
    ana_page.get_by_label("Password").fill(PASSWORD)
    ana_page.get_by_role("button", name="Sign in").click()
    ana_page.goto(f"{live_server}/contacts")
    expect(ana_page.get_by_text("Bo Builder")).to_be_visible()
    ana.close()
