"""Security headers on every kind of response, cookies that follow HTTPS, and
a session that starts afresh at every sign-in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token_of
from tests.factories import PASSWORD, attend, make_event, make_user
from webapp import create_app
from webapp.config import PROJECT_ROOT
from webapp.extensions import db
from webapp.models import Event, OutboxMessage, User
from webapp.services import accounts, joining, tokens

HSTS = "max-age=31536000; includeSubDomains"
HTTPS = "https://localhost"


def directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {name: value.strip() for name, _, value in
            (part.strip().partition(" ") for part in policy.split(";") if part.strip())}


@pytest.fixture
def pages(app, auth):
    """A signed-in attendee, and the URLs of one response of each kind."""
    auth.as_user(make_user(app, password=None))
    return {"html": "/contacts", "scanner": "/scan", "api": "/api/v1/me", "404": "/no/such/page",
            "api 404": "/api/v1/no/such/thing"}


KINDS = ["html", "scanner", "api", "404", "api 404"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_response_carries_the_security_headers(client, pages, kind):
    response = client.get(pages[kind])

    assert response.status_code == (404 if "404" in kind else 200)
    csp = directives(response)
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"].split()
    assert csp["default-src"] == "'self'"
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")


@pytest.mark.parametrize("kind", KINDS)
def test_only_the_scanner_may_compile_webassembly(client, pages, kind):
    script_src = directives(client.get(pages[kind]))["script-src"].split()

    assert ("'wasm-unsafe-eval'" in script_src) is (kind == "scanner")
    assert "'self'" in script_src


@pytest.mark.parametrize("kind", KINDS)
def test_hsts_is_sent_over_https_only(client, pages, kind):
    plain = client.get(pages[kind])
    secure = client.get(pages[kind], base_url=HTTPS)

    assert "Strict-Transport-Security" not in plain.headers
    assert secure.headers["Strict-Transport-Security"] == HSTS


@pytest.mark.parametrize(("hops", "hsts"), [(0, False), (1, True)])
def test_behind_a_trusted_proxy_https_is_read_from_x_forwarded_proto(app, hops, hsts):
    proxied = create_app({**_test_settings(app), "TRUSTED_PROXIES": hops})

    response = proxied.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 200
    assert ("Strict-Transport-Security" in response.headers) is hsts


def _test_settings(app) -> dict:
    keep = ("TESTING", "SQLALCHEMY_DATABASE_URI", "BASE_URL", "MAIL_TRANSPORT", "MAIL_DIR", "SECRET_KEY",
            "PASSWORD_HASH_METHOD")
    return {name: app.config[name] for name in keep} | {"RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False}


def test_the_framed_email_previews_may_be_framed_by_the_app_and_nothing_else_is(app, client, auth):
    admin = make_user(app, role="admin", password=None)
    with app.app_context():
        accounts.request_signin_link(admin.email)
        db.session.commit()
        message_id = db.session.scalar(select(OutboxMessage.id))
    auth.as_user(admin)

    page = client.get(f"/admin/mail/{message_id}")
    frame = client.get(f"/admin/mail/{message_id}/body.html")

    assert 'sandbox src="/admin/mail/' in page.get_data(as_text=True)
    assert directives(page)["frame-src"] == "'self'" and directives(page)["frame-ancestors"] == "'none'"
    assert directives(frame)["frame-ancestors"] == "'self'" and "sandbox" in directives(frame)
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert page.headers["X-Frame-Options"] == "DENY"


# --- templates: nothing the CSP would block ---------------------------------------------------------

TEMPLATES = [path for path in sorted((PROJECT_ROOT / "templates").rglob("*.html"))
             if "email" not in path.relative_to(PROJECT_ROOT / "templates").parts]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(PROJECT_ROOT / "templates")))
def test_no_page_template_has_inline_scripts_handlers_or_styles(path: Path):
    html = path.read_text()

    inline_scripts = [tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag]
    handlers = re.findall(r"<[^>]*\son[a-z]+\s*=", html)
    assert inline_scripts == []
    assert handlers == []
    assert re.findall(r"\sstyle\s*=", html) == []
    assert "javascript:" not in html


def test_pages_frame_only_the_apps_own_urls():
    frames = [tag for path in TEMPLATES for tag in re.findall(r"<(?:iframe|embed|object)\b[^>]*>", path.read_text())]

    assert frames, "the mail log and the recap preview frame an email"
    assert all(re.search(r'src="{{ url_for\(', tag) for tag in frames), frames
    assert all("sandbox" in tag for tag in frames), frames


# --- cookies --------------------------------------------------------------------------------------


def cookie(response, name: str) -> str:
    found = [value for value in response.headers.getlist("Set-Cookie") if value.startswith(f"{name}=")]
    assert found, f"no {name} cookie in {response.headers.getlist('Set-Cookie')}"
    return found[-1]


def flags(set_cookie: str) -> set[str]:
    return {part.strip().lower() for part in set_cookie.split(";")[1:]}


def sign_in_with_remember(client, user, **kwargs):
    return client.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y"}, **kwargs)


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_session_and_remember_cookies_are_httponly_lax_and_secure_over_https(app, client, https):
    user = make_user(app)
    base = {"base_url": HTTPS} if https else {}

    response = sign_in_with_remember(client, user, **base)

    assert response.status_code == 302
    for name in ("session", "remember_token"):
        attributes = flags(cookie(response, name))
        assert "httponly" in attributes, name
        assert "samesite=lax" in attributes, name
        assert ("secure" in attributes) is https, name


def test_in_production_cookies_are_secure_even_when_the_proxy_speaks_plain_http(app, monkeypatch):
    monkeypatch.setenv("MEETLOOP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-long-production-secret-for-this-test")
    production = create_app({**_test_settings(app), "SECRET_KEY": "a-long-production-secret-for-this-test"})
    user = make_user(app)

    response = sign_in_with_remember(production.test_client(), user)

    assert production.config["ENV_NAME"] == "production"
    assert response.status_code == 302
    for name in ("session", "remember_token"):
        attributes = flags(cookie(response, name))
        assert {"secure", "httponly", "samesite=lax"} <= attributes, name


# --- a fresh session at sign-in ----------------------------------------------------------------------


def plant(client) -> str:
    """A value set in the session before signing in, as a fixation attack would;
    returns the CSRF secret the session held then."""
    csrf_token_of(client, "/login")
    with client.session_transaction() as session:
        session["planted"] = "set before sign-in"
        return session["csrf_token"]


def session_after(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


def assert_fresh_session_for(client, user_id: int, csrf_before: str) -> None:
    session = session_after(client)
    assert session.get("_user_id", "").split(":")[0] == str(user_id)
    assert "planted" not in session
    assert session.get("csrf_token") != csrf_before


def test_password_sign_in_starts_a_fresh_session_and_still_goes_next(app, client, csrf):
    user = make_user(app)
    before = plant(client)

    response = client.post("/login?next=/contacts", data={"email": user.email, "password": PASSWORD,
                                                           "csrf_token": csrf_token_of(client, "/login")})

    assert response.status_code == 302 and response.headers["Location"] == "/contacts"
    assert_fresh_session_for(client, user.id, before)


def test_a_sign_in_link_starts_a_fresh_session(app, client, csrf):
    user = make_user(app, password=None)
    with app.app_context():
        token = tokens.make(accounts.SIGNIN, uid=user.id, sv=user.session_version, next="/contacts")
    before = plant(client)

    response = client.post(f"/login/link/{token}", data={"csrf_token": csrf_token_of(client, "/login")})

    assert response.status_code == 302 and response.headers["Location"] == "/contacts"
    assert_fresh_session_for(client, user.id, before)


def test_accepting_an_invitation_starts_a_fresh_session(app, client, csrf):
    organizer = make_user(app, role="organizer", password=None)
    event = make_event(app, organizer)
    with app.app_context():
        guest = joining.invite(db.session.get(Event, event.id), db.session.get(User, organizer.id),
                               "guest@example.com", "Gus Guest")
        db.session.commit()
        guest_id = guest.id
        body = db.session.scalar(select(OutboxMessage.text_body).filter_by(recipient="guest@example.com"))
    token = re.search(r"/invite/(\S+)", body).group(1)
    before = plant(client)

    response = client.post(f"/invite/{token}", data={"csrf_token": csrf_token_of(client, "/login")})

    assert response.status_code == 302
    assert_fresh_session_for(client, guest_id, before)


def test_signing_in_as_someone_else_leaves_nothing_of_the_first_session(app, client, auth, csrf):
    first, second = make_user(app), make_user(app)
    auth.as_user(first)
    with client.session_transaction() as session:
        session["planted"] = "first person's"
    with app.app_context():
        token = tokens.make(accounts.SIGNIN, uid=second.id, sv=second.session_version)

    client.post(f"/login/link/{token}", data={"csrf_token": csrf_token_of(client, "/signup")})

    session = session_after(client)
    assert session["_user_id"].split(":")[0] == str(second.id) and "planted" not in session


def test_a_message_flashed_while_signing_in_survives_the_fresh_session(app, client, outbox):
    user = make_user(app, password=None)
    client.post("/reset", data={"email": user.email})
    link = outbox.path(outbox.last(user.email), "/reset/")

    response = client.post(link, data={"password": "a brand new passphrase", "confirm": "a brand new passphrase"},
                           follow_redirects=True)

    assert "Your password is changed" in response.get_data(as_text=True)


def test_signing_in_from_a_badge_prompt_still_lands_on_the_badge(app, client, csrf):
    """The fresh session keeps where the person was going (``next``)."""
    organizer = make_user(app, role="organizer", password=None)
    event = make_event(app, organizer)
    scanner, owner = make_user(app), make_user(app)
    attend(app, event, scanner)
    badge = attend(app, event, owner).badge_token

    response = client.post(f"/login?next=/b/{badge}", data={"email": scanner.email, "password": PASSWORD,
                                                             "csrf_token": csrf_token_of(client, "/login")})

    assert response.headers["Location"] == f"/b/{badge}"
    assert client.get(f"/b/{badge}").status_code == 200
