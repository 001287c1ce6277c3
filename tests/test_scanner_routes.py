"""The scanner page and its service worker, over HTTP.

/scan is for signed-in people; /sw.js is a script anyone may fetch, served from
the site root so it may control /scan and the badge pages.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import make_user
from webapp.scan.forms import INTENTS

ACCESS_TABLE_RULES = {"/scan", "/sw.js"}
ROLES = ("anonymous", "attendee", "organizer", "admin")
SIGNED_IN = {"anonymous": "login", "attendee": 200, "organizer": 200, "admin": 200}
ACCESS = {"/scan": SIGNED_IN, "/sw.js": dict.fromkeys(ROLES, 200)}
STATIC = Path(__file__).resolve().parent.parent / "webapp" / "static"


@pytest.mark.parametrize("role", ROLES)
def test_scanner_routes_by_role(app, client, auth, role):
    if role != "anonymous":
        auth.as_user(make_user(app, password=None, role=role))
    for url, expected_by_role in ACCESS.items():
        response = client.get(url)
        expected = expected_by_role[role]
        if expected == "login":
            assert response.status_code == 302, url
            location = urlsplit(response.headers["Location"])
            assert location.path == "/login" and parse_qs(location.query)["next"] == [url]
        else:
            assert response.status_code == expected, url


def test_service_worker_is_javascript_allowed_to_control_the_whole_site(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.data == (STATIC / "js" / "sw.js").read_bytes()


def test_service_worker_precaches_files_that_exist(client):
    source = client.get("/sw.js").get_data(as_text=True)
    assets = re.findall(r"'(static/[^']+)'", source)
    assert "static/vendor/zxing-wasm/zxing_reader.wasm" in assets
    for asset in assets:
        assert client.get(f"/{asset}").status_code == 200, asset


def test_decoder_is_served_as_webassembly(client):
    response = client.get("/static/vendor/zxing-wasm/zxing_reader.wasm")
    assert response.status_code == 200
    assert response.mimetype == "application/wasm"
    assert response.data[:4] == b"\0asm"


def test_scanner_page_has_its_settings_and_no_inline_code(app, client, auth):
    auth.as_user(make_user(app, password=None))
    page = client.get("/scan").get_data(as_text=True)
    assert 'data-wasm-url="/static/vendor/zxing-wasm/zxing_reader.wasm"' in page
    assert 'data-scans-url="/api/v1/scans"' in page
    assert 'data-sw-url="/sw.js"' in page
    assert '<meta name="csrf-token"' in page
    assert 'aria-live="polite"' in page
    for intent in INTENTS:
        assert f'value="{intent}"' in page
    # The CSP allows scripts and styles from files only.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert " style=" not in page and "<style" not in page
