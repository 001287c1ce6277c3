"""Who may see an event's recap pages: its organizers and site admins; everyone
else gets a 404 that says nothing about the event (signed out: the sign-in page)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests.conftest import EVENT_ROLES
from webapp.extensions import db
from webapp.models import Event, OutboxMessage, User
from webapp.services import connections

ACCESS_TABLE_RULES = {
    "/events/<ref>/recaps",
    "/events/<ref>/recaps/preview/<int:user_id>",
    "/events/<ref>/recaps/preview/<int:user_id>.html",
}
LOGIN = "→ /login"
ORGANIZERS = {"anonymous": LOGIN, "attendee": 404, "other_attendee": 404, "other_organizer": 404,
              "organizer": 200, "admin": 200}

ROUTES = {
    "/events/<ref>/recaps": ("/events/{ref}/recaps", ORGANIZERS),
    "/events/<ref>/recaps/preview/<int:user_id>": ("/events/{ref}/recaps/preview/{attendee}", ORGANIZERS),
    "/events/<ref>/recaps/preview/<int:user_id>.html": ("/events/{ref}/recaps/preview/{attendee}.html", ORGANIZERS),
}
assert set(ROUTES) == ACCESS_TABLE_RULES


@pytest.fixture
def met(app, world):
    """The organizer scanned the attendee's badge: the attendee has a contact, so a recap."""
    with app.app_context():
        organizer = db.session.get(User, world.organizer.id)
        connections.record_scan(organizer, world.attendee_badge, "access-1")
        db.session.commit()
    return world


def check(response, expected, url: str) -> None:
    if expected == LOGIN:
        assert response.status_code == 302, url
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login" and parse_qs(location.query)["next"] == [url], url
        return
    assert response.status_code == expected, url
    if expected != 200:
        assert b"Spring Mixer" not in response.data, url


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_recap_pages_by_role(client, met, role):
    met.sign_in(role)
    for template, expected_by_role in ROUTES.values():
        url = template.format(ref=met.event.slug, attendee=met.attendee.id)
        check(client.get(url), expected_by_role[role], url)


def test_previewing_someone_outside_the_event_or_who_met_nobody_is_not_found(client, met):
    met.sign_in("organizer")
    for user in (met.other_attendee, met.organizer):  # not an attendee / attends nothing here
        assert client.get(f"/events/{met.event.slug}/recaps/preview/{user.id}").status_code == 404
        assert client.get(f"/events/{met.event.slug}/recaps/preview/{user.id}.html").status_code == 404


def test_send_now_is_for_organizers_only(app, client, met):
    with app.app_context():  # make the event over, so "send now" would work for an organizer
        event = db.session.get(Event, met.event.id)
        event.starts_at, event.ends_at = event.starts_at.replace(year=2020), event.ends_at.replace(year=2020)
        db.session.commit()
    for role in ("attendee", "other_organizer"):
        met.sign_in(role)
        assert client.post(f"/events/{met.event.slug}/recaps/send").status_code == 404
    met.sign_in("organizer")
    assert client.post(f"/events/{met.event.slug}/recaps/send").status_code == 302
    with app.app_context():
        assert db.session.get(Event, met.event.id).recaps_queued_at is not None
        assert db.session.scalars(select(OutboxMessage.dedupe_key)).all() == [
            f"recap:{met.event.id}:{met.attendee.id}"]
