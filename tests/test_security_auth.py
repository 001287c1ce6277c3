"""Account security: CSRF on every form, rate limits, no secrets in the logs,
emailed links that do one thing for one person for a while, and no open redirects."""

from __future__ import annotations

import logging
import re

import pytest
from flask import url_for
from sqlalchemy import func, select

from tests.conftest import BASE_URL, csrf_token_of
from tests.factories import PASSWORD, attend, make_event, make_user
from tests.test_followups import make_contact
from tests.test_links import backdated
from webapp.extensions import db
from webapp.models import Attendance, Contact, Event, OutboxMessage, User
from webapp.services import (
    accounts,
    followups,
    joining,
    registrant_import,
    tokens,
    touch_links,
    unsubscribe,
)


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


# --- CSRF ------------------------------------------------------------------------------

# Every POST route of the auth blueprint: (endpoint, needs a signed-in user, form data).
# The data is valid, so without CSRF protection each request would do its job.
CSRF_ROUTES = [
    ("auth.login", False, {"email": "{email}", "password": PASSWORD}),
    ("auth.logout", True, {}),
    ("auth.logout_everywhere", True, {}),
    ("auth.signup", False, {"name": "New", "email": "new@example.com", "password": "a long enough password"}),
    ("auth.request_link", False, {"email": "{email}"}),
    ("auth.link_signin", False, {}),
    ("auth.verify_email", False, {}),
    ("auth.request_reset", False, {"email": "{email}"}),
    ("auth.reset_password", False, {"password": "a long enough password", "confirm": "a long enough password"}),
    ("auth.change_email", True, {"email": "new@example.com"}),
    ("auth.confirm_email_change", False, {}),
    ("auth.change_password", True, {"current_password": PASSWORD, "password": "a long enough password",
                                    "confirm": "a long enough password"}),
    ("auth.delete_account", True, {"email": "{email}"}),
]
LINK_PURPOSES = {
    "auth.link_signin": accounts.SIGNIN,
    "auth.verify_email": accounts.VERIFY,
    "auth.reset_password": accounts.RESET,
    "auth.confirm_email_change": accounts.CHANGE_EMAIL,
}


def test_the_csrf_table_lists_every_post_route_of_the_auth_blueprint(app):
    posting = {rule.endpoint for rule in app.url_map.iter_rules()
               if rule.endpoint.startswith("auth.") and "POST" in rule.methods}

    assert posting == {endpoint for endpoint, _, _ in CSRF_ROUTES}


def _url_and_data(app, user, endpoint: str, data: dict) -> tuple[str, dict]:
    with app.test_request_context():
        values = {}
        if endpoint in LINK_PURPOSES:
            values["token"] = tokens.make(LINK_PURPOSES[endpoint], uid=user.id, sv=user.session_version,
                                          email="moved@example.com")
        url = url_for(endpoint, **values)
    return url, {k: v.format(email=user.email) for k, v in data.items()}


@pytest.mark.parametrize(("endpoint", "needs_user", "data"), CSRF_ROUTES, ids=[r[0] for r in CSRF_ROUTES])
def test_every_auth_form_refuses_a_post_without_a_csrf_token(app, client, auth, csrf, outbox, endpoint,
                                                             needs_user, data):
    user = make_user(app, password=PASSWORD if "password" in data else None)
    if needs_user:
        auth.as_user(user)
    url, form = _url_and_data(app, user, endpoint, data)

    refused = client.post(url, data=form)

    assert refused.status_code == 403
    assert "Reload the page" in refused.get_data(as_text=True)
    assert len(outbox) == 0
    assert signed_in(client) is needs_user
    accepted = client.post(url, data={**form, "csrf_token": csrf_token_of(client)})
    assert accepted.status_code != 403


def test_a_csrf_token_from_another_browser_is_refused(app, client, csrf):
    user = make_user(app)
    stranger = app.test_client()

    response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                           "csrf_token": csrf_token_of(stranger)})

    assert response.status_code == 403
    assert not signed_in(client)


def test_the_csrf_header_works_for_scripts(app, client, auth, csrf):
    user = make_user(app)
    auth.as_user(user)

    response = client.post("/logout", headers={"X-CSRFToken": csrf_token_of(client)})

    assert response.status_code == 302
    assert not signed_in(client)


# --- rate limits -------------------------------------------------------------------------


def link_request(client, email: str, ip: str = "10.0.0.1"):
    return client.post("/login/link", data={"email": email}, environ_base={"REMOTE_ADDR": ip})


def assert_friendly_429(response) -> None:
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert "Too many attempts" in body and "Traceback" not in body
    assert int(response.headers["Retry-After"]) > 0


def test_the_fourth_sign_in_link_request_for_one_address_within_a_minute_is_refused(app, client, outbox,
                                                                                  rate_limits):
    user = make_user(app, password=None)

    answers = [link_request(client, user.email).status_code for _ in range(3)]
    fourth = link_request(client, user.email)

    assert answers == [200, 200, 200]
    assert_friendly_429(fourth)
    assert len(outbox.to(user.email)) == 3


@pytest.mark.parametrize("variant", [str.upper, lambda e: f"  {e} ", str.title])
def test_the_per_address_limit_ignores_case_and_spaces(app, client, outbox, rate_limits, variant):
    user = make_user(app, password=None)
    for _ in range(3):
        link_request(client, user.email)

    assert link_request(client, variant(user.email)).status_code == 429


def test_the_per_address_limit_follows_the_address_across_networks(app, client, rate_limits):
    user = make_user(app, password=None)
    for n in range(3):
        link_request(client, user.email, ip=f"10.0.0.{n + 1}")

    assert link_request(app.test_client(), user.email, ip="192.168.7.7").status_code == 429


def test_a_venue_sharing_one_ip_is_not_blocked_by_the_per_address_limit(app, client, outbox, rate_limits):
    people = [make_user(app, password=None) for _ in range(3)]
    for _ in range(3):
        link_request(client, people[0].email)

    answers = [link_request(app.test_client(), person.email).status_code for person in people[1:]]
    more = [link_request(app.test_client(), f"guest{n}@example.com").status_code for n in range(50)]

    assert answers == [200, 200]
    assert set(more) == {200}
    assert link_request(client, people[0].email).status_code == 429


def test_viewing_the_link_form_does_not_count_against_the_limit(app, client, rate_limits):
    user = make_user(app, password=None)
    for _ in range(5):
        client.get("/login/link")

    assert link_request(client, user.email).status_code == 200


@pytest.mark.parametrize("path", ["/signup", "/reset"])
def test_sign_up_and_reset_requests_are_limited_per_address(app, client, outbox, rate_limits, path):
    user = make_user(app, password=None)
    data = {"email": user.email, "name": "Someone"}

    answers = [client.post(path, data=data).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert_friendly_429(client.post(path, data=data))
    assert client.post(path, data={**data, "email": "other@example.com"}).status_code == 200


def test_password_guessing_for_one_address_is_stopped_even_with_the_right_password(app, client, rate_limits):
    victim, bystander = make_user(app), make_user(app)
    guesses = 0
    while client.post("/login", data={"email": victim.email, "password": f"guess {guesses}"}).status_code == 200:
        guesses += 1
        assert guesses < 50, "sign-in attempts for one address are not limited"

    blocked = client.post("/login", data={"email": victim.email, "password": PASSWORD})

    assert_friendly_429(blocked)
    assert not signed_in(client)
    assert client.post("/login", data={"email": bystander.email, "password": PASSWORD}).status_code == 302


# --- secrets never logged ----------------------------------------------------------------


def test_passwords_and_link_tokens_never_reach_the_logs(app, client, outbox, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="webapp")
    first, second = "first secret passphrase 7", "second secret passphrase 9"
    email = "logged@example.com"

    client.post("/signup", data={"name": "Logged", "email": email, "password": first})
    verify = outbox.path(outbox.last(email), "/verify/")
    client.get(verify)
    client.post(verify)
    client.post("/logout")
    client.post("/login", data={"email": email, "password": first + " wrong"})
    client.post("/login/link", data={"email": email})
    link = outbox.path(outbox.last(email), "/login/link/")
    client.get(link)
    client.post(link)
    client.post(link)  # already used: the error path
    client.post("/logout")
    client.post("/reset", data={"email": email})
    reset = outbox.path(outbox.last(email), "/reset/")
    client.get(reset)
    client.post(reset, data={"password": second, "confirm": second})
    client.post(reset, data={"password": second, "confirm": second})
    client.post("/logout")
    client.post("/login", data={"email": email, "password": second})
    assert signed_in(client)

    link_tokens = {
        match.rsplit("/", 1)[-1]
        for message in outbox.messages
        for match in re.findall(re.escape(BASE_URL) + r"/\S+", outbox.text(message))
    }
    assert len(link_tokens) >= 3
    secrets = {first, second} | link_tokens | {token.rsplit(".", 1)[-1] for token in link_tokens}
    logged = [caplog.text] + [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    for secret in secrets:
        assert not any(secret in line for line in logged), "a secret was logged"


# --- every emailed link does one thing, for one person, for a while ------------------------------------


@pytest.fixture
def links(app) -> dict:
    """One real link of every kind the app emails, all for Ana, taken from
    the services that send them; and the ids to check what they changed."""
    organizer = make_user(app, "olga@example.com", role="organizer", password=None)
    ana = make_user(app, "ana@example.com", name="Ana Attendee", password=None)
    event = make_event(app, organizer)
    attend(app, event, ana)
    contact = make_contact(app, ana, make_user(app, name="Nina Novak", password=None))
    with app.app_context():
        ana_now, event_now = db.session.get(User, ana.id), db.session.get(Event, event.id)
        joining.invite(event_now, db.session.get(User, organizer.id), "guest@example.com", "Gus Guest")
        imported = registrant_import.create_import(event_now, db.session.get(User, organizer.id), "p.csv",
                                                   b"name,email\nIvy Import,ivy@example.com\n")
        db.session.commit()
        registrant_import.start(imported)
        db.session.commit()
        registrant_import.run_import(imported.id)
        entry = db.session.get(Contact, contact.id)
        urls = {
            "signin": tokens.make(accounts.SIGNIN, uid=ana.id, sv=ana_now.session_version),
            "verify": tokens.make(accounts.VERIFY, uid=ana.id, sv=ana_now.session_version),
            "reset": tokens.make(accounts.RESET, uid=ana.id, sv=ana_now.session_version),
            "change-email": tokens.make(accounts.CHANGE_EMAIL, uid=ana.id, sv=ana_now.session_version,
                                        email="ana.moved@example.com"),
            "invite": emailed_path("guest@example.com", "/invite/"),
            "unsubscribe": unsubscribe.link(ana_now, "recaps"),
            "not-me": emailed_path("ivy@example.com", "/not-me/"),
            "touch": touch_links.link(entry, touch_links.DONE),
            "followup": followups.action_link(entry, "snooze"),
            "followup-days": followups.action_link(entry, "keep-in-touch", 30),
        }
        db.session.commit()
    token_of = {kind: url.removeprefix(BASE_URL).split("/")[2] for kind, url in urls.items() if "/" in url}
    token_of.update({kind: url for kind, url in urls.items() if "/" not in url})
    return {"token": token_of, "ana": ana.id, "contact": contact.id, "event": event.id}


def emailed_path(address: str, prefix: str) -> str:
    body = db.session.scalar(select(OutboxMessage.text_body).filter_by(recipient=address))
    return prefix + body.split(prefix, 1)[1].split()[0]


# Where each kind of link is used ({} is its token), and the salt it is signed with.
LINK_PAGES = {
    "signin": ("/login/link/{}", "signin"),
    "verify": ("/verify/{}", "verify"),
    "reset": ("/reset/{}", "reset"),
    "change-email": ("/account/email/{}", "change-email"),
    "invite": ("/invite/{}", "invite"),
    "unsubscribe": ("/unsubscribe/{}", "unsubscribe"),
    "not-me": ("/not-me/{}", "registrant-opt-out"),
    "touch": ("/touch/{}", "touch-action"),
    "followup": ("/f/{}/snooze", "followup-action"),
    "followup-days": ("/f/{}/keep-in-touch", "followup-action"),
}


def nothing_changed(app, links) -> bool:
    with app.app_context():
        ana = db.session.get(User, links["ana"])
        contact = db.session.get(Contact, links["contact"])
        attended = db.session.scalar(select(func.count()).select_from(Attendance).filter_by(event_id=links["event"]))
        return (ana.email == "ana@example.com" and ana.email_recaps and contact.state == "new"
                and contact.last_touched_at == contact.met_at and attended == 2)


@pytest.mark.parametrize("kind", [kind for kind in LINK_PAGES if kind != "followup-days"])
def test_a_link_works_on_its_own_page_and_is_refused_on_every_other(app, client, links, kind):
    token = links["token"][kind]
    wrong = []
    for page, (template, _) in LINK_PAGES.items():
        own = page == kind or {page, kind} == {"followup", "followup-days"}
        response = client.get(template.format(token))
        if response.status_code != (200 if own else 400):
            wrong.append(f"GET {page} page: {response.status_code}")
        if not own and client.post(template.format(token)).status_code != 400:
            wrong.append(f"POST {page} page")
    assert wrong == []
    assert not signed_in(client)
    assert nothing_changed(app, links)


# How long each kind of link works: what the product promises, written out.
LIFETIMES = {
    "signin": 15 * 60,
    "verify": 48 * 3600,
    "reset": 60 * 60,
    "change-email": 48 * 3600,
    "invite": 400 * 24 * 3600,
    "unsubscribe": 365 * 24 * 3600,
    "not-me": 400 * 24 * 3600,
    "touch": 14 * 24 * 3600,
    "followup-days": 14 * 24 * 3600,
}


@pytest.mark.parametrize("kind", LIFETIMES)
def test_a_link_expires_when_it_should(app, client, links, kind):
    template, salt = LINK_PAGES[kind]

    def aged(seconds: int) -> str:
        """The same link as if it had been emailed ``seconds`` ago."""
        return template.format(backdated(app, "/x/" + links["token"][kind], salt, seconds).rsplit("/", 1)[1])

    still_good, expired = client.get(aged(LIFETIMES[kind] - 120)), client.get(aged(LIFETIMES[kind] + 120))

    assert still_good.status_code == 200
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True).lower()


def test_an_unsubscribe_link_pressed_while_signed_in_as_someone_else_changes_only_its_owner(app, client, auth,
                                                                                          links):
    bob = make_user(app, password=None)
    auth.as_user(bob)

    assert client.post(f"/unsubscribe/{links['token']['unsubscribe']}").status_code == 200

    with app.app_context():
        assert db.session.get(User, links["ana"]).email_recaps is False
        assert db.session.get(User, bob.id).email_recaps is True


def test_a_follow_up_link_acts_on_its_owners_contact_whoever_is_signed_in(app, client, auth, links):
    bob = make_user(app, password=None)
    bobs = make_contact(app, bob, make_user(app, name="Nina Novak", password=None))
    auth.as_user(bob)

    assert client.post(f"/f/{links['token']['followup']}/snooze").status_code == 200

    with app.app_context():
        assert db.session.get(Contact, links["contact"]).state == "snoozed"
        assert db.session.get(Contact, bobs.id).state == "new"


def test_a_change_email_link_opened_by_someone_else_moves_only_its_owner(app, client, auth, links):
    bob = make_user(app, password=None)
    auth.as_user(bob)

    response = client.post(f"/account/email/{links['token']['change-email']}")

    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(User, links["ana"]).email == "ana.moved@example.com"
        assert db.session.get(User, bob.id).email == bob.email


def test_an_invitation_accepted_in_someone_elses_browser_joins_the_invitee_not_them(app, client, auth, links):
    bob = make_user(app, password=None)
    auth.as_user(bob)

    assert client.post(f"/invite/{links['token']['invite']}").status_code == 302

    with app.app_context():
        attendees = set(db.session.scalars(select(User.email).join(Attendance, Attendance.user_id == User.id)
                                           .where(Attendance.event_id == links["event"])))
    assert attendees == {"ana@example.com", "ivy@example.com", "guest@example.com"}
    with client.session_transaction() as session:
        assert session["_user_id"].split(":")[0] != str(bob.id)


# --- no open redirects -------------------------------------------------------------------------------

EVIL_TARGETS = ["https://evil.example/", "//evil.example", "///evil.example", "/\\evil.example",
                "\\\\evil.example", "javascript:alert(1)", "/\t/evil.example", "http:evil.example",
                " //evil.example", "%2F%2Fevil.example"]


def assert_stays_home(response, expected_path: str) -> None:
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == expected_path, location


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_sign_in_never_sends_anyone_off_site(app, client, target):
    user = make_user(app)

    assert_stays_home(client.post("/login", data={"email": user.email, "password": PASSWORD, "next": target}), "/")
    assert_stays_home(client.get("/login", query_string={"next": target}), "/")  # already signed in


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_contact_actions_never_send_anyone_off_site(app, client, auth, target):
    owner = make_user(app, password=None)
    contact = make_contact(app, owner, make_user(app, password=None))
    auth.as_user(owner)

    assert_stays_home(client.post("/contacts/bulk", data={"action": "tag", "tag": "x", "contact": str(contact.id),
                                                          "back": target}), "/contacts")
    assert_stays_home(client.post(f"/contacts/{contact.id}/snooze", data={"next": target}),
                      f"/contacts/{contact.id}")
    assert_stays_home(client.post(f"/contacts/{contact.id}/touch", data={"kind": "call", "next": target}),
                      f"/contacts/{contact.id}")


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_the_admin_users_list_never_sends_anyone_off_site(app, client, auth, target):
    auth.as_user(make_user(app, role="admin", password=None))
    someone = make_user(app, password=None)

    assert_stays_home(client.post(f"/admin/users/{someone.id}/role", data={"role": "organizer", "next": target}),
                      "/admin/users")
