"""MeetLoop is installable: a web app manifest with real icons and the theme colour."""

from __future__ import annotations

import io
import re

from PIL import Image


def test_the_manifest_names_the_app_and_its_icons_exist_at_their_sizes(client):
    response = client.get("/manifest.webmanifest")

    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json()
    assert manifest["name"] == "MeetLoop" and manifest["display"] == "standalone"
    assert manifest["start_url"] == "/"
    assert {icon["purpose"] for icon in manifest["icons"]} == {"any", "maskable"}
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == "image/png"
        width, height = Image.open(io.BytesIO(image.data)).size
        assert f"{width}x{height}" == icon["sizes"]
    for shortcut in manifest["shortcuts"]:
        assert client.get(shortcut["url"]).status_code in (200, 302)


def test_every_page_links_the_manifest_and_the_same_theme_colour(client):
    page = client.get("/login").get_data(as_text=True)
    manifest = client.get("/manifest.webmanifest").get_json()

    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert re.search(r'<meta name="theme-color" content="([^"]+)">', page).group(1) == manifest["theme_color"]
    assert 'rel="apple-touch-icon"' in page
