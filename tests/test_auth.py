"""Password sign-in, sign-out, sign out everywhere, remember-me and roles."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from tests.factories import PASSWORD, make_user, reload
from webapp.extensions import db
from webapp.models import OutboxMessage, Role, User
from webapp.services import ValidationFailed, accounts


class Page(HTMLParser):
    """The parts of a page these tests read: labels, inputs, meta tags, alerts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.labels: dict[str, str] = {}
        self.inputs: list[dict[str, str]] = []
        self.meta: dict[str, str] = {}
        self.alerts: list[str] = []
        self._label_for: str | None = None
        self._in_alert = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "label":
            self._label_for = attrs.get("for")
            self.labels.setdefault(self._label_for or "", "")
        elif tag == "input":
            self.inputs.append(attrs)
        elif tag == "meta" and "name" in attrs:
            self.meta[attrs["name"]] = attrs.get("content", "")
        elif attrs.get("role") == "alert":
            self._in_alert = True
            self.alerts.append("")

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_for = None
        elif tag == "p":
            self._in_alert = False

    def handle_data(self, data):
        if self._label_for is not None:
            self.labels[self._label_for] += data
        if self._in_alert:
            self.alerts[-1] += data

    def input_labelled(self, text: str) -> dict[str, str]:
        ids = [id_ for id_, label in self.labels.items() if label.strip() == text]
        assert len(ids) == 1, f"expected one label {text!r}, got {self.labels}"
        matches = [i for i in self.inputs if i.get("id") == ids[0]]
        assert len(matches) == 1, f"label {text!r} points at no input"
        return matches[0]


def signed_in(client) -> bool:
    response = client.get("/account")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def password_works(app, email: str, password: str) -> bool:
    with app.app_context():
        try:
            accounts.authenticate(email, password)
        except accounts.InvalidCredentials:
            return False
        return True


def update_user(app, user_id: int, **values) -> None:
    with app.app_context():
        user = db.session.get(User, user_id)
        for name, value in values.items():
            setattr(user, name, value)
        db.session.commit()


# --- the sign-in page -------------------------------------------------------------


def test_login_page_has_inputs_labelled_email_and_password(client):
    page = Page(client.get("/login").get_data(as_text=True))

    assert page.input_labelled("Email")["type"] == "email"
    assert page.input_labelled("Email")["name"] == "email"
    assert page.input_labelled("Password")["type"] == "password"
    assert page.input_labelled("Password")["name"] == "password"


def test_login_page_carries_a_working_csrf_token_in_the_form_and_in_a_meta_tag(app, client, csrf):
    user = make_user(app)
    page = Page(client.get("/login").get_data(as_text=True))
    form_tokens = [i["value"] for i in page.inputs if i.get("name") == "csrf_token"]

    assert len(form_tokens) == 1 and form_tokens[0]
    assert page.meta.get("csrf-token")
    without_token = client.post("/login", data={"email": user.email, "password": PASSWORD})
    with_meta_token = client.post("/login", data={"email": user.email, "password": "wrong password",
                                                  "csrf_token": page.meta["csrf-token"]})
    with_form_token = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                                  "csrf_token": form_tokens[0]})

    assert without_token.status_code == 403
    assert with_meta_token.status_code == 200  # past CSRF, stopped by the password
    assert with_form_token.status_code == 302
    assert signed_in(client)


# --- signing in ---------------------------------------------------------------------


def test_correct_password_signs_in_and_goes_home(app, client, auth):
    user = make_user(app)

    response = auth.login(user.email, PASSWORD)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert signed_in(client)
    assert reload(app, User, user.id).last_login_at is not None


def test_email_address_is_matched_whatever_its_case(app, client, auth):
    user = make_user(app, "Mixed.Case@Example.com")

    auth.login("MIXED.case@example.COM", PASSWORD)

    assert user.email == "mixed.case@example.com"
    assert signed_in(client)


@pytest.mark.parametrize(
    ("account", "password"),
    [
        pytest.param({}, PASSWORD + "x", id="wrong password"),
        pytest.param(None, PASSWORD, id="unknown address"),
        pytest.param({"password": None}, PASSWORD, id="account without password"),
        pytest.param({"verified": False}, PASSWORD + "x", id="wrong password of unverified account"),
        pytest.param({"is_disabled": True}, PASSWORD + "x", id="wrong password of disabled account"),
    ],
)
def test_failed_sign_in_shows_one_generic_message_whatever_the_reason(app, client, auth, account, password):
    if account is not None:
        make_user(app, "someone@example.com", **account)
    baseline = Page(auth.login("nobody@example.com", "not the password").get_data(as_text=True)).alerts

    response = auth.login("someone@example.com", password)

    assert response.status_code == 200
    assert len(baseline) == 1 and baseline[0].strip()
    assert Page(response.get_data(as_text=True)).alerts == baseline
    assert not signed_in(client)


def test_failed_sign_in_does_not_echo_the_password(app, auth):
    make_user(app, "known@example.com")
    typed = "a-very-distinctive-guess"

    body = auth.login("known@example.com", typed).get_data(as_text=True)

    assert typed not in body


def test_unverified_account_with_right_password_is_told_to_confirm_and_sent_a_link(app, client, auth, outbox):
    user = make_user(app, verified=False)

    response = auth.login(user.email, PASSWORD)

    assert response.status_code == 200
    assert not signed_in(client)
    assert "confirm your email" in " ".join(Page(response.get_data(as_text=True)).alerts)
    assert "/verify/" in outbox.link(outbox.last(user.email))
    assert reload(app, User, user.id).email_verified is False


def test_unverified_account_can_sign_in_with_password_once_the_emailed_link_is_used(app, client, auth, outbox):
    user = make_user(app, verified=False)
    auth.login(user.email, PASSWORD)
    link = outbox.path(outbox.last(user.email), "/verify/")
    client.post(link)
    auth.logout()

    auth.login(user.email, PASSWORD)

    assert signed_in(client)
    assert reload(app, User, user.id).email_verified is True


def test_disabled_account_cannot_sign_in_even_with_the_right_password(app, client, auth, outbox):
    user = make_user(app, is_disabled=True)

    response = auth.login(user.email, PASSWORD)

    assert response.status_code == 200
    assert "disabled" in " ".join(Page(response.get_data(as_text=True)).alerts)
    assert not signed_in(client)
    assert len(outbox) == 0


def test_disabling_an_account_ends_its_open_sessions(app, client, auth):
    user = make_user(app, password=None)
    auth.as_user(user)
    assert signed_in(client)

    update_user(app, user.id, is_disabled=True)

    assert not signed_in(client)


def test_signed_in_user_opening_login_is_sent_on(app, client, auth):
    user = make_user(app, password=None)
    auth.as_user(user)

    response = client.get("/login?next=/profile")

    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"


@pytest.mark.parametrize(
    ("next_value", "expected"),
    [
        ("/profile?tab=sharing", "/profile?tab=sharing"),
        ("//evil.com", "/"),
        ("https://evil.com", "/"),
        ("/\t/evil.com", "/"),
        ("/\n/evil.com", "/"),
    ],
)
def test_sign_in_returns_to_a_same_site_next_path_only(app, client, auth, next_value, expected):
    user = make_user(app)

    response = client.post("/login", query_string={"next": next_value},
                           data={"email": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_a_page_that_needs_sign_in_is_reached_after_signing_in(app, client, auth):
    user = make_user(app)

    bounced = client.get("/account")
    login_page = bounced.headers["Location"]
    response = client.post(login_page, data={"email": user.email, "password": PASSWORD})

    assert login_page.startswith("/login?")
    assert response.headers["Location"] == "/account"


# --- signing out --------------------------------------------------------------------


def test_signing_out_ends_the_session(app, client, auth):
    user = make_user(app, password=None)
    auth.as_user(user)

    response = auth.logout()

    assert response.status_code == 302
    assert not signed_in(client)


def test_sign_out_is_post_only(app, client, auth):
    user = make_user(app, password=None)
    auth.as_user(user)

    assert client.get("/logout").status_code == 405
    assert signed_in(client)


def test_sign_out_everywhere_ends_every_session_and_remember_cookie(app, client, auth):
    user = make_user(app)
    phone, laptop = app.test_client(), app.test_client()
    phone.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    laptop.post("/login", data={"email": user.email, "password": PASSWORD})
    remembered = phone.get_cookie("remember_token").value
    auth.login(user.email, PASSWORD)

    response = client.post("/logout/everywhere")

    assert response.status_code == 302
    assert not signed_in(client)
    assert not signed_in(laptop)
    assert not signed_in(phone)
    fresh_browser = app.test_client()
    fresh_browser.set_cookie("remember_token", remembered)
    assert not signed_in(fresh_browser)


def test_sign_out_everywhere_needs_a_signed_in_user(client):
    response = client.post("/logout/everywhere")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_new_password_sign_in_works_after_sign_out_everywhere(app, client, auth):
    user = make_user(app)
    auth.login(user.email, PASSWORD)
    client.post("/logout/everywhere")

    auth.login(user.email, PASSWORD)

    assert signed_in(client)


def test_changing_password_keeps_this_device_and_signs_out_the_others(app, client, auth):
    user = make_user(app)
    other = app.test_client()
    other.post("/login", data={"email": user.email, "password": PASSWORD})
    auth.login(user.email, PASSWORD)
    new = "a completely new passphrase"

    response = client.post("/account/password", data={"current_password": PASSWORD, "password": new, "confirm": new})

    assert response.status_code == 302
    assert signed_in(client)
    assert not signed_in(other)
    assert password_works(app, user.email, new)
    assert not password_works(app, user.email, PASSWORD)


def test_changing_password_needs_the_current_one(app, client, auth):
    user = make_user(app)
    auth.as_user(user)
    new = "a completely new passphrase"

    response = client.post("/account/password", data={"current_password": "wrong", "password": new, "confirm": new})

    assert response.status_code == 422
    assert password_works(app, user.email, PASSWORD)
    assert signed_in(client)


# --- remember me --------------------------------------------------------------------


def test_remember_me_sets_a_cookie_that_signs_in_a_new_browser_session(app, client, auth):
    user = make_user(app)

    auth.login(user.email, PASSWORD, remember="y")
    cookie = client.get_cookie("remember_token")

    assert cookie is not None and cookie.http_only
    browser_restarted = app.test_client()  # session cookie gone, remember cookie kept
    browser_restarted.set_cookie("remember_token", cookie.value)
    assert signed_in(browser_restarted)


def test_without_remember_me_there_is_no_remember_cookie(app, client, auth):
    user = make_user(app)

    auth.login(user.email, PASSWORD)

    assert client.get_cookie("remember_token") is None


def test_signing_out_forgets_the_remember_cookie(app, client, auth):
    user = make_user(app)
    auth.login(user.email, PASSWORD, remember="y")

    auth.logout()

    assert client.get_cookie("remember_token") is None
    assert not signed_in(client)


def test_forged_remember_cookie_is_ignored(app):
    user = make_user(app)
    browser = app.test_client()
    browser.set_cookie("remember_token", f"{user.id}:{user.session_version}|" + "0" * 128)

    assert not signed_in(browser)


# --- authenticate(): the rules ------------------------------------------------------


def test_authenticate_returns_the_account_for_the_right_password(ctx):
    user = make_user(ctx)

    assert accounts.authenticate(user.email, PASSWORD).id == user.id


@pytest.mark.parametrize("password", ["", PASSWORD.upper(), PASSWORD + " "])
def test_authenticate_rejects_near_misses_with_invalid_credentials(ctx, password):
    user = make_user(ctx)

    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate(user.email, password)


def test_authenticate_an_unverified_account_queues_a_verification_link(ctx):
    user = make_user(ctx, verified=False)

    with pytest.raises(accounts.EmailNotVerified):
        accounts.authenticate(user.email, PASSWORD)

    queued = db.session.scalars(select(OutboxMessage)).all()
    assert [m.recipient for m in queued] == [user.email]
    assert "/verify/" in queued[0].text_body


def test_authenticate_tells_only_the_password_holder_that_an_account_is_disabled(ctx):
    user = make_user(ctx, is_disabled=True)

    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate(user.email, "some other password")
    with pytest.raises(accounts.AccountDisabled):
        accounts.authenticate(user.email, PASSWORD)


def test_passwords_shorter_than_the_minimum_are_refused(ctx):
    with pytest.raises(ValidationFailed):
        accounts.create_user("short@example.com", "Short", password="x" * (accounts.MIN_PASSWORD_LENGTH - 1))

    assert accounts.find_by_email("short@example.com") is None


def test_passwords_are_stored_hashed(ctx):
    user = make_user(ctx)

    stored = db.session.get(User, user.id).password_hash

    assert stored and PASSWORD not in stored
    assert stored.startswith("scrypt:")


# --- roles --------------------------------------------------------------------------


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_known_role_can_be_given(ctx, role):
    user = accounts.create_user(f"{role}@example.com", "R", role=role)

    assert user.role == role


@pytest.mark.parametrize("role", ["superuser", "", "Admin"])
def test_unknown_roles_are_refused(ctx, role):
    user = accounts.create_user("someone@example.com", "Someone")

    with pytest.raises(ValidationFailed):
        accounts.set_role(user, role)
    with pytest.raises(ValidationFailed):
        accounts.create_user("other@example.com", "Other", role=role)

    assert user.role == Role.ATTENDEE.value


def test_new_accounts_are_attendees(ctx):
    assert accounts.create_user("new@example.com", "New").role == Role.ATTENDEE.value


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 302), (Role.ATTENDEE.value, 403), (Role.ORGANIZER.value, 403), (Role.ADMIN.value, 200)],
)
def test_only_admins_reach_the_admin_pages(app, client, auth, role, status):
    if role is not None:
        auth.as_user(make_user(app, role=role, password=None))

    assert client.get("/admin").status_code == status


@pytest.mark.parametrize(
    ("role", "is_organizer", "is_admin"),
    [(Role.ATTENDEE.value, False, False), (Role.ORGANIZER.value, True, False), (Role.ADMIN.value, True, True)],
)
def test_role_helpers_follow_the_role(ctx, role, is_organizer, is_admin):
    user = accounts.create_user("r@example.com", "R", role=role)

    assert (user.is_organizer, user.is_admin) == (is_organizer, is_admin)


def test_a_password_chosen_by_someone_who_never_proved_the_address_dies_with_the_owners_sign_in_link(
    app, client, auth, outbox
):
    # A stranger signs up with someone else's address and a password of their choosing ...
    client.post("/signup", data={"name": "Mallory", "email": "victim@example.com", "password": "mallory-knows-this"})
    # ... then the real owner asks for a sign-in link and uses it.
    client.post("/login/link", data={"email": "victim@example.com"})
    client.post(outbox.path(outbox.last("victim@example.com"), "/login/link/"))
    auth.logout()

    auth.login("victim@example.com", "mallory-knows-this")

    assert not signed_in(client)
    with app.app_context():
        owner = accounts.find_by_email("victim@example.com")
        assert owner.email_verified is True
        assert owner.password_hash is None
