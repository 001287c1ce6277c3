"""My badge on the phone: the QR code carries exactly BASE_URL/b/<token>."""

from __future__ import annotations

import pytest

from tests.conftest import BASE_URL, EVENT_ROLES
from webapp.extensions import db
from webapp.models import Attendance

ACCESS_TABLE_RULES = {"/events/<ref>/badge"}
# Only the attendee has a badge at this event; everyone else can't tell the page exists.
BADGE_PAGE = {
    "anonymous": "login", "attendee": 200, "other_attendee": 404,
    "other_organizer": 404, "organizer": 404, "admin": 404,
}


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_only_an_attendee_sees_their_badge_page(world, client, role):
    world.sign_in(role)
    response = client.get(f"/events/{world.event.slug}/badge")
    expected = BADGE_PAGE[role]
    if expected == "login":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        assert response.status_code == expected


def test_the_badge_page_shows_name_code_and_a_qr_of_the_badge_url(world, client):
    world.sign_in("attendee")
    page = client.get(f"/events/{world.event.slug}/badge").get_data(as_text=True)

    assert "Ana Attendee" in page
    assert world.attendee_code in page
    assert "<svg" in page and "<title>" in page


def test_replacing_a_badge_invalidates_the_old_token_and_code(world, client, app):
    world.sign_in("attendee")
    response = client.post(f"/events/{world.event.slug}/badge/rotate")
    assert response.status_code == 302

    with app.app_context():
        attendance = db.session.scalar(db.select(Attendance).filter_by(user_id=world.attendee.id))
        assert attendance.badge_token != world.attendee_badge
        assert attendance.badge_code != world.attendee_code
        new_url = f"{BASE_URL}/b/{attendance.badge_token}"
    assert len(new_url) > len(BASE_URL) + 20
