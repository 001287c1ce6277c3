"""Who may use the follow-up inbox: signed-in people, for their own contacts only."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.conftest import EVENT_ROLES
from tests.factories import reload
from tests.test_followups import make_contact
from webapp.models import Contact

ACCESS_TABLE_RULES = {"/follow-ups", "/f/<token>", "/f/<token>/<action>"}


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_the_follow_ups_page_is_for_signed_in_people(client, world, role):
    world.sign_in(role)
    response = client.get("/follow-ups")
    if role == "anonymous":
        assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_an_unknown_link_is_a_clear_page_for_everyone(client, world, role):
    world.sign_in(role)
    response = client.get("/f/not-a-real-token")
    assert response.status_code == 400 and "doesn't work" in response.get_data(as_text=True)


@pytest.mark.parametrize("action", ["followed-up", "snooze", "keep-in-touch"])
def test_another_users_contact_is_not_found(app, client, world, action):
    contact = make_contact(app, world.other_attendee, world.attendee)
    world.sign_in("attendee")
    assert client.post(f"/follow-ups/{contact.id}/{action}").status_code == 404
    assert reload(app, Contact, contact.id).state == "new"


def test_signed_out_posts_go_to_sign_in(app, client, world):
    contact = make_contact(app, world.attendee, world.other_attendee)
    response = client.post(f"/follow-ups/{contact.id}/followed-up")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    assert reload(app, Contact, contact.id).state == "new"
