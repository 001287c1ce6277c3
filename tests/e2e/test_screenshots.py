"""Pictures of the key screens, taken from the demo in a real Chromium: the
README shows them, and ``make screenshots`` regenerates them into
docs/screenshots/ (``SCREENSHOTS_DIR``). Without that variable they go to a
temporary folder, so the suite checks they can still be taken.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.conftest import PHONE
from tests.e2e.test_scanner_camera import FRAME, camera_browser, camera_video, require_ffmpeg  # noqa: F401
from webapp.extensions import db
from webapp.models import Attendance, Contact, Event, OutboxMessage, User
from webapp.services import badge_pdf, badge_sheets, badges, demo, digest

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE_SCALE = 2
SHEET_SCALE = 1.5  # PDF points to pixels: names on an A4 page of eight stay readable
A4_POINTS = (595.28, 841.89)
MAX_BYTES = 300 * 1024
MAX_TOTAL = int(2.5 * 1024 * 1024)
PHONE_PIXELS = (PHONE["width"] * PHONE_SCALE, PHONE["height"] * PHONE_SCALE)
SHEET_PIXELS = tuple(round(side * SHEET_SCALE) for side in A4_POINTS)
EXPECTED = {
    "badge.png": PHONE_PIXELS, "scanner.png": PHONE_PIXELS, "connect.png": PHONE_PIXELS,
    "follow-ups.png": PHONE_PIXELS, "losing-touch.png": PHONE_PIXELS, "digest-email.png": PHONE_PIXELS,
    "home.png": PHONE_PIXELS, "door.png": PHONE_PIXELS,
    "dashboard.png": (DESKTOP["width"], DESKTOP["height"]), "badge-sheet.png": SHEET_PIXELS,
}


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def demo_world(app) -> dict:
    """The demo, and what the pictures need from it."""
    with app.app_context():
        demo.seed()
        db.session.commit()
        users = {u.email.split("@")[0]: u for u in db.session.scalars(select(User))}
        past = db.session.scalars(select(Event).order_by(Event.starts_at)).first()
        attendances = {a.user_id: a for a in db.session.scalars(select(Attendance).filter_by(event_id=past.id))}
        ana = users["ana"]
        known = set(db.session.scalars(select(Contact.user_id).where(Contact.owner_id == ana.id)))
        strangers = sorted((u for u in users.values() if u.id in attendances and u.id not in known | {ana.id}),
                           key=lambda u: u.name)
        assert len(strangers) >= 2, "the demo should leave Ana people at the event she hasn't met"
        message = db.session.scalar(select(OutboxMessage).filter_by(kind=digest.KIND, user_id=ana.id))
        assert message is not None, "the demo queues Ana's weekly digest"
        return {
            "past": past.slug, "ana_badge_url": badges.badge_url(attendances[ana.id]),
            "scanned": strangers[0].name, "scanned_badge": single_badge(past, attendances[strangers[0].id]),
            "scanned_code": attendances[strangers[0].id].badge_code,
            "stranger": strangers[1].name, "stranger_token": attendances[strangers[1].id].badge_token,
            "digest": message.id,
        }


def single_badge(event: Event, attendance: Attendance) -> bytes:
    """One printed badge, as the PDF it would be printed from: what the camera sees."""
    everyone = badge_sheets.sheet_badges(event)
    mine = next(b for b in everyone if b.code == attendance.badge_code)
    return badge_pdf.render_sheet([mine], paper="a4", layout=8, title="Badge")


def pdf_page(pdf: bytes, scale: float) -> Image.Image:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return document[0].render(scale=scale).to_pil().convert("RGB")
    finally:
        document.close()


def camera_frame(pdf: bytes, path: Path) -> Path:
    """The printed badge held up to the camera: the first cell of an eight-up A4
    page (two columns, four rows), on a dark table."""
    page = pdf_page(pdf, 3)
    badge = page.crop((0, 0, page.width // 2, page.height // 4))
    badge.thumbnail((FRAME[0] - 40, FRAME[1] - 40))
    frame = Image.new("RGB", FRAME, (70, 74, 82))
    frame.paste(badge, ((FRAME[0] - badge.width) // 2, (FRAME[1] - badge.height) // 2))
    frame.save(path)
    return path


def save(image: Image.Image, path: Path) -> None:
    """A PNG small enough for the repository: reduced to 256 colours only when the
    full-colour file would be too heavy (text and flat fills barely change)."""
    image.save(path, optimize=True)
    if path.stat().st_size > MAX_BYTES:
        image.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)


def shoot(page, path: Path) -> None:
    save(Image.open(io.BytesIO(page.screenshot(animations="disabled", caret="hide"))), path)


def sign_in(context, base: str, email: str, then: str = "/"):
    page = context.new_page()
    page.goto(f"{base}/login?next={then}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)
    return page


def phone_context(browser):
    return browser.new_context(viewport=PHONE, device_scale_factor=PHONE_SCALE, is_mobile=True, has_touch=True)


def attendee_screens(browser, base: str, world: dict, shots: Path) -> None:
    context = phone_context(browser)
    page = sign_in(context, base, "ana@meetloop.example")
    expect(page.get_by_role("heading").first).to_be_visible()
    shoot(page, shots / "home.png")

    page.goto(f"{base}/events/{world['past']}/badge")
    expect(page.locator(".badge-qr svg")).to_be_visible()
    shoot(page, shots / "badge.png")

    page.goto(f"{base}/b/{world['stranger_token']}")
    expect(page.get_by_role("heading", name=world["stranger"])).to_be_visible()
    expect(page.get_by_role("button", name="Connect", exact=True)).to_be_visible()
    shoot(page, shots / "connect.png")

    page.goto(f"{base}/follow-ups")
    shoot(page, shots / "follow-ups.png")
    page.goto(f"{base}/contacts/losing-touch")
    expect(page.get_by_text("Marta Silva")).to_be_visible()
    shoot(page, shots / "losing-touch.png")
    context.close()


def scanner_screen(camera, browser, base: str, world: dict, shots: Path, scratch: Path) -> None:
    """Ana's phone camera reads a printed badge; with no ffmpeg to make a camera
    video, the code is typed instead (the same confirmation card)."""
    video = None
    if shutil.which("ffmpeg") or os.environ.get("REQUIRE_BROWSER") == "1":
        frame = camera_frame(world["scanned_badge"], scratch / "badge-frame.png")
        video = camera_video(require_ffmpeg(), [frame], scratch / "camera.y4m")
    context = phone_context(camera(video) if video else browser)
    page = sign_in(context, base, "ana@meetloop.example", then="/scan")
    if video is None:
        page.get_by_label("No luck with the camera?").fill(world["scanned_code"])
        page.get_by_role("button", name="Add").click()
    card = page.locator("#scan-result .scan-card")
    expect(card).to_contain_text("Connected", timeout=20_000)
    expect(card).to_contain_text(world["scanned"])
    shoot(page, shots / "scanner.png")
    context.close()


def organizer_screens(browser, base: str, world: dict, shots: Path) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = sign_in(context, base, "organizer@meetloop.example")
    page.goto(f"{base}/events/{world['past']}/dashboard")
    expect(page.get_by_text("Checked in").first).to_be_visible()
    page.wait_for_load_state("networkidle")  # the charts fill in from stats.json
    shoot(page, shots / "dashboard.png")

    response = page.request.get(f"{base}/events/{world['past']}/badges.pdf?paper=a4&layout=8")
    assert response.ok and response.headers["content-type"] == "application/pdf"
    save(pdf_page(response.body(), SHEET_SCALE), shots / "badge-sheet.png")
    context.close()

    context = phone_context(browser)
    page = sign_in(context, base, "organizer@meetloop.example")
    page.goto(f"{base}/events/{world['past']}/door")
    shoot(page, shots / "door.png")
    context.close()


def digest_screen(browser, base: str, world: dict, shots: Path) -> None:
    """The weekly digest's HTML body as Ana's mail app shows it, read from the admin mail log."""
    context = phone_context(browser)
    page = sign_in(context, base, "admin@meetloop.example")
    page.goto(f"{base}/admin/mail/{world['digest']}/body.html")
    expect(page.get_by_text("Marta Silva").first).to_be_visible()
    shoot(page, shots / "digest-email.png")
    context.close()


def colours(image: Image.Image) -> int:
    found = image.convert("RGB").getcolors(maxcolors=1 << 16)
    return 1 << 16 if found is None else len(found)


def test_key_screens_are_saved_as_pictures(app, demo_world, live_server, browser, request, shots, tmp_path):
    camera = request.getfixturevalue("camera_browser")
    # The scan comes last: it adds a connection to the dashboard and a follow-up to Ana's list.
    organizer_screens(browser, live_server, demo_world, shots)
    digest_screen(browser, live_server, demo_world, shots)
    attendee_screens(browser, live_server, demo_world, shots)
    scanner_screen(camera, browser, live_server, demo_world, shots, tmp_path)

    total = 0
    for name, size in EXPECTED.items():
        path = shots / name
        assert path.is_file(), f"{name} was not saved"
        with Image.open(path) as image:
            assert image.format == "PNG", name
            assert image.size == size, f"{name} is {image.size}, expected {size}"
            assert colours(image) > 16, f"{name} looks blank"
        assert path.stat().st_size <= MAX_BYTES, f"{name} is {path.stat().st_size} bytes"
        total += path.stat().st_size
    assert total <= MAX_TOTAL, f"the pictures weigh {total} bytes together"

    with Image.open(shots / "badge.png") as picture:
        assert [code.text for code in zxingcpp.read_barcodes(picture)] == [demo_world["ana_badge_url"]]
    with Image.open(shots / "badge-sheet.png") as sheet:
        assert len(zxingcpp.read_barcodes(sheet)) == 8  # a full first page of working badges
