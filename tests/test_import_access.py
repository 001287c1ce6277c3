"""Who may use the registrant import: every import route, GET and POST, by
each of EVENT_ROLES. The import pages are the event's organizers' (and site
admins'): anonymous visitors are sent to /login, everyone else gets 404. The
"not me" page is public: the signed link is the only credential.

Each test builds one world and walks the whole table for one role. POSTs run
in order: the upload, then starting one import, then discarding another.
"""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import EVENT_ROLES
from webapp.extensions import db
from webapp.models import Event, OutboxMessage, RegistrantImport, User
from webapp.services import registrant_import

LOGIN = "→ /login"
CSV = b"name,email\nIvy Import,ivy@example.com\nBroken,not-an-email\n"

ACCESS_TABLE_RULES = {
    "/events/<ref>/imports",
    "/events/<ref>/imports/template.csv",
    "/events/<ref>/imports/<int:import_id>",
    "/events/<ref>/imports/<int:import_id>/progress",
    "/events/<ref>/imports/<int:import_id>/bad-rows.csv",
    "/not-me/<token>",
}


def organizers_only(expected):
    return {"anonymous": LOGIN, "attendee": 404, "other_attendee": 404, "other_organizer": 404,
            "organizer": expected, "admin": expected}


def everyone(expected):
    return dict.fromkeys(EVENT_ROLES, expected)


# rule -> (URL template, expected answer per role)
GET_ROUTES = {
    "/events/<ref>/imports": ("/events/{ref}/imports", organizers_only(200)),
    "/events/<ref>/imports/template.csv": ("/events/{ref}/imports/template.csv", organizers_only(200)),
    "/events/<ref>/imports/<int:import_id>": ("/events/{ref}/imports/{done}", organizers_only(200)),
    "/events/<ref>/imports/<int:import_id>/progress": ("/events/{ref}/imports/{done}/progress", organizers_only(200)),
    "/events/<ref>/imports/<int:import_id>/bad-rows.csv": ("/events/{ref}/imports/{done}/bad-rows.csv",
                                                          organizers_only(200)),
    "/not-me/<token>": ("/not-me/{not_me}", everyone(200)),
}
assert set(GET_ROUTES) == ACCESS_TABLE_RULES

# (method rule, URL template, form data, expected answer per role), in the order they run.
POST_ROUTES = [
    ("POST /events/<ref>/imports", "/events/{ref}/imports", "upload", organizers_only("→ /events/{ref}/imports/")),
    ("POST /events/<ref>/imports/<int:import_id>/start", "/events/{ref}/imports/{to_start}/start", {},
     organizers_only("→ /events/{ref}/imports/{to_start}")),
    ("POST /events/<ref>/imports/<int:import_id>/discard", "/events/{ref}/imports/{to_discard}/discard", {},
     organizers_only("→ /events/{ref}/imports")),
    # Public, and refused (400) when the link was never issued.
    ("POST /not-me/<token>", "/not-me/not-a-real-token", {}, everyone(400)),
]


def make_import(app, world, *, run: bool) -> int:
    with app.app_context():
        imp = registrant_import.create_import(db.session.get(Event, world.event.id),
                                              db.session.get(User, world.organizer.id), "people.csv", CSV)
        db.session.commit()
        if run:
            registrant_import.start(imp)
            db.session.commit()
            registrant_import.run_import(imp.id)
        return imp.id


def not_me_token(app) -> str:
    with app.app_context():
        body = db.session.scalar(db.select(OutboxMessage.text_body).filter_by(recipient="ivy@example.com"))
    return body.split("/not-me/")[1].split()[0]


@pytest.fixture
def values(app, world) -> dict:
    done = make_import(app, world, run=True)
    return {"ref": world.event.slug, "done": done, "not_me": not_me_token(app),
            "to_start": make_import(app, world, run=False), "to_discard": make_import(app, world, run=False)}


def answer(response) -> int | str:
    if response.status_code in (301, 302, 303):
        location = urlsplit(response.headers["Location"])
        return LOGIN if location.path == "/login" else f"→ {location.path}"
    return response.status_code


def matches(got, expected) -> bool:
    if isinstance(expected, str) and expected.endswith("/"):
        return isinstance(got, str) and got.startswith(expected)
    return got == expected


def expect(expected, values):
    return expected.format(**values) if isinstance(expected, str) else expected


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_get_routes_by_role(client, world, values, role):
    world.sign_in(role)
    wrong = []
    for template, expected_by_role in GET_ROUTES.values():
        url = template.format(**values)
        expected = expect(expected_by_role[role], values)
        response = client.get(url)
        got = answer(response)
        next_ok = expected != LOGIN or parse_qs(urlsplit(response.headers["Location"]).query).get("next") == [url]
        if not matches(got, expected) or not next_ok:
            wrong.append(f"GET {url}: expected {expected}, got {got}")
    assert wrong == []


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_post_routes_by_role(app, client, world, values, role):
    world.sign_in(role)
    wrong = []
    for rule, template, data, expected_by_role in POST_ROUTES:
        url = template.format(**values)
        expected = expect(expected_by_role[role], values)
        form = {"file": (io.BytesIO(CSV), "again.csv")} if data == "upload" else data
        got = answer(client.post(url, data=form))
        if not matches(got, expected):
            wrong.append(f"{rule} as {role}: expected {expected}, got {got}")
    assert wrong == []

    organizes = role in ("organizer", "admin")
    with app.app_context():
        statuses = dict(db.session.execute(db.select(RegistrantImport.id, RegistrantImport.status)).all())
        uploaded = db.session.scalar(db.select(RegistrantImport.id).filter_by(filename="again.csv"))
    assert statuses.get(values["to_start"]) == ("done" if organizes else "preview")
    assert (values["to_discard"] in statuses) is not organizes
    assert (uploaded is not None) is organizes


def test_an_organizer_cant_reach_another_events_import_through_their_own_event(app, client, world, values):
    world.sign_in("other_organizer")
    own = world.other_event.slug
    for url in (f"/events/{own}/imports/{values['done']}", f"/events/{own}/imports/{values['done']}/progress",
                f"/events/{own}/imports/{values['done']}/bad-rows.csv"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/events/{own}/imports/{values['to_start']}/start").status_code == 404
    assert client.post(f"/events/{own}/imports/{values['to_discard']}/discard").status_code == 404


def test_the_upload_and_import_forms_need_the_csrf_token(app, client, world, values, csrf):
    world.sign_in("organizer")
    ref = values["ref"]
    assert client.post(f"/events/{ref}/imports", data={"file": (io.BytesIO(CSV), "p.csv")}).status_code == 403
    assert client.post(f"/events/{ref}/imports/{values['to_start']}/start").status_code == 403
    assert client.post(f"/events/{ref}/imports/{values['to_discard']}/discard").status_code == 403
    with app.app_context():
        assert db.session.get(RegistrantImport, values["to_start"]).status == "preview"


def test_every_import_route_is_in_a_table(app):
    rules = {r.rule: r.methods for r in app.url_map.iter_rules()
             if r.endpoint.startswith("organize.import") or r.endpoint == "organize.not_me"}
    assert {rule for rule, methods in rules.items() if "GET" in methods} == set(GET_ROUTES)
    assert {f"POST {rule}" for rule, methods in rules.items() if "POST" in methods} == {r for r, *_ in POST_ROUTES}
