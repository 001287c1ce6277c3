"""An organizer imports registrants on a laptop, checks one of them in at the
door on a phone, and the laptop's dashboard shows the check-in."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.factories import PASSWORD

CSV = (
    "\ufeffName,Email,Company,Headline\r\n"
    "Marta Silva,marta@example.com,Solara,Grid storage founder\r\n"
    '"Jonas, Jr.",jonas@example.com,"Tally ""Ledgers""",Payments\r\n'
    "No Email,,Acme,Should be listed as a bad row\r\n"
)


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_import_then_check_in_at_the_door_then_see_it_on_the_dashboard(world, live_server, browser, tmp_path):
    slug = world.event.slug
    upload = tmp_path / "registrants.csv"
    upload.write_text(CSV, encoding="utf-8")

    laptop = browser.new_context(viewport={"width": 1280, "height": 800})
    desk = laptop.new_page()
    sign_in(desk, live_server, world.organizer.email)
    desk.goto(f"{live_server}/events/{slug}/imports")
    desk.get_by_label("CSV file").set_input_files(str(upload))
    desk.get_by_role("button", name="Upload and preview").click()
    # The row without an email is left out, named by its spreadsheet line.
    expect(desk.get_by_role("heading", name="1 row left out")).to_be_visible()
    expect(desk.get_by_role("row").filter(has_text="4")).to_be_visible()
    desk.get_by_role("button", name="Import 2 people").click()
    expect(desk.get_by_role("heading", name="Imported")).to_be_visible()

    desk.goto(f"{live_server}/events/{slug}/dashboard")
    expect(desk.locator('[data-stat="registered"]')).to_have_text("3")  # the world's attendee + 2 imported
    expect(desk.locator('[data-stat="checked_in"]')).to_have_text("0")

    phone_context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    door = phone_context.new_page()
    sign_in(door, live_server, world.organizer.email)
    door.goto(f"{live_server}/events/{slug}/door")
    door.get_by_label("Name, email or badge code").fill("marta")
    door.get_by_role("button", name="Find").click()
    door.get_by_role("button", name="Check in Marta Silva").click()
    expect(door.get_by_text("Marta Silva is checked in.")).to_be_visible()
    phone_context.close()

    # Coming back to the dashboard tab refreshes it from stats.json.
    desk.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(desk.locator('[data-stat="checked_in"]')).to_have_text("1")
    laptop.close()
