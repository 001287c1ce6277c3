"""Onboarding from an invitation: the invitation page says the badge comes
next, joining lands on the badge, and the badge tells a newcomer how to
connect until their first scan at that event (a stateless rule: nothing to
dismiss), with an optional nudge to add a headline."""

from __future__ import annotations

import html
import uuid
from urllib.parse import urlsplit

import pytest

from tests.factories import attend, make_event, make_user
from webapp.extensions import db
from webapp.models import Contact, Event, User, utcnow
from webapp.services import joining

HOW_TO = 'id="how-to-connect"'


def badge_page(client, event) -> str:
    response = client.get(f"/events/{event.slug}/badge")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def scan(client, badge: str) -> None:
    """The signed-in person scans ``badge``, as the scanner page does."""
    response = client.post("/api/v1/scans", json={"badge": badge, "client_id": str(uuid.uuid4())})
    assert response.status_code == 201, response.get_data(as_text=True)


def test_a_newcomer_sees_how_to_connect_under_the_qr_with_a_scan_button(world, client):
    world.sign_in("attendee")
    body = badge_page(client, world.event)
    assert HOW_TO in body and "How to connect" in body
    assert body.index("<svg") < body.index(world.attendee_code) < body.index(HOW_TO)  # the badge comes first
    assert body.count('<li><strong>') == 3
    assert '<a role="button" class="how-to-scan" href="/scan">Scan someone</a>' in body


def test_how_to_connect_steps_aside_after_my_first_scan_at_the_event(app, world, client):
    bo = make_user(app, name="Bo Builder")
    theirs = attend(app, world.event, bo)
    world.sign_in("attendee")
    scan(client, theirs.badge_token)
    body = badge_page(client, world.event)
    assert HOW_TO not in body and "Scan someone" not in body
    assert "Ana Attendee" in body and world.attendee_code in body
    assert "Let people point their phone camera at the code" in body  # the short reminder stays


def test_being_scanned_by_someone_else_does_not_count_as_my_first_scan(app, world, client, auth):
    bo = make_user(app, name="Bo Builder")
    attend(app, world.event, bo)
    auth.as_user(bo)
    scan(client, world.attendee_badge)
    world.sign_in("attendee")
    assert HOW_TO in badge_page(client, world.event)
    auth.as_user(bo)
    assert HOW_TO not in badge_page(client, world.event)


def test_how_to_connect_shows_again_at_another_event(app, world, client):
    bo = make_user(app, name="Bo Builder")
    theirs = attend(app, world.event, bo)
    later = make_event(app, world.organizer, "Summer Mixer", days_from_now=30)
    attend(app, later, world.attendee)
    world.sign_in("attendee")
    scan(client, theirs.badge_token)
    assert HOW_TO not in badge_page(client, world.event)
    assert HOW_TO in badge_page(client, later)


def test_without_a_headline_an_optional_link_offers_to_add_one(app, world, client, auth):
    world.sign_in("attendee")
    body = badge_page(client, world.event)
    back = f"/events/{world.event.slug}/badge"
    assert f'href="/profile/edit?next={back}#headline">Add your headline so people remember you</a>' in body
    assert "(optional)" in body
    # Saving the headline goes back to the badge.
    saved = client.post(f"/profile/edit?next={back}", data={"name": "Ana Attendee", "headline": "Grid storage",
                                                             "timezone": "Europe/Lisbon"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith(back)
    assert "Grid storage" in badge_page(client, world.event)
    cy = make_user(app, name="Cy Headliner", headline="Solar installer")
    attend(app, world.event, cy)
    auth.as_user(cy)
    body = badge_page(client, world.event)
    assert "Solar installer" in body and "Add your headline" not in body


def test_joining_by_the_public_link_lands_on_the_badge_listing_people_i_know_there(app, world, client, auth):
    vic, ben = make_user(app, name="Vic Viewer"), make_user(app, name="Ben Listed")
    with app.app_context():
        db.session.add(Contact(owner_id=vic.id, user_id=ben.id))
        db.session.commit()
    auth.as_user(ben)
    client.post(f"/join/{world.event.join_code}", data={"listed": "y"})
    auth.as_user(vic)
    response = client.post(f"/join/{world.event.join_code}", data={})
    assert urlsplit(response.headers["Location"]).path == f"/events/{world.event.slug}/badge"
    body = badge_page(client, world.event)
    assert "1 person you know is going too: see below your badge." in body
    assert body.index(HOW_TO) < body.index("People you know who are going") < body.index("Ben Listed")


# --- The invitation page: screen one -----------------------------------------------------


def invitation_path(app, event: Event, user: User) -> str:
    with app.app_context():
        link = joining.invitation_link(db.session.get(Event, event.id), db.session.get(User, user.id), utcnow())
    return urlsplit(link).path


@pytest.mark.parametrize(("registered", "heading", "button"), [
    (False, "You're invited to Spring Mixer", ">Join Spring Mixer</button>"),
    (True, "You're registered for Spring Mixer", ">Get my badge</button>"),
], ids=["invited", "already registered"])
def test_the_invitation_page_says_the_badge_comes_next(app, world, client, registered, heading, button):
    ivy = make_user(app, "ivy@example.com", name="Ivy Invited", password=None)
    if registered:  # as a registrant import leaves them
        attend(app, world.event, ivy)
    path = invitation_path(app, world.event, ivy)
    body = html.unescape(client.get(path).get_data(as_text=True))
    assert heading in body and button in body
    assert "You'll get your badge next" in body
    response = client.post(path)
    assert urlsplit(response.headers["Location"]).path == f"/events/{world.event.slug}/badge"
    assert HOW_TO in badge_page(client, world.event)


def test_the_invitation_button_comes_before_who_i_know_there(app, world, client, auth):
    ivy = make_user(app, "ivy@example.com", name="Ivy Invited")
    with app.app_context():
        db.session.add(Contact(owner_id=ivy.id, user_id=world.attendee.id))
        db.session.commit()
    auth.as_user(world.attendee)
    client.post(f"/events/{world.event.slug}/people/listed", data={"listed": "y"})
    auth.as_user(ivy)
    body = client.get(invitation_path(app, world.event, ivy)).get_data(as_text=True)
    assert body.index(">Join Spring Mixer</button>") < body.index("People you know who are going")
