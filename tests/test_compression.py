"""Text answers go out gzipped to clients that ask for it: pages, JSON, and
static files (compressed once per file version), with revalidation still
answered 304. Streamed, small and partial answers go as they are."""

from __future__ import annotations

import gzip

import pytest

from tests.factories import attend, make_event, make_user
from webapp import compression

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


@pytest.fixture(autouse=True)
def fresh_copies():
    compression._kept.clear()
    yield
    compression._kept.clear()


def test_a_static_file_is_gzipped_with_a_weak_etag_and_revalidates(client):
    plain = client.get("/static/vendor/pico/pico.min.css")
    zipped = client.get("/static/vendor/pico/pico.min.css", headers=GZIP)
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == plain.data
    assert int(zipped.headers["Content-Length"]) == len(zipped.data) < len(plain.data) / 4
    assert zipped.headers["ETag"] == "W/" + plain.headers["ETag"]
    assert "Accept-Ranges" not in zipped.headers and plain.headers["Accept-Ranges"] == "bytes"
    again = client.get("/static/vendor/pico/pico.min.css", headers={**GZIP, "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_a_kept_static_copy_is_served_again_and_the_same(client):
    first = client.get("/static/js/scanner.js", headers=GZIP)
    assert len(compression._kept) == 1
    assert client.get("/static/js/scanner.js", headers=GZIP).data == first.data


def test_without_accept_encoding_nothing_changes(client):
    response = client.get("/static/css/app.css")
    assert "Content-Encoding" not in response.headers
    assert response.headers["ETag"].startswith('"') and "Accept-Encoding" in response.headers["Vary"]


def test_the_service_worker_and_pages_are_gzipped(client, auth, app):
    auth.as_user(make_user(app, "pat@example.com"))
    for path in ("/sw.js", "/scan", "/profile"):
        response = client.get(path, headers=GZIP)
        assert response.status_code == 200 and response.headers["Content-Encoding"] == "gzip", path
        assert gzip.decompress(response.data).decode().strip()


def test_small_answers_and_images_go_as_they_are(client):
    assert "Content-Encoding" not in client.get("/healthz", headers=GZIP).headers
    assert "Content-Encoding" not in client.get("/static/icons/icon-192.png", headers=GZIP).headers
    assert "Content-Encoding" not in client.get("/static/js/register-sw.js", headers=GZIP).headers


def test_a_range_request_gets_the_plain_bytes_it_asked_for(client):
    response = client.get("/static/vendor/pico/pico.min.css", headers={**GZIP, "Range": "bytes=0-99"})
    assert response.status_code == 206 and len(response.data) == 100
    assert "Content-Encoding" not in response.headers


def test_a_streamed_export_goes_uncompressed(client, auth, app):
    organizer = make_user(app, "olga@example.com", role="organizer")
    event = make_event(app, organizer, "Spring Mixer")
    for n in range(30):
        attend(app, event, make_user(app, f"guest{n}@example.com"))
    auth.as_user(organizer)
    response = client.get(f"/events/{event.slug}/attendees.csv", headers=GZIP)
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    assert response.get_data(as_text=True).count("@example.com") == 30
