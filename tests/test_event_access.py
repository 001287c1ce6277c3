"""Who may use which event page: every GET and POST route of the events
blueprint, by each of EVENT_ROLES.

Organizer-only pages answer 404 to everyone else (an event's admin URLs
reveal nothing); signed-in pages send anonymous visitors to /login; the join
and invitation pages are open to anyone with the link.

Each test builds one world and walks the whole table for one role, so the
table stays complete without building a world per cell. The POST table runs
in order: what a request changes (leaving, a new join link, cancelling)
comes after the requests it would affect.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import EVENT_ROLES
from tests.factories import make_user
from webapp.extensions import db
from webapp.models import Event, EventOrganizer, OutboxMessage, User, utcnow
from webapp.services import joining

LOGIN = "→ /login"
ROLES_THAT_ORGANIZE = ("organizer", "admin")

ACCESS_TABLE_RULES = {
    "/events",
    "/events/new",
    "/events/<ref>",
    "/events/<ref>/edit",
    "/events/<ref>/calendar.ics",
    "/events/<ref>/people",
    "/join/<code>",
    "/invite/<token>",
}


def table(anonymous=LOGIN, attendee=404, other_attendee=404, other_organizer=404, organizer=404, admin=404):
    return {"anonymous": anonymous, "attendee": attendee, "other_attendee": other_attendee,
            "other_organizer": other_organizer, "organizer": organizer, "admin": admin}


def signed_in(expected):
    return table(attendee=expected, other_attendee=expected, other_organizer=expected, organizer=expected,
                 admin=expected)


def organizers_only(expected):
    return table(organizer=expected, admin=expected)


def attendee_or_organizers(expected):
    return table(attendee=expected, organizer=expected, admin=expected)


def attendee_only(expected):
    return table(attendee=expected)


def roles_with(expected, *roles, otherwise=403):
    return {**table(**dict.fromkeys(EVENT_ROLES[1:], otherwise)), **dict.fromkeys(roles, expected)}


# rule -> (URL template, expected answer per role). "→ /events/..." means a redirect there.
GET_ROUTES = {
    "/events": ("/events", signed_in(200)),
    "/events/new": ("/events/new", roles_with(200, "other_organizer", "organizer", "admin")),
    "/events/<ref>": ("/events/{slug}", attendee_or_organizers(200)),
    "/events/<ref>/edit": ("/events/{slug}/edit", organizers_only(200)),
    "/events/<ref>/calendar.ics": ("/events/{slug}/calendar.ics", attendee_or_organizers(200)),
    "/events/<ref>/people": ("/events/{slug}/people", attendee_or_organizers(200)),
    # The public join page; someone already attending goes straight to their badge.
    "/join/<code>": ("/join/{code}", {**dict.fromkeys(EVENT_ROLES, 200), "attendee": "→ /events/{slug}/badge"}),
    # An invitation's confirm page shows to whoever holds the link; a made-up token is refused.
    "/invite/<token>": ("/invite/{invitation}", dict.fromkeys(EVENT_ROLES, 200)),
}
assert set(GET_ROUTES) == ACCESS_TABLE_RULES

EDIT_FORM = {"name": "Spring Mixer", "timezone": "Europe/Lisbon", "venue": "", "description": "",
             "followup_delay_minutes": ""}

# (method rule, URL template, form data, expected answer per role), in the order they run.
POST_ROUTES = [
    ("POST /events/new", "/events/new", "event_form",
     roles_with("→ /events/", "other_organizer", "organizer", "admin")),
    ("POST /events/<ref>/edit", "/events/{slug}/edit", "event_form", organizers_only("→ /events/{slug}")),
    ("POST /events/<ref>/invite", "/events/{slug}/invite", {"invite-name": "Ivy", "invite-email": "ivy@example.com"},
     organizers_only("→ /events/{slug}")),
    ("POST /events/<ref>/organizers", "/events/{slug}/organizers", {"organizer-email": "cole@example.com"},
     organizers_only("→ /events/{slug}")),
    ("POST /events/<ref>/organizers/<int:user_id>/remove", "/events/{slug}/organizers/{helper}/remove", {},
     organizers_only("→ /events/{slug}")),
    ("POST /events/<ref>/join-link", "/events/{slug}/join-link", {"enabled": "y"}, organizers_only("→ /events/{slug}")),
    ("POST /events/<ref>/people/listed", "/events/{slug}/people/listed", {"listed": "y"},
     attendee_only("→ /events/{slug}/people")),
    ("POST /events/<ref>/leave", "/events/{slug}/leave", {}, attendee_only("→ /events")),
    # Anyone signed in may join with the link (the attendee who just left joins again).
    ("POST /join/<code>", "/join/{code}", {}, signed_in("→ /events/{slug}/badge")),
    ("POST /join/<code>/email", "/join/{code}/email", {"name": "Nia", "email": "nia@example.com"},
     dict.fromkeys(EVENT_ROLES, 200)),
    ("POST /invite/<token>", "/invite/not-a-real-token", {}, dict.fromkeys(EVENT_ROLES, 400)),
    ("POST /events/<ref>/join-link/new", "/events/{slug}/join-link/new", {}, organizers_only("→ /events/{slug}")),
    ("POST /events/<ref>/cancel", "/events/{slug}/cancel", {}, organizers_only("→ /events/{slug}")),
]


def answer(response) -> int | str:
    if response.status_code in (301, 302, 303):
        location = urlsplit(response.headers["Location"])
        return LOGIN if location.path == "/login" else f"→ {location.path}"
    return response.status_code


def matches(got, expected: int | str) -> bool:
    if expected == LOGIN:
        return got == LOGIN
    if isinstance(expected, str) and expected.endswith("/"):
        return isinstance(got, str) and got.startswith(expected)
    return got == expected


def login_next(response) -> list[str]:
    return parse_qs(urlsplit(response.headers["Location"]).query).get("next", [])


def invitation_token(app, world) -> str:
    with app.app_context():
        joining.invite(db.session.get(Event, world.event.id), db.session.get(User, world.organizer.id),
                       "guest@example.com", "Gus Guest")
        db.session.commit()
        body = db.session.scalar(db.select(OutboxMessage.text_body).filter_by(recipient="guest@example.com"))
    return re.search(r"/invite/(\S+)", body).group(1)


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_get_routes_by_role(app, client, world, role):
    values = {"slug": world.event.slug, "code": world.event.join_code, "invitation": invitation_token(app, world)}
    world.sign_in(role)
    wrong = []
    for template, expected_by_role in GET_ROUTES.values():
        url = template.format(**values)
        expected = expected_by_role[role]
        expected = expected.format(**values) if isinstance(expected, str) else expected
        response = client.get(url)
        got = answer(response)
        if not matches(got, expected) or (expected == LOGIN and login_next(response) != [url]):
            wrong.append(f"GET {url}: expected {expected}, got {got}")
    assert wrong == []


def test_a_made_up_invitation_token_is_refused_for_everyone(client, world):
    for role in EVENT_ROLES:
        world.sign_in(role)
        assert client.get("/invite/not-a-real-token").status_code == 400, role


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_post_routes_by_role(app, client, world, role):
    helper = make_user(app, "helper@example.com", name="Hal Helper", password=None)
    with app.app_context():
        db.session.add(EventOrganizer(event_id=world.event.id, user_id=helper.id))
        db.session.commit()
    start = (utcnow() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    end = (utcnow() + timedelta(days=10, hours=3)).strftime("%Y-%m-%dT%H:%M")
    forms = {"event_form": {**EDIT_FORM, "starts_at": start, "ends_at": end}}
    values = {"slug": world.event.slug, "code": world.event.join_code, "helper": helper.id}
    world.sign_in(role)
    wrong = []
    for rule, template, data, expected_by_role in POST_ROUTES:
        url = template.format(**values)
        expected = expected_by_role[role]
        expected = expected.format(**values) if isinstance(expected, str) else expected
        got = answer(client.post(url, data=forms.get(data, data) if isinstance(data, str) else data))
        if not matches(got, expected):
            wrong.append(f"{rule} as {role}: expected {expected}, got {got}")
    assert wrong == []

    with app.app_context():
        event = db.session.get(Event, world.event.id)
        organized = role in ROLES_THAT_ORGANIZE
        assert (event.cancelled_at is not None) is organized
        assert (event.join_code != world.event.join_code) is organized


def test_every_events_route_is_in_a_table(app):
    get_rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("events.") and "GET" in r.methods}
    post_rules = {f"POST {r.rule}" for r in app.url_map.iter_rules()
                  if r.endpoint.startswith("events.") and "POST" in r.methods}
    assert get_rules == set(GET_ROUTES)
    assert post_rules == {rule for rule, *_ in POST_ROUTES}
