"""Signing in to the JSON API (Bearer tokens, or the cookie plus X-CSRFToken),
personal tokens on /settings/tokens, and who may use which API route."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

import pytest

from tests.api_support import CONTACTS, SCANS, assert_api_error, bearer, count, error_of, post_scan, token_for
from tests.conftest import EVENT_ROLES, csrf_token_of
from tests.factories import attend, make_event, make_user
from webapp.extensions import db
from webapp.models import ApiToken, Contact, Scan, User
from webapp.services import api_tokens, connections

# GET routes whose route x role table is in this module (see tests/test_access.py).
ACCESS_TABLE_RULES = ("/api/v1/openapi.json", "/api/v1/me", "/api/v1/me/contacts", "/settings/tokens")

LOGIN = "→ /login"


@pytest.fixture
def pair(app):
    """Two passwordless people at one event: Ana scans, Pia is scanned."""
    organizer = make_user(app, "olga@example.com", name="Olga", password=None, role="organizer")
    ana = make_user(app, "ana@example.com", name="Ana", password=None)
    pia = make_user(app, "pia@example.com", name="Pia", password=None)
    event = make_event(app, organizer, "Spring Mixer")
    attend(app, event, ana)
    return ana, pia, attend(app, event, pia).badge_token


# --- the session cookie ---------------------------------------------------------------------


def test_a_cookie_session_post_without_x_csrftoken_is_403_csrf_failed(app, client, auth, csrf, pair):
    ana, _, badge = pair
    auth.as_user(ana)

    assert_api_error(post_scan(client, None, badge), 403, "csrf_failed")
    assert_api_error(client.post(SCANS, json={"badge": badge, "client_id": "c-1"},
                                 headers={"X-CSRFToken": "forged"}), 403, "csrf_failed")
    assert count(app, Scan) == 0


def test_a_cookie_session_post_with_the_pages_csrf_token_works(app, client, auth, csrf, pair):
    ana, _, badge = pair
    auth.as_user(ana)

    response = client.post(SCANS, json={"badge": badge, "client_id": "c-1"},
                           headers={"X-CSRFToken": csrf_token_of(client, "/")})

    assert response.status_code == 201


def test_a_cookie_session_read_needs_no_csrf_token(app, client, auth, csrf, pair):
    auth.as_user(pair[0])

    assert client.get(CONTACTS).status_code == 200
    assert client.get("/api/v1/me").get_json()["email"] == "ana@example.com"


def test_a_csrf_token_from_another_browser_is_refused(app, client, auth, csrf, pair):
    ana, _, badge = pair
    other_browser = app.test_client()
    auth.as_user(ana)
    other_token = csrf_token_of(other_browser)

    response = client.post(SCANS, json={"badge": badge, "client_id": "c-1"}, headers={"X-CSRFToken": other_token})

    assert_api_error(response, 403, "csrf_failed")


# --- Bearer tokens --------------------------------------------------------------------------


def test_a_bearer_token_works_without_csrf_and_sets_no_cookie(app, client, csrf, pair):
    ana, _, badge = pair

    response = post_scan(client, token_for(app, ana), badge)

    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers


def test_the_scheme_name_is_case_insensitive(app, client, pair):
    token = token_for(app, pair[0])

    assert client.get("/api/v1/me", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_an_unknown_or_malformed_token_is_401_unauthenticated(app, client, pair):
    token = token_for(app, pair[0])
    headers = ["Bearer ml_" + "x" * 43, "Bearer not-even-our-format", "Bearer", "Basic YW5hOnNlY3JldA==", token,
               f"Bearer {token} extra", f"Token {token}", f"Bearer {token[:-1]}"]

    responses = {header: client.get("/api/v1/me", headers={"Authorization": header}) for header in headers}

    assert {header: error_of(r) for header, r in responses.items()} == dict.fromkeys(headers, (401, "unauthenticated"))
    assert all(r.headers["WWW-Authenticate"].startswith("Bearer") for r in responses.values())


def test_a_revoked_token_is_401_at_once(app, client, pair):
    ana = pair[0]
    token = token_for(app, ana)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    with app.app_context():
        token_id = db.session.scalar(db.select(ApiToken.id))
        api_tokens.revoke(db.session.get(User, ana.id), token_id)
        db.session.commit()

    assert_api_error(client.get("/api/v1/me", headers=bearer(token)), 401, "unauthenticated")


def test_a_bad_token_is_not_rescued_by_a_session_cookie(app, client, auth, pair):
    auth.as_user(pair[0])

    assert_api_error(client.get("/api/v1/me", headers=bearer("ml_revoked-or-made-up")), 401, "unauthenticated")


def test_a_tokens_use_is_recorded(app, client, pair):
    token = token_for(app, pair[0])
    with app.app_context():
        assert db.session.scalar(db.select(ApiToken.last_used_at)) is None

    client.get(CONTACTS, headers=bearer(token))

    with app.app_context():
        assert db.session.scalar(db.select(ApiToken.last_used_at)) is not None


# --- the token pages ------------------------------------------------------------------------


def create_token_on_page(client, name: str = "My phone") -> str:
    page = client.post("/settings/tokens", data={"name": name, "csrf_token": csrf_token_of(client, "/")})
    assert page.status_code == 200
    values = re.findall(r'id="new-token"[^>]*value="(ml_[^"]+)"|value="(ml_[^"]+)"[^>]*id="new-token"',
                        page.get_data(as_text=True))
    assert len(values) == 1, "the new token is not shown"
    assert page.headers["Cache-Control"] == "no-store"
    return "".join(values[0])


def test_a_token_made_on_the_page_is_shown_once_and_stored_only_hashed(app, client, auth, csrf, pair):
    ana, _, badge = pair
    auth.as_user(ana)

    plaintext = create_token_on_page(client)

    assert plaintext.startswith("ml_") and len(plaintext) > 40
    with app.app_context():
        row = db.session.scalar(db.select(ApiToken))
        assert (row.user_id, row.name) == (ana.id, "My phone")
        assert row.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
        assert plaintext not in (row.token_hash, row.prefix, row.name) and plaintext.startswith(row.prefix)
    listing = client.get("/settings/tokens").get_data(as_text=True)
    assert "My phone" in listing and plaintext not in listing
    assert post_scan(app.test_client(), plaintext, badge).status_code == 201


def test_the_token_pages_need_the_csrf_token(app, client, auth, csrf, pair):
    auth.as_user(pair[0])
    assert client.post("/settings/tokens", data={"name": "No CSRF"}).status_code == 403
    plaintext = create_token_on_page(client)
    with app.app_context():
        token_id = db.session.scalar(db.select(ApiToken.id))

    assert client.post(f"/settings/tokens/{token_id}/revoke").status_code == 403
    assert count(app, ApiToken, ApiToken.revoked_at.is_not(None)) == 0
    response = client.post(f"/settings/tokens/{token_id}/revoke", data={"csrf_token": csrf_token_of(client, "/")})
    assert urlsplit(response.headers["Location"]).path == "/settings/tokens"
    assert_api_error(app.test_client().get("/api/v1/me", headers=bearer(plaintext)), 401, "unauthenticated")


def test_only_the_owner_can_revoke_a_token(app, client, auth, pair):
    ana, pia, _ = pair
    token = token_for(app, pia)
    with app.app_context():
        token_id = db.session.scalar(db.select(ApiToken.id))
    auth.as_user(ana)

    assert client.post(f"/settings/tokens/{token_id}/revoke").status_code == 404
    assert client.post("/settings/tokens/99999999999/revoke").status_code == 404
    assert app.test_client().get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert "ml_" not in client.get("/settings/tokens").get_data(as_text=True)


def test_a_token_needs_a_sensible_name(app, client, auth, pair):
    auth.as_user(pair[0])
    names = ["", "   ", "x" * 81]

    answers = {name: client.post("/settings/tokens", data={"name": name}).status_code for name in names}

    assert answers == dict.fromkeys(names, 422)
    assert count(app, ApiToken) == 0


# --- who may use which route: route x role tables -------------------------------------------

# POST /api/v1/scans of world.attendee_badge (an attendee scans someone *else* at the event).
# Site admins count as organizers of every event (services.events.is_organizer), so they may
# connect with anyone at any event, as its organizers may.
SCAN_TABLE = {
    "anonymous": (401, "unauthenticated"),
    "attendee": (201, None),
    "other_attendee": (403, "not_attendee"),
    "other_organizer": (403, "not_attendee"),
    "organizer": (201, None),
    "admin": (201, None),
}


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_who_may_post_a_scan(app, client, world, role):
    badge = world.attendee_badge
    if role == "attendee":
        peer = make_user(app, "peer@example.com", name="Pia Peer", password=None)
        badge = attend(app, world.event, peer).badge_token
    world.sign_in(role)

    response = client.post(SCANS, json={"badge": badge, "client_id": f"role-{role}"})

    status, code = SCAN_TABLE[role]
    if code:
        assert_api_error(response, status, code)
        assert count(app, Scan) == 0
    else:
        assert response.status_code == status
        assert count(app, Scan) == 1


# The other routes, with what each role gets. {contact}: world.attendee's contact.
ROUTE_TABLE = {
    ("GET", "/api/v1/openapi.json"): dict.fromkeys(EVENT_ROLES, 200),
    ("GET", "/api/v1/me"): {**dict.fromkeys(EVENT_ROLES, 200), "anonymous": 401},
    ("GET", "/api/v1/me/contacts"): {**dict.fromkeys(EVENT_ROLES, 200), "anonymous": 401},
    ("GET", "/settings/tokens"): {**dict.fromkeys(EVENT_ROLES, 200), "anonymous": LOGIN},
    # Contacts are private: nobody else may remove one, admins included (404, as if absent).
    ("DELETE", "/api/v1/me/contacts/{contact}"): {**dict.fromkeys(EVENT_ROLES, 404), "anonymous": 401,
                                                  "attendee": 204},
}


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_who_may_use_the_other_api_routes(app, client, world, role):
    peer = make_user(app, "peer@example.com", name="Pia Peer", password=None)
    with app.app_context():
        badge = attend(app, world.event, peer).badge_token
        result = connections.record_scan(db.session.get(User, world.attendee.id), badge, "setup")
        db.session.commit()
        contact_id = result.contact.id
    world.sign_in(role)

    wrong = []
    for (method, url), expected_by_role in ROUTE_TABLE.items():
        response = client.open(url.format(contact=contact_id), method=method)
        expected = expected_by_role[role]
        if expected == LOGIN:
            ok = response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
        else:
            ok = response.status_code == expected
            if expected >= 400 and url.startswith("/api/"):
                ok = ok and set(response.get_json()) == {"error"}
        if not ok:
            wrong.append(f"{method} {url}: expected {expected}, got {response.status_code}")

    assert wrong == []
    with app.app_context():
        removed = db.session.get(Contact, contact_id).deleted_at is not None
    assert removed is (role == "attendee")
