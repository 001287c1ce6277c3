"""Account security: CSRF on every form, rate limits, and no secrets in the logs."""

from __future__ import annotations

import logging
import re

import pytest
from flask import url_for

from tests.conftest import BASE_URL, csrf_token_of
from tests.factories import PASSWORD, make_user
from webapp.services import accounts, tokens


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
