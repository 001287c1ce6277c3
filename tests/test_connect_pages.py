"""The badge URL for each kind of visitor, the connect step, check-in, and the
connections pages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.conftest import EVENT_ROLES
from tests.factories import attend, make_user
from webapp.extensions import db
from webapp.models import Attendance, Contact, Scan

ACCESS_TABLE_RULES = {"/b/<token>", "/contacts", "/contacts/<int:contact_id>", "/contacts/scanned-me"}

# GET /b/<the attendee's badge> by role.
BADGE_URL = {
    "anonymous": 200,  # a sign-in prompt, no personal data
    "attendee": "→ badge",  # their own badge
    "other_attendee": 403,  # not registered for this event
    "other_organizer": 403,
    "organizer": 200,  # check in
    "admin": 200,
}


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_the_badge_url_answers_each_visitor(world, client, role):
    world.sign_in(role)

    response = client.get(f"/b/{world.attendee_badge}")

    expected = BADGE_URL[role]
    if expected == "→ badge":
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == f"/events/{world.event.slug}/badge"
    else:
        assert response.status_code == expected
    page = response.get_data(as_text=True)
    if role == "anonymous":
        assert "Ana Attendee" not in page and "attendee@example.com" not in page
        assert 'name="next" value="/b/' in page
    if role in ("organizer", "admin"):
        assert "Check in Ana Attendee" in page


def test_an_unknown_or_replaced_badge_is_a_404_page(world, client):
    world.sign_in("organizer")
    assert client.get("/b/not-a-badge-token-at-all-xyz").status_code == 404


def attendee_pair(app, world):
    """A second attendee of the world's event, signed in on the client."""
    bo = make_user(app, "bo@example.com", name="Bo Builder", headline="Battery startup CTO", phone="+351 911 000 111",
                   share_phone=False)
    attend(app, world.event, bo)
    return bo


def connect(client, token: str, **data):
    page = client.get(f"/b/{token}").get_data(as_text=True)
    client_id = re.search(r'name="client_id" type="hidden" value="([^"]+)"', page).group(1)
    return client.post(f"/b/{token}/connect", data={"client_id": client_id, **data})


def test_an_attendee_connects_with_a_note_and_intents_and_both_sides_get_a_contact(app, world, client, auth):
    bo = attendee_pair(app, world)
    auth.as_user(bo)

    response = connect(client, world.attendee_badge, note="Knows grid people", intents=["Refer a client"],
                       tags="lisbon, investor")

    assert response.status_code == 302
    contact_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Connected with Ana Attendee" in contact_page and "Knows grid people" in contact_page
    with app.app_context():
        mine = db.session.scalar(db.select(Contact).filter_by(owner_id=bo.id))
        theirs = db.session.scalar(db.select(Contact).filter_by(owner_id=world.attendee.id))
        assert mine.user_id == world.attendee.id and theirs.user_id == bo.id
        assert sorted(t.name for t in mine.tags) == ["Refer a client", "investor", "lisbon"]
        assert theirs.note == "" and theirs.tags == []


def test_submitting_the_connect_form_twice_records_one_scan(app, world, client, auth):
    bo = attendee_pair(app, world)
    auth.as_user(bo)
    page = client.get(f"/b/{world.attendee_badge}").get_data(as_text=True)
    client_id = re.search(r'name="client_id" type="hidden" value="([^"]+)"', page).group(1)

    for _ in range(2):
        client.post(f"/b/{world.attendee_badge}/connect", data={"client_id": client_id})

    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Scan)) == 1


def test_the_scanned_person_sees_who_scanned_them_and_only_what_the_scanner_shares(app, world, client, auth):
    bo = attendee_pair(app, world)
    auth.as_user(bo)
    connect(client, world.attendee_badge)

    auth.as_user(world.attendee)
    page = client.get("/contacts/scanned-me").get_data(as_text=True)
    assert "Bo Builder" in page and world.event.name in page
    with app.app_context():
        contact_id = db.session.scalar(db.select(Contact.id).filter_by(owner_id=world.attendee.id))
    detail = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert "Battery startup CTO" in detail
    assert "bo@example.com" in detail  # shares email by default
    assert "911 000 111" not in detail  # chose not to share the phone


def test_a_contact_page_is_only_for_its_owner(app, world, client, auth):
    bo = attendee_pair(app, world)
    auth.as_user(bo)
    connect(client, world.attendee_badge)
    with app.app_context():
        contact_id = db.session.scalar(db.select(Contact.id).filter_by(owner_id=bo.id))

    for role in ("attendee", "organizer", "admin", "other_attendee"):
        world.sign_in(role)
        assert client.get(f"/contacts/{contact_id}").status_code == 404
    client.post("/logout")
    assert client.get(f"/contacts/{contact_id}").status_code == 302


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_connections_pages_need_sign_in(world, client, role):
    world.sign_in(role)
    for path in ("/contacts", "/contacts/scanned-me"):
        response = client.get(path)
        assert response.status_code == (302 if role == "anonymous" else 200)


def test_removing_and_blocking_from_the_contact_page(app, world, client, auth):
    bo = attendee_pair(app, world)
    auth.as_user(bo)
    connect(client, world.attendee_badge)
    auth.as_user(world.attendee)
    with app.app_context():
        contact_id = db.session.scalar(db.select(Contact.id).filter_by(owner_id=world.attendee.id))

    client.post(f"/contacts/{contact_id}/block")

    assert "Bo Builder" not in client.get("/contacts").get_data(as_text=True)
    assert "Bo Builder" not in client.get("/contacts/scanned-me").get_data(as_text=True)
    auth.as_user(bo)
    assert client.get(f"/b/{world.attendee_badge}").status_code == 403


def test_an_organizer_checks_someone_in_once_and_a_repeat_says_when_and_by_whom(app, world, client):
    world.sign_in("organizer")

    client.post(f"/b/{world.attendee_badge}/check-in")
    again = client.post(f"/b/{world.attendee_badge}/check-in", follow_redirects=True).get_data(as_text=True)

    with app.app_context():
        attendance = db.session.scalar(db.select(Attendance).filter_by(badge_token=world.attendee_badge))
        assert attendance.checked_in_by_id == world.organizer.id
        local = attendance.checked_in_at.astimezone(__import__("zoneinfo").ZoneInfo(world.event.timezone))
    assert f"already checked in at {local:%H:%M} by Olga Organizer" in again


@pytest.mark.parametrize("role", ["attendee", "other_attendee", "other_organizer"])
def test_only_organizers_can_check_in(app, world, client, role):
    world.sign_in(role)
    client.post(f"/b/{world.attendee_badge}/check-in")
    with app.app_context():
        attendance = db.session.scalar(db.select(Attendance).filter_by(badge_token=world.attendee_badge))
        assert attendance.checked_in_at is None


def test_a_signed_out_visitor_signs_in_by_emailed_link_and_lands_back_on_the_badge(app, world, client, outbox):
    bo = attendee_pair(app, world)
    prompt = client.get(f"/b/{world.attendee_badge}").get_data(as_text=True)
    assert "Email me a sign-in link" in prompt

    client.post("/login/link", data={"email": bo.email, "next": f"/b/{world.attendee_badge}"})
    link = outbox.path(outbox.last(bo.email), "/login/link/")
    other_browser = app.test_client()  # iOS opens the mail link in Safari
    landing = other_browser.post(link)

    assert urlsplit(landing.headers["Location"]).path == f"/b/{world.attendee_badge}"
    assert connect(other_browser, world.attendee_badge, note="Met at the door").status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(Contact.note).filter_by(owner_id=bo.id)) == "Met at the door"


def test_people_at_the_same_event_see_each_others_photo_until_one_blocks(app, world, client, auth):
    import io

    from PIL import Image

    from webapp.models import User
    from webapp.services import connections, profiles

    bo = attendee_pair(app, world)
    with app.app_context():
        out = io.BytesIO()
        Image.new("RGB", (40, 40), (200, 30, 30)).save(out, "PNG")
        profiles.set_photo(db.session.get(User, world.attendee.id), out.getvalue())
        db.session.commit()
        version = db.session.get(User, world.attendee.id).photo_version
    url = f"/profile/{world.attendee.id}/photo.jpg?v={version}"

    auth.as_user(bo)
    assert client.get(url).status_code == 200
    world.sign_in("other_attendee")
    assert client.get(url).status_code == 404
    with app.app_context():
        connections.block(db.session.get(User, world.attendee.id), bo.id)
        db.session.commit()
    auth.as_user(bo)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("path", ["/contacts/99999999999", "/profile/99999999999/photo.jpg"])
def test_ids_beyond_any_database_integer_are_simply_not_found(world, client, path):
    world.sign_in("attendee")
    assert client.get(path).status_code == 404
