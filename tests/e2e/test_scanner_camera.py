"""The in-app scanner with a camera: Chromium's fake camera plays a video of
two real badge QR codes (A for ~2 s, then B next to some other QR code for
~2 s, looping), and /scan records both connections without a reload.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import qrcode
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.e2e.conftest import CHROMIUM, PHONE
from tests.factories import PASSWORD, attend, make_event, make_user
from webapp.extensions import db
from webapp.models import Contact, Scan, User
from webapp.services import badges, profiles

FRAME = (640, 480)
SECONDS_PER_BADGE = 2
# A badge URL on some other host: the scanner takes any URL whose path is /b/<token>.
OTHER_HOST = "https://badges.example.org"


def require_ffmpeg() -> str:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        message = "the fake-camera test needs ffmpeg (apt-get install ffmpeg)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        print(message)
        pytest.skip(message)
    return ffmpeg


def qr_png(data: str, size: int) -> Image.Image:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(data)
    return qr.make_image().get_image().convert("RGB").resize((size, size), Image.NEAREST)


def frame(path: Path, *codes: tuple[str, int, int, int]) -> Path:
    """A white camera frame with QR codes (data, size, x, y) on it, as PNG."""
    image = Image.new("RGB", FRAME, "white")
    for data, size, x, y in codes:
        image.paste(qr_png(data, size), (x, y))
    image.save(path)
    return path


def camera_video(ffmpeg: str, frames: list[Path], out: Path) -> Path:
    """A y4m that shows each frame for SECONDS_PER_BADGE (Chromium loops it)."""
    inputs = []
    for png in frames:
        inputs += ["-loop", "1", "-framerate", "10", "-t", str(SECONDS_PER_BADGE), "-i", str(png)]
    streams = "".join(f"[{i}:v]" for i in range(len(frames)))
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", *inputs, "-filter_complex",
         f"{streams}concat=n={len(frames)}:v=1:a=0,format=yuv420p", "-f", "yuv4mpegpipe", str(out)],
        check=True, timeout=60,
    )
    return out


def photo_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 200), (200, 90, 40)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def camera_browser(browser, tmp_path):
    """Launches a separate Chromium whose camera plays a given y4m file."""
    launched = []

    def launch(video: Path):
        fake = browser.browser_type.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--use-fake-device-for-media-stream",
                  "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={video}"],
        )
        launched.append(fake)
        return fake

    yield launch
    for fake in launched:
        fake.close()


def test_scanner_records_two_badges_from_the_camera_without_a_reload(
    app, csrf, live_server, camera_browser, client, auth, tmp_path
):
    ffmpeg = require_ffmpeg()
    organizer = make_user(app, "org@example.com", name="Olga Organizer", role="organizer")
    event = make_event(app, organizer, "Spring Mixer")
    sam = make_user(app, "sam@example.com", name="Sam Scanner")
    ana = make_user(app, "ana@example.com", name="Ana Attendee", headline="Solar investor", company="Sunfund")
    bo = make_user(app, "bo@example.com", name="Bo Builder", headline="Battery startup CTO")
    with app.app_context():
        profiles.set_photo(db.session.get(User, ana.id), photo_bytes())
        db.session.commit()
    attend(app, event, sam)
    badge_a, badge_b = attend(app, event, ana), attend(app, event, bo)
    with app.app_context():
        url_a = badges.badge_url(badge_a)  # BASE_URL: not the live server's host
    url_b = f"{OTHER_HOST}/b/{badge_b.badge_token}"

    video = camera_video(ffmpeg, [
        frame(tmp_path / "a.png", (url_a, 360, 140, 60)),
        # Badge B beside a QR code that is not a badge: it must be ignored.
        frame(tmp_path / "b.png", (url_b, 300, 10, 90), ("https://example.com/menu?table=4", 300, 330, 90)),
    ], tmp_path / "camera.y4m")

    context = camera_browser(video).new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                                has_touch=True)
    page = context.new_page()
    page.goto(f"{live_server}/login?next=/scan")
    page.get_by_label("Email").fill(sam.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/scan")

    recent = page.locator("#recent-list")
    expect(recent).to_contain_text("Ana Attendee", timeout=20_000)
    expect(recent).to_contain_text("Bo Builder", timeout=20_000)
    # Let the video run on (not a timing assertion): each badge has now been in
    # view for its whole segment, and the loop brings the first one back.
    page.wait_for_timeout(SECONDS_PER_BADGE * 1500)
    expect(recent.locator("li")).to_have_count(2)  # each badge held in view counted once
    expect(page.locator("#attention")).to_be_hidden()  # the other QR code was ignored
    expect(page.locator("#sync-status")).to_have_text("All scans synced")
    card = page.locator("#scan-result .scan-card")
    expect(card).to_contain_text("Connected")
    page.screenshot(path=str(tmp_path / "scanner.png"))
    context.close()

    with app.app_context():
        pairs = db.session.execute(
            select(Scan.scanned_id, func.count()).where(Scan.scanner_id == sam.id).group_by(Scan.scanned_id)
        ).all()
        assert sorted(pairs) == sorted([(ana.id, 1), (bo.id, 1)])
        assert db.session.scalar(select(func.count()).select_from(Scan)) == 2
        for other in (ana, bo):
            mine = db.session.scalar(select(Contact).filter_by(owner_id=sam.id, user_id=other.id))
            theirs = db.session.scalar(select(Contact).filter_by(owner_id=other.id, user_id=sam.id))
            assert mine is not None and not mine.scanned_me
            assert theirs is not None and theirs.scanned_me

    # Sam's connections list both; each of them sees Sam under "Who scanned me".
    auth.as_user(sam)
    listing = client.get("/contacts").get_data(as_text=True)
    assert "Ana Attendee" in listing and "Bo Builder" in listing
    for other in (ana, bo):
        auth.as_user(other)
        assert "Sam Scanner" in client.get("/contacts/scanned-me").get_data(as_text=True)
