"""Who may see an event's live stats: its organizers and site admins; everyone
else gets a 404 that says nothing about the event.

Signed out, the dashboard page sends you to sign in like every other page.
``stats.json`` answers 401 with the JSON error shape instead: it is fetched by
the dashboard's script, which can't do anything useful with a redirect to an
HTML sign-in form, and tells the organizer their session ended.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import EVENT_ROLES
from tests.factories import make_user
from webapp.extensions import db
from webapp.models import EventOrganizer

ACCESS_TABLE_RULES = {"/events/<ref>/dashboard", "/events/<ref>/stats.json"}
LOGIN = "→ /login"

ROUTES = {
    "/events/<ref>/dashboard": ("/events/{ref}/dashboard", {
        "anonymous": LOGIN, "attendee": 404, "other_attendee": 404, "other_organizer": 404,
        "organizer": 200, "admin": 200,
    }),
    "/events/<ref>/stats.json": ("/events/{ref}/stats.json", {
        "anonymous": 401, "attendee": 404, "other_attendee": 404, "other_organizer": 404,
        "organizer": 200, "admin": 200,
    }),
}
assert set(ROUTES) == ACCESS_TABLE_RULES
JSON_ERRORS = {401: "unauthenticated", 404: "not_found"}


def check(response, expected, url: str) -> None:
    if expected == LOGIN:
        assert response.status_code == 302, url
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login" and parse_qs(location.query)["next"] == [url], url
        return
    assert response.status_code == expected, url
    if url.endswith(".json"):
        assert response.mimetype == "application/json", url
        if expected in JSON_ERRORS:
            assert response.get_json()["error"]["code"] == JSON_ERRORS[expected], url
        else:
            assert "connections" in response.get_json(), url
    if expected != 200:
        assert "Spring Mixer" not in response.get_data(as_text=True), url


# One test per role walks the whole table: building the world is the slow part.
@pytest.mark.parametrize("role", EVENT_ROLES)
def test_stats_by_role(client, world, role):
    world.sign_in(role)
    for template, expected_by_role in ROUTES.values():
        url = template.format(ref=world.event.slug)
        check(client.get(url), expected_by_role[role], url)


def test_an_unknown_event_is_not_found_for_admins_too(client, world):
    world.sign_in("admin")
    assert client.get("/events/no-such-event/dashboard").status_code == 404
    response = client.get("/events/no-such-event/stats.json")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_a_co_organizer_sees_the_stats_and_the_event_id_works_as_its_reference(app, client, auth, world):
    helper = make_user(app, "helper@example.com", name="Hal Helper", password=None)
    with app.app_context():
        db.session.add(EventOrganizer(event_id=world.event.id, user_id=helper.id))
        db.session.commit()
    auth.as_user(helper)
    assert client.get(f"/events/{world.event.slug}/dashboard").status_code == 200
    assert client.get(f"/events/{world.event.id}/stats.json").get_json()["registered"] == 1
