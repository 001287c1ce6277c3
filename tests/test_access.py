"""Who may open which page: every GET route by anonymous / attendee / organizer / admin.

A new GET route fails ``test_every_get_route_is_in_the_access_table`` until it
gets a row here, so nobody ships a page without deciding who may see it.
"""

from __future__ import annotations

import importlib
import io
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from tests.factories import make_user
from webapp.extensions import db as _db
from webapp.models import OutboxMessage, User
from webapp.services import accounts, profiles

ROLES = ("anonymous", "attendee", "organizer", "admin")
LOGIN = "→ /login"  # redirected to the sign-in page, with next= this URL
HOME = "→ /"  # redirected to the home page


def everyone(expected):
    return dict.fromkeys(ROLES, expected)


def signed_in(expected):
    return {"anonymous": LOGIN, "attendee": expected, "organizer": expected, "admin": expected}


def admins_only(admin_expected=200):
    return {"anonymous": LOGIN, "attendee": 403, "organizer": 403, "admin": admin_expected}


# rule -> (URL to request, expected answer per role)
ROUTES = {
    "/": ("/", everyone(200)),
    "/healthz": ("/healthz", everyone(200)),
    "/manifest.webmanifest": ("/manifest.webmanifest", everyone(200)),
    "/static/<path:filename>": ("/static/css/app.css", everyone(200)),
    "/login": ("/login", {"anonymous": 200, "attendee": HOME, "organizer": HOME, "admin": HOME}),
    # Unlike /login these don't send a signed-in person away (see the report).
    "/signup": ("/signup", everyone(200)),
    "/login/link": ("/login/link", everyone(200)),
    "/reset": ("/reset", everyone(200)),
    # Link pages with a token that was never issued: the "link invalid" page.
    "/login/link/<token>": ("/login/link/not-a-real-token", everyone(400)),
    "/verify/<token>": ("/verify/not-a-real-token", everyone(400)),
    "/reset/<token>": ("/reset/not-a-real-token", everyone(400)),
    "/account/email/<token>": ("/account/email/not-a-real-token", everyone(400)),
    "/account": ("/account", signed_in(200)),
    "/profile": ("/profile", signed_in(200)),
    "/profile/edit": ("/profile/edit", signed_in(200)),
    # Someone else's photo: only admins (everyone else can't tell it exists).
    "/profile/<int:user_id>/photo.jpg": (
        "/profile/{other}/photo.jpg", {"anonymous": LOGIN, "attendee": 404, "organizer": 404, "admin": 200}
    ),
    "/admin": ("/admin", admins_only()),
    "/admin/mail": ("/admin/mail", admins_only()),
    "/admin/mail/<int:message_id>": ("/admin/mail/{message}", admins_only()),
    "/admin/mail/<int:message_id>/body.html": ("/admin/mail/{message}/body.html", admins_only()),
    "/admin/health": ("/admin/health", admins_only()),
    "/admin/audit": ("/admin/audit", admins_only()),
}


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def others(app) -> dict[str, int]:
    """Another person with a photo and an email in the outbox."""
    other = make_user(app, "other@example.com", password=None)
    with app.app_context():
        user = _db.session.get(User, other.id)
        profiles.set_photo(user, tiny_png())
        accounts.request_signin_link(user.email)
        _db.session.commit()
        message_id = _db.session.scalar(_db.select(OutboxMessage.id))
    return {"other": other.id, "message": message_id}


def rules_with_tables() -> set[str]:
    """Rules in this table, plus those covered by event-level tables elsewhere:
    any test module may declare the rules its own route x role tables cover in
    ``ACCESS_TABLE_RULES``."""
    covered = set(ROUTES)
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        module = importlib.import_module(f"tests.{path.stem}")
        covered |= set(getattr(module, "ACCESS_TABLE_RULES", ()))
    return covered


def test_every_get_route_is_in_an_access_table(app):
    get_rules = {rule.rule for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    covered = rules_with_tables()
    assert get_rules - covered == set(), "add these routes to an access table (ROUTES or ACCESS_TABLE_RULES)"
    assert covered - get_rules == set(), "these routes are gone: remove them from the access tables"


CASES = [(rule, role) for rule in ROUTES for role in ROLES]


@pytest.mark.parametrize(("rule", "role"), CASES, ids=[f"{role}:{rule}" for rule, role in CASES])
def test_route_access_by_role(app, client, auth, others, rule, role):
    url_template, expected_by_role = ROUTES[rule]
    url = url_template.format(**others)
    if role != "anonymous":
        auth.as_user(make_user(app, password=None, role=role))
    response = client.get(url)
    expected = expected_by_role[role]
    if expected == LOGIN:
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login"
        assert parse_qs(location.query)["next"] == [urlsplit(url).path]
    elif expected == HOME:
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == "/"
    else:
        assert response.status_code == expected


@pytest.mark.parametrize("role", ROLES)
def test_home_page_greets_signed_in_people_and_introduces_meetloop_to_others(app, client, auth, role):
    if role != "anonymous":
        auth.as_user(make_user(app, name="Zoe Quartermaine", password=None, role=role))
    body = client.get("/").get_data(as_text=True)
    assert ("Hi Zoe" in body) is (role != "anonymous")
    assert ('href="/admin"' in body) is (role == "admin")
    assert ('href="/login"' in body) is (role == "anonymous")


def test_a_disabled_account_is_treated_as_signed_out(app, client, auth):
    user = make_user(app, password=None)
    auth.as_user(user)
    with app.app_context():
        _db.session.get(User, user.id).is_disabled = True
        _db.session.commit()
    response = client.get("/profile")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
