"""The attendee list, its CSV, removing a registrant and the door are for the
event's organizers (and site admins) only: everyone else gets a 404, and a
refused POST changes nothing."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests.conftest import EVENT_ROLES
from webapp.extensions import db
from webapp.models import Attendance, User

ACCESS_TABLE_RULES = {
    "/events/<ref>/attendees",
    "/events/<ref>/attendees.csv",
    "/events/<ref>/door",
}

# (method, URL template, answer for the event's organizers). The POSTs run in
# this order: check in, walk in, then remove the attendee.
ROUTES = [
    ("GET", "/events/{ref}/attendees", 200),
    ("GET", "/events/{ref}/attendees?q=ana&checked_in=no&connections=no&sort=-registered&page=1", 200),
    ("GET", "/events/{ref}/attendees?remove={attendance_id}", 200),  # "remove Ana?"
    ("GET", "/events/{ref}/attendees.csv", 200),
    ("GET", "/events/{ref}/door", 200),
    ("GET", "/events/{ref}/door?q={code}", 200),
    ("POST", "/events/{ref}/door/{attendance_id}/check-in", 302),
    ("POST", "/events/{ref}/door/walk-in", 302),
    ("POST", "/events/{ref}/attendees/{attendance_id}/remove", 302),
]
NOT_ORGANIZERS = ("attendee", "other_attendee", "other_organizer")
WALK_IN = {"name": "Wally Walkin", "email": "wally@example.com", "company": "Gatecrash Ltd"}


def expected_answer(role: str, organizer_answer: int):
    if role == "anonymous":
        return "login"
    return 404 if role in NOT_ORGANIZERS else organizer_answer


def the_attendance(app, world):
    with app.app_context():
        return db.session.scalar(select(Attendance).where(Attendance.badge_token == world.attendee_badge))


def wally_exists(app) -> bool:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == WALK_IN["email"])) is not None


# One test per role walks every route: building the world is the slow part.
@pytest.mark.parametrize("role", EVENT_ROLES)
def test_only_the_events_organizers_reach_the_attendee_pages_and_the_door(app, world, client, role):
    attendance_id = the_attendance(app, world).id
    world.sign_in(role)

    for method, template, organizer_answer in ROUTES:
        url = template.format(ref=world.event.slug, attendance_id=attendance_id, code=world.attendee_code)
        response = client.open(url, method=method, data=WALK_IN if url.endswith("walk-in") else {"q": "ana"})
        expected = expected_answer(role, organizer_answer)
        if expected == "login":
            assert response.status_code == 302, url
            location = urlsplit(response.headers["Location"])
            assert location.path == "/login", url
            assert parse_qs(location.query)["next"][0].startswith(urlsplit(url).path), url
        else:
            assert response.status_code == expected, (method, url)
        body = response.get_data(as_text=True)
        if response.status_code != 200:
            assert "Ana Attendee" not in body and "attendee@example.com" not in body, url
            assert "Spring Mixer" not in body, url
        if expected == 200 and url.endswith(".csv"):
            assert "attendee@example.com" in body
        if expected == 200 and "door?q=" in url:
            assert "Ana Attendee" in body

    allowed = role in ("organizer", "admin")
    assert (the_attendance(app, world) is None) is allowed  # removed only by an organizer
    assert wally_exists(app) is allowed


@pytest.mark.parametrize("role", NOT_ORGANIZERS)
def test_a_refused_check_in_leaves_the_attendee_as_they_were(app, world, client, role):
    attendance_id = the_attendance(app, world).id
    world.sign_in(role)
    assert client.post(f"/events/{world.event.slug}/door/{attendance_id}/check-in").status_code == 404
    assert the_attendance(app, world).checked_in_at is None


def test_an_organizer_of_another_event_cannot_reach_this_events_people_through_their_own(app, world, client):
    attendance_id = the_attendance(app, world).id
    world.sign_in("other_organizer")
    other = world.other_event.slug
    assert client.post(f"/events/{other}/door/{attendance_id}/check-in").status_code == 404
    assert client.post(f"/events/{other}/attendees/{attendance_id}/remove").status_code == 404
    assert "Ana Attendee" not in client.get(f"/events/{other}/door?q={world.attendee_code}").get_data(as_text=True)
    assert "attendee@example.com" not in client.get(f"/events/{other}/attendees.csv").get_data(as_text=True)
    current = the_attendance(app, world)
    assert current is not None and current.checked_in_at is None
