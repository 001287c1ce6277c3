"""Sign-up with email verification, which never reveals whether an address is registered."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import without_csrf
from tests.factories import PASSWORD, make_user, reload
from webapp.extensions import db
from webapp.models import OutboxMessage, User
from webapp.services import ValidationFailed, accounts

NEW_PASSWORD = "a brand new passphrase"


def sign_up(client, email: str, name: str = "Ada Lovelace", password: str = ""):
    return client.post("/signup", data={"name": name, "email": email, "password": password})


def visible(response, address: str) -> str:
    """The page as a person sees it, with the typed address and the per-session CSRF token blanked."""
    return without_csrf(response.get_data(as_text=True).replace(address, "ADDRESS"))


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


# --- what the person signing up sees -----------------------------------------------------


@pytest.mark.parametrize(
    "existing",
    [
        pytest.param({}, id="verified account"),
        pytest.param({"verified": False}, id="unverified account"),
        pytest.param({"password": None}, id="account without password"),
        pytest.param({"is_disabled": True}, id="disabled account"),
    ],
)
def test_signup_answers_the_same_for_a_registered_address_as_for_a_new_one(app, existing):
    make_user(app, "taken@example.com", **existing)

    new = sign_up(app.test_client(), "fresh@example.com", password=NEW_PASSWORD)
    taken = sign_up(app.test_client(), "taken@example.com", password=NEW_PASSWORD)

    assert new.status_code == taken.status_code == 200
    assert visible(new, "fresh@example.com") == visible(taken, "taken@example.com")
    assert sorted(new.headers.keys()) == sorted(taken.headers.keys())


def test_signup_with_a_registered_address_emails_its_owner_a_sign_in_link(app, client, outbox):
    owner = make_user(app, "taken@example.com", password=None)

    sign_up(client, "taken@example.com")

    message = outbox.last("taken@example.com")
    assert "already have" in message["Subject"]
    assert "/login/link/" in outbox.link(message)
    assert not [m for m in outbox.messages if "/verify/" in outbox.text(m)]
    assert not signed_in(client)
    assert user_count(app) == 1
    assert reload(app, User, owner.id).name == owner.name


def test_signup_with_a_registered_address_leaves_its_password_alone(app, client):
    owner = make_user(app, "taken@example.com")

    sign_up(client, "taken@example.com", password=NEW_PASSWORD)

    assert client.post("/login", data={"email": owner.email, "password": NEW_PASSWORD}).status_code == 200
    assert not signed_in(client)
    client.post("/login", data={"email": owner.email, "password": PASSWORD})
    assert signed_in(client)


def test_signup_with_a_disabled_accounts_address_sends_nothing(app, client, outbox):
    make_user(app, "disabled@example.com", is_disabled=True, password=None)

    sign_up(client, "disabled@example.com")

    assert len(outbox) == 0


def test_signup_with_a_new_address_creates_an_unverified_account_and_emails_a_verification_link(app, client, outbox):
    response = sign_up(client, "Fresh@Example.com", password=NEW_PASSWORD)

    assert response.status_code == 200
    message = outbox.last("fresh@example.com")
    assert "/verify/" in outbox.link(message)
    assert len(outbox) == 1
    with app.app_context():
        user = accounts.find_by_email("fresh@example.com")
        assert user.name == "Ada Lovelace"
        assert user.email_verified is False
        assert user.role == "attendee"
        assert user.password_hash and NEW_PASSWORD not in user.password_hash
    assert not signed_in(client)


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-address"), ("email", ""), ("name", ""), ("password", "short")],
)
def test_signup_with_a_malformed_field_shows_the_form_again_and_creates_nothing(app, client, outbox, field, value):
    data = {"name": "Ada", "email": "fresh@example.com", "password": NEW_PASSWORD, field: value}

    response = client.post("/signup", data=data)

    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert user_count(app) == 0
    assert len(outbox) == 0


def test_signup_without_a_password_makes_a_link_only_account(app, client, outbox):
    sign_up(client, "linkonly@example.com", password="")

    with app.app_context():
        assert accounts.find_by_email("linkonly@example.com").password_hash is None
    assert "/verify/" in outbox.link(outbox.last("linkonly@example.com"))


# --- the verification link ----------------------------------------------------------------


def test_opening_the_verification_link_shows_a_confirm_button_and_changes_nothing(app, client, outbox):
    sign_up(client, "fresh@example.com")
    link = outbox.path(outbox.last("fresh@example.com"), "/verify/")

    page = client.get(link)

    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'method="post"' in body and "<button" in body
    assert "fresh@example.com" in body
    assert not signed_in(client)
    with app.app_context():
        assert accounts.find_by_email("fresh@example.com").email_verified is False
    assert client.post(link).status_code == 302  # the GET didn't use it up


def test_confirming_the_verification_link_verifies_the_address_and_signs_in(app, outbox):
    sign_up(app.test_client(), "fresh@example.com")
    link = outbox.path(outbox.last("fresh@example.com"), "/verify/")
    phone = app.test_client()  # mail apps open links in another browser

    response = phone.post(link)

    assert response.status_code == 302
    assert signed_in(phone)
    with app.app_context():
        assert accounts.find_by_email("fresh@example.com").email_verified is True


def test_verification_link_works_once(app, client, outbox):
    sign_up(client, "fresh@example.com")
    link = outbox.path(outbox.last("fresh@example.com"), "/verify/")
    client.post(link)
    later = app.test_client()

    response = later.post(link)

    assert response.status_code == 400
    assert "already been used" in response.get_data(as_text=True)
    assert not signed_in(later)


def test_after_verification_the_chosen_password_signs_in(app, client, outbox):
    sign_up(client, "fresh@example.com", password=NEW_PASSWORD)
    client.post(outbox.path(outbox.last("fresh@example.com"), "/verify/"))
    client.post("/logout")

    client.post("/login", data={"email": "fresh@example.com", "password": NEW_PASSWORD})

    assert signed_in(client)


def test_verification_link_is_not_a_sign_in_link(app, client, outbox):
    sign_up(client, "fresh@example.com")
    token = outbox.path(outbox.last("fresh@example.com"), "/verify/").rsplit("/", 1)[-1]

    assert client.post(f"/login/link/{token}").status_code == 400
    assert not signed_in(client)


# --- register(): the rules ----------------------------------------------------------------


def queued(kind: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    return list(db.session.scalars(query.where(OutboxMessage.kind == kind) if kind else query))


def test_register_a_new_address_creates_an_unverified_user_and_queues_a_verification(ctx):
    accounts.register("  New@Example.com ", "  New Person ", NEW_PASSWORD)

    user = accounts.find_by_email("new@example.com")
    assert (user.email, user.name, user.email_verified) == ("new@example.com", "New Person", False)
    assert [m.recipient for m in queued()] == ["new@example.com"]
    assert queued()[0].kind == "verify_email"


def test_register_a_known_address_creates_nothing_and_queues_a_sign_in_link(ctx):
    owner = make_user(ctx, "known@example.com")

    assert accounts.register("KNOWN@example.com", "Impostor", "another password!") is None

    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    assert db.session.get(User, owner.id).name == owner.name
    assert [(m.kind, m.recipient) for m in queued()] == [("signin_link", "known@example.com")]


def test_register_twice_sends_a_second_email_rather_than_failing(ctx):
    accounts.register("new@example.com", "New", None)
    accounts.register("new@example.com", "New", None)

    assert [m.kind for m in queued()] == ["verify_email", "signin_link"]


def test_register_refuses_a_short_password_before_creating_anything(ctx):
    with pytest.raises(ValidationFailed):
        accounts.register("new@example.com", "New", "short")

    assert accounts.find_by_email("new@example.com") is None
    assert queued() == []
