"""Who may use a digest's one-click links: whoever holds the link (it is
signed, single-use and names one contact of one person), except someone
signed in to another account; and a link is worth nothing for any other contact."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import BASE_URL, EVENT_ROLES
from tests.factories import reload
from tests.test_digest import add_contact, csrf_token
from webapp.extensions import db
from webapp.models import Contact, utcnow
from webapp.services import followups, tokens, touch_links

ACCESS_TABLE_RULES = {"/touch/<token>"}


@pytest.fixture
def overdue(app, world):
    """The attendee's contact (the other attendee), due since ten days ago."""
    return add_contact(app, world.attendee, world.other_attendee, touched=utcnow() - timedelta(days=40))


def link_path(app, contact: Contact, action: str) -> str:
    with app.app_context():
        return touch_links.link(db.session.get(Contact, contact.id), action).removeprefix(BASE_URL)


def reminder(app, contact: Contact):
    return reload(app, Contact, contact.id).next_reminder_at


@pytest.mark.parametrize("role", EVENT_ROLES)
@pytest.mark.parametrize("action", touch_links.ACTIONS)
def test_a_link_opens_for_its_owner_and_the_signed_out_only(app, client, world, overdue, role, action):
    world.sign_in(role)
    before = reminder(app, overdue)
    response = client.get(link_path(app, overdue, action))
    body = response.get_data(as_text=True)
    if role in ("anonymous", "attendee"):
        assert response.status_code == 200 and "Ben Elsewhere" in body
    else:
        assert response.status_code == 403 and "another MeetLoop account" in body and "Ben Elsewhere" not in body
    assert reminder(app, overdue) == before  # opening a link changes nothing


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_an_unknown_link_is_a_clear_page_for_everyone(client, world, role):
    world.sign_in(role)
    response = client.get("/touch/not-a-real-token")
    assert response.status_code == 400 and "doesn't work" in response.get_data(as_text=True)


def test_someone_signed_in_to_another_account_cannot_use_it(app, client, csrf, world, overdue):
    path = link_path(app, overdue, "done")
    before = reminder(app, overdue)
    world.sign_in("other_attendee")
    page = client.get("/")  # a CSRF token of their own session
    response = client.post(path, data={"csrf_token": csrf_token(page)})
    assert response.status_code == 403
    assert reminder(app, overdue) == before


@pytest.mark.parametrize("forgery", ["other_contact", "other_owner", "other_purpose", "unknown_action", "tampered"])
def test_a_link_is_useless_for_any_other_contact(app, client, world, overdue, forgery):
    """The other attendee has their own contact; nothing the attendee holds
    or can build from their own links reaches it."""
    theirs = add_contact(app, world.other_attendee, world.attendee, touched=utcnow() - timedelta(days=40))
    before = reminder(app, theirs)
    with app.app_context():
        payload = {"c": theirs.id, "o": world.attendee.id, "a": "done"}
        if forgery == "other_owner":
            payload = {"c": overdue.id, "o": world.other_attendee.id, "a": "done"}
        elif forgery == "unknown_action":
            payload = {"c": overdue.id, "o": world.attendee.id, "a": "delete"}
        token = tokens.make(touch_links.PURPOSE, **payload)
        if forgery == "other_purpose":  # a genuine follow-up link of the other attendee's
            token = followups.action_link(db.session.get(Contact, theirs.id), followups.FOLLOWED_UP).split("/")[-2]
        elif forgery == "tampered":  # one of the attendee's own links, its signature altered
            own = link_path(app, overdue, "done").rsplit("/", 1)[1]
            token = own[:-4] + ("AAAA" if not own.endswith("AAAA") else "BBBB")
    for method in (client.get, client.post):
        response = method(f"/touch/{token}")
        assert response.status_code == 400 and "doesn't work" in response.get_data(as_text=True)
    assert reminder(app, theirs) == before and reminder(app, overdue) <= utcnow()


def test_a_removed_contacts_link_stops_working(app, client, world, overdue):
    path = link_path(app, overdue, "snooze")
    with app.app_context():
        db.session.get(Contact, overdue.id).deleted_at = utcnow()
        db.session.commit()
    response = client.get(path)
    assert response.status_code == 400 and "no longer in your address book" in response.get_data(as_text=True)


def test_a_bad_kind_is_shown_on_the_field_and_the_link_still_works(app, client, world, overdue):
    path = link_path(app, overdue, "log")
    response = client.post(path, data={"kind": "met", "note": "x"})  # not one people log by hand
    assert response.status_code == 422 and "Not a valid choice" in response.get_data(as_text=True)
    response = client.post(path, data={"kind": "email", "note": "n" * 2001})
    assert response.status_code == 422 and "2000 characters" in response.get_data(as_text=True)
    assert reminder(app, overdue) <= utcnow()
    assert client.post(path, data={"kind": "email"}).status_code == 200
    assert reminder(app, overdue) > utcnow()
