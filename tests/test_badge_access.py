"""Badge sheets and reprints are for the event's organizers (and site admins) only.

Everyone else gets a 404, so the pages don't reveal that an event exists.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests.conftest import EVENT_ROLES
from webapp.extensions import db
from webapp.models import Attendance

ACCESS_TABLE_RULES = {
    "/events/<ref>/badges",
    "/events/<ref>/badges.pdf",
    "/events/<ref>/attendees/<int:attendance_id>/badge.pdf",
}
ORGANIZERS_ONLY = {
    "anonymous": "login", "attendee": 404, "other_attendee": 404,
    "other_organizer": 404, "organizer": 200, "admin": 200,
}
URLS = {
    "/events/<ref>/badges": "/events/{ref}/badges",
    "/events/<ref>/badges.pdf": "/events/{ref}/badges.pdf?paper=letter&layout=8",
    "/events/<ref>/attendees/<int:attendance_id>/badge.pdf": "/events/{ref}/attendees/{attendance_id}/badge.pdf",
}
def attendance_id(app, token: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Attendance.id).where(Attendance.badge_token == token))


def assert_answer(response, expected, url: str) -> None:
    if expected == "login":
        assert response.status_code == 302, url
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login"
        assert parse_qs(location.query)["next"][0].startswith(urlsplit(url).path)
    else:
        assert response.status_code == expected, url
        if expected == 404:
            assert "Spring Mixer" not in response.get_data(as_text=True), url


# One test per role walks every rule of the table: the world fixture is the slow part.
@pytest.mark.parametrize("role", EVENT_ROLES)
def test_only_the_events_organizers_get_badge_sheets(app, world, client, role):
    world.sign_in(role)
    for rule, template in URLS.items():
        url = template.format(ref=world.event.slug, attendance_id=attendance_id(app, world.attendee_badge))
        response = client.get(url)
        assert_answer(response, ORGANIZERS_ONLY[role], url)
        if response.status_code == 200 and ".pdf" in url:
            assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF-"), rule


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_only_the_events_organizers_may_mark_badges_printed(app, world, client, role):
    url = f"/events/{world.event.slug}/badges/printed"
    world.sign_in(role)
    response = client.post(url)
    expected = {**ORGANIZERS_ONLY, "organizer": 302, "admin": 302}[role]
    assert_answer(response, expected, url)
    with app.app_context():
        printed = db.session.scalar(select(Attendance.badge_printed_at).where(
            Attendance.badge_token == world.attendee_badge))
    assert (printed is not None) is (expected == 302)


def test_a_reprint_of_another_events_attendee_is_not_found(app, world, client):
    world.sign_in("organizer")
    other = attendance_id(app, world.other_badge)
    assert client.get(f"/events/{world.event.slug}/attendees/{other}/badge.pdf").status_code == 404
    assert client.get(f"/events/{world.event.slug}/attendees/999999/badge.pdf").status_code == 404
