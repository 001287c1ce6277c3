"""Emailed links: sign-in links, password reset and email change.

Links are signed, expire, work once, and are opened through a confirm button
because mail scanners prefetch them. Time passes by re-signing a link's own
payload at an earlier timestamp, never by sleeping.
"""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from tests.conftest import without_csrf
from tests.factories import PASSWORD, make_user, reload
from webapp.extensions import db
from webapp.models import OutboxMessage, UsedToken, User
from webapp.services import ValidationFailed, accounts, tokens

NEW_PASSWORD = "an entirely new passphrase"


# --- helpers ---------------------------------------------------------------------------


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def request_link(client, outbox, email: str, **extra) -> str:
    """Ask for a sign-in link through the form; the path of the emailed link."""
    response = client.post("/login/link", data={"email": email, **extra})
    assert response.status_code == 200
    return outbox.path(outbox.last(email), "/login/link/")


def request_reset(client, outbox, email: str) -> str:
    assert client.post("/reset", data={"email": email}).status_code == 200
    return outbox.path(outbox.last(email), "/reset/")


def backdated(app, link_path: str, purpose: str, seconds: int) -> str:
    """The same link (same payload, same key) as if it had been sent ``seconds`` ago."""
    prefix, token = link_path.rsplit("/", 1)

    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds

    key, salt = app.config["SECRET_KEY"], f"meetloop.link.{purpose}"
    payload = URLSafeTimedSerializer(key, salt=salt).loads(token)
    return f"{prefix}/{URLSafeTimedSerializer(key, salt=salt, signer=Earlier).dumps(payload)}"


def as_seen(response, *addresses: str) -> str:
    """A page with the given addresses and the per-session CSRF tokens blanked out."""
    body = response.get_data(as_text=True)
    for address in addresses:
        body = body.replace(address, "ADDRESS")
    return without_csrf(body)


def offers_a_new_link(response) -> bool:
    body = response.get_data(as_text=True)
    return bool(re.search(r'<form method="post" action="/login/link"', body)) and 'name="email"' in body


def used_token_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(UsedToken))


def sign_in_as(client, user) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


def set_user(app, user_id: int, **values) -> None:
    with app.app_context():
        user = db.session.get(User, user_id)
        for name, value in values.items():
            setattr(user, name, value)
        db.session.commit()


# --- sign-in link ------------------------------------------------------------------------


def test_requesting_a_sign_in_link_emails_one(app, client, outbox):
    user = make_user(app, password=None)

    client.post("/login/link", data={"email": user.email.upper()})
    link = outbox.path(outbox.last(user.email), "/login/link/")

    assert link.startswith("/login/link/")
    assert "15 minutes" in outbox.text(outbox.last(user.email))
    assert not signed_in(client)


def test_a_sign_in_link_for_an_unknown_or_disabled_address_is_not_sent_and_nobody_can_tell(app, outbox):
    make_user(app, "disabled@example.com", is_disabled=True, password=None)
    known = make_user(app, "known@example.com", password=None)

    answers = {
        email: app.test_client().post("/login/link", data={"email": email})
        for email in ("nobody@example.com", "disabled@example.com", known.email)
    }

    assert [m["To"] for m in outbox.messages] == [known.email]
    bodies = {as_seen(response, email) for email, response in answers.items()}
    assert len(bodies) == 1
    assert {r.status_code for r in answers.values()} == {200}


def test_opening_a_sign_in_link_shows_a_confirm_button_and_changes_nothing(app, client, outbox):
    user = make_user(app, password=None)
    link = request_link(app.test_client(), outbox, user.email)

    page = client.get(link)

    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert re.search(r'<form method="post">', body) and "<button" in body
    assert user.name in body
    assert not signed_in(client)
    assert used_token_count(app) == 0
    assert reload(app, User, user.id).last_login_at is None
    assert client.post(link).status_code == 302  # still usable


def test_a_mail_scanner_fetching_the_link_twice_does_not_use_it_up(app, client, outbox):
    user = make_user(app, password=None)
    link = request_link(app.test_client(), outbox, user.email)
    scanner = app.test_client()
    scanner.get(link)
    scanner.head(link)

    client.post(link)

    assert signed_in(client)
    assert not signed_in(scanner)


def test_confirming_a_sign_in_link_signs_in_and_verifies_the_address(app, outbox):
    user = make_user(app, verified=False, password=None)
    link = request_link(app.test_client(), outbox, user.email)
    phone = app.test_client()

    response = phone.post(link)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert signed_in(phone)
    stored = reload(app, User, user.id)
    assert stored.email_verified is True
    assert stored.last_login_at is not None


def test_a_used_sign_in_link_gives_a_clear_page_offering_a_new_one(app, client, outbox):
    user = make_user(app, password=None)
    link = request_link(client, outbox, user.email)
    app.test_client().post(link)

    response = client.post(link)

    assert response.status_code == 400
    assert "already been used" in response.get_data(as_text=True)
    assert offers_a_new_link(response)
    assert not signed_in(client)
    assert client.get(link).status_code == 400


def test_the_new_link_form_on_the_error_page_sends_a_new_link(app, client, outbox):
    user = make_user(app, password=None)
    link = request_link(client, outbox, user.email)
    client.post(link)
    client.post("/logout")
    assert client.post(link).status_code == 400

    fresh = request_link(client, outbox, user.email)

    assert fresh != link
    assert client.post(fresh).status_code == 302
    assert signed_in(client)


@pytest.mark.parametrize(("minutes_ago", "works"), [(14, True), (16, False)])
def test_a_sign_in_link_works_for_fifteen_minutes(app, client, outbox, minutes_ago, works):
    user = make_user(app, password=None)
    link = backdated(app, request_link(client, outbox, user.email), "signin", minutes_ago * 60)

    page, confirm = client.get(link), client.post(link)

    if works:
        assert (page.status_code, confirm.status_code) == (200, 302)
        assert signed_in(client)
    else:
        assert (page.status_code, confirm.status_code) == (400, 400)
        assert "expired" in confirm.get_data(as_text=True)
        assert offers_a_new_link(confirm)
        assert not signed_in(client)


def test_a_shorter_configured_lifetime_applies_to_links_already_sent(app, client, outbox):
    user = make_user(app, password=None)
    link = backdated(app, request_link(client, outbox, user.email), "signin", 120)

    app.config["SIGNIN_LINK_MAX_AGE"] = 60

    assert client.post(link).status_code == 400
    assert not signed_in(client)


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1:]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda token: _flip(token, len(token) - 3), id="signature changed"),
        pytest.param(lambda token: _flip(token, 3), id="payload changed"),
        pytest.param(lambda token: token.rsplit(".", 1)[0], id="signature removed"),
        pytest.param(lambda token: token + "x", id="extra characters"),
        pytest.param(lambda token: "not-a-token", id="garbage"),
    ],
)
def test_a_tampered_sign_in_link_is_refused(app, client, outbox, tamper):
    user = make_user(app, password=None)
    prefix, token = request_link(client, outbox, user.email).rsplit("/", 1)
    bad = f"{prefix}/{tamper(token)}"

    for response in (client.get(bad), client.post(bad)):
        assert response.status_code == 400
        assert "not valid" in response.get_data(as_text=True)
        assert offers_a_new_link(response)
    assert not signed_in(client)


def test_a_link_signed_with_another_key_is_refused(app, client):
    user = make_user(app, password=None)
    forged = URLSafeTimedSerializer("guessed-key", salt="meetloop.link.signin").dumps(
        {"uid": user.id, "sv": user.session_version, "n": "forged-nonce"}
    )

    assert client.post(f"/login/link/{forged}").status_code == 400
    assert not signed_in(client)


def test_a_reset_link_cannot_be_used_as_a_sign_in_link(app, client, outbox):
    user = make_user(app, password=None)
    token = request_reset(client, outbox, user.email).rsplit("/", 1)[-1]

    assert client.post(f"/login/link/{token}").status_code == 400
    assert not signed_in(client)


def test_sign_out_everywhere_invalidates_outstanding_sign_in_links(app, client, outbox):
    user = make_user(app, password=None)
    link = request_link(app.test_client(), outbox, user.email)
    sign_in_as(client, user)
    client.post("/logout/everywhere")

    response = client.post(link)

    assert response.status_code == 400
    assert offers_a_new_link(response)
    assert not signed_in(client)


def test_a_link_for_an_account_disabled_since_is_refused(app, client, outbox):
    user = make_user(app, password=None)
    link = request_link(client, outbox, user.email)
    set_user(app, user.id, is_disabled=True)

    assert client.get(link).status_code == 400
    assert client.post(link).status_code == 400
    assert not signed_in(client)


def test_the_request_form_carries_next_through(client):
    body = client.get("/login/link", query_string={"next": "/profile"}).get_data(as_text=True)

    assert '<input type="hidden" name="next" value="/profile">' in body


def test_next_path_travels_inside_the_link_to_another_browser(app, outbox):
    user = make_user(app, password=None)
    link = request_link(app.test_client(), outbox, user.email, next="/profile?tab=sharing")
    other_browser = app.test_client()

    response = other_browser.post(link)

    assert response.status_code == 302
    assert response.headers["Location"] == "/profile?tab=sharing"


@pytest.mark.parametrize(
    "next_value",
    ["//evil.com", "https://evil.com", "http:/evil.com", "/\\evil.com", "\\\\evil.com", "/\t/evil.com",
     "javascript:alert(1)", "evil.com"],
)
def test_open_redirects_through_the_link_are_ignored(app, client, outbox, next_value):
    user = make_user(app, password=None)
    link = request_link(client, outbox, user.email, next=next_value)

    response = client.post(link)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert signed_in(client)


# --- tokens and link services: the rules ----------------------------------------------------


def test_reading_a_link_does_not_spend_it_and_spending_it_twice_fails(ctx):
    token = tokens.make("signin", uid=1)

    assert tokens.read("signin", token, 60)["uid"] == 1
    assert tokens.read("signin", token, 60)["uid"] == 1
    tokens.spend("signin", token, 60)
    with pytest.raises(tokens.LinkUsed):
        tokens.read("signin", token, 60)
    with pytest.raises(tokens.LinkUsed):
        tokens.spend("signin", token, 60)


def test_every_link_is_distinct_even_for_the_same_payload(ctx):
    first, second = tokens.make("signin", uid=1), tokens.make("signin", uid=1)

    tokens.spend("signin", first, 60)

    assert first != second
    assert tokens.spend("signin", second, 60)["uid"] == 1


def test_a_link_is_only_good_for_its_own_purpose(ctx):
    token = tokens.make("reset", uid=1)

    with pytest.raises(tokens.LinkError):
        tokens.read("signin", token, 60)


def test_an_expired_link_raises_link_expired(ctx):
    token = backdated(ctx, "/x/" + tokens.make("signin", uid=1), "signin", 61).rsplit("/", 1)[-1]

    with pytest.raises(tokens.LinkExpired):
        tokens.read("signin", token, 60)
    assert tokens.read("signin", token, 120)["uid"] == 1


def test_an_ids_link_reads_back_its_ids_each_use_once_and_only_for_its_purpose(ctx):
    token = tokens.make_ids("followup-action", 123456, 78)
    assert tokens.read("followup-action", token, 60)["ids"] == [123456, 78]
    assert token != tokens.make_ids("followup-action", 123456, 78)  # a fresh nonce each time
    tokens.spend("followup-action", token, 60, use="snooze")
    with pytest.raises(tokens.LinkUsed):
        tokens.spend("followup-action", token, 60, use="snooze")
    assert tokens.spend("followup-action", token, 60, use="followed-up")["ids"] == [123456, 78]
    with pytest.raises(tokens.LinkError):
        tokens.read("touch-action", token, 60)  # another purpose's key
    ids, rest = token.split(".", 1)
    for forged in (f"123457-78.{rest}", token[:-2] + ("AA" if not token.endswith("AA") else "BB"), ids):
        with pytest.raises(tokens.LinkError):
            tokens.read("followup-action", forged, 60)


def test_an_expired_ids_link_raises_link_expired(ctx):
    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 61

    value = tokens.make_ids("followup-action", 5, 6).rsplit(".", 2)[0]
    token = Earlier(ctx.config["SECRET_KEY"], salt="meetloop.ids.followup-action").sign(value).decode()
    with pytest.raises(tokens.LinkExpired):
        tokens.read("followup-action", token, 60)
    assert tokens.read("followup-action", token, 120)["ids"] == [5, 6]


def test_peek_link_names_the_user_without_spending(ctx):
    user = make_user(ctx, password=None)
    token = tokens.make(accounts.SIGNIN, uid=user.id, sv=user.session_version)

    assert accounts.peek_link(accounts.SIGNIN, token).id == user.id
    signed_in_user, next_path = accounts.signin_with_link(accounts.SIGNIN, token)

    assert signed_in_user.id == user.id and next_path is None
    with pytest.raises(tokens.LinkUsed):
        accounts.peek_link(accounts.SIGNIN, token)


@pytest.mark.parametrize(("carried", "expected"), [("/profile", "/profile"), ("//evil.com", None)])
def test_a_signed_link_still_only_returns_a_same_site_next_path(ctx, carried, expected):
    user = make_user(ctx, password=None)
    token = tokens.make(accounts.SIGNIN, uid=user.id, sv=user.session_version, next=carried)

    assert accounts.signin_with_link(accounts.SIGNIN, token)[1] == expected


@pytest.mark.parametrize("purpose", [accounts.RESET, accounts.CHANGE_EMAIL])
def test_only_sign_in_and_verify_links_sign_in(ctx, purpose):
    user = make_user(ctx, password=None)
    token = tokens.make(purpose, uid=user.id, sv=user.session_version, email="x@example.com")

    with pytest.raises(tokens.LinkError):
        accounts.signin_with_link(purpose, token)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/events/5", "/events/5"),
        ("/b/abc?x=1#top", "/b/abc?x=1#top"),
        (None, None),
        ("", None),
        ("//evil.com", None),
        ("///evil.com", None),
        ("https://evil.com/x", None),
        ("/\\evil.com", None),
        ("/\t/evil.com", None),
        ("/\r\n/evil.com", None),
        ("/ /evil.com", None),
        ("/\x7f", None),
        ("events", None),
    ],
)
def test_safe_next_keeps_same_site_paths_only(target, expected):
    assert accounts.safe_next(target) == expected


# --- password reset ----------------------------------------------------------------------


def test_requesting_a_reset_emails_a_link_and_reveals_nothing(app, outbox):
    user = make_user(app, password=None)

    known = app.test_client().post("/reset", data={"email": user.email})
    unknown = app.test_client().post("/reset", data={"email": "nobody@example.com"})

    assert [m["To"] for m in outbox.messages] == [user.email]
    assert "/reset/" in outbox.link(outbox.last(user.email))
    assert known.status_code == unknown.status_code == 200
    assert as_seen(known, user.email) == as_seen(unknown, "nobody@example.com")


def test_opening_a_reset_link_shows_the_form_and_changes_nothing(app, client, outbox):
    user = make_user(app, password=None)
    link = request_reset(client, outbox, user.email)

    page = client.get(link)

    assert page.status_code == 200
    assert 'type="password"' in page.get_data(as_text=True)
    assert used_token_count(app) == 0
    assert not signed_in(client)


def test_a_reset_sets_the_new_password_and_signs_in_here(app, client, outbox):
    user = make_user(app)
    link = request_reset(client, outbox, user.email)

    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert response.status_code == 302
    assert signed_in(client)
    fresh = app.test_client()
    fresh.post("/login", data={"email": user.email, "password": PASSWORD})
    assert not signed_in(fresh)
    fresh.post("/login", data={"email": user.email, "password": NEW_PASSWORD})
    assert signed_in(fresh)


def test_a_reset_signs_out_every_other_session_and_kills_other_links(app, client, outbox):
    user = make_user(app)
    laptop = app.test_client()
    laptop.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    remembered = laptop.get_cookie("remember_token").value
    sign_in_link = request_link(app.test_client(), outbox, user.email)
    link = request_reset(client, outbox, user.email)

    client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert not signed_in(laptop)
    restarted = app.test_client()
    restarted.set_cookie("remember_token", remembered)
    assert not signed_in(restarted)
    assert app.test_client().post(sign_in_link).status_code == 400


def test_a_reset_link_works_once(app, client, outbox):
    user = make_user(app, password=None)
    link = request_reset(client, outbox, user.email)
    client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    other = app.test_client()

    response = other.post(link, data={"password": "yet another passphrase", "confirm": "yet another passphrase"})

    assert response.status_code == 400
    assert offers_a_new_link(response)
    assert not signed_in(other)
    other.post("/login", data={"email": user.email, "password": NEW_PASSWORD})
    assert signed_in(other)


def test_an_expired_reset_link_gives_a_clear_page(app, client, outbox):
    user = make_user(app)
    link = request_reset(client, outbox, user.email)
    old = backdated(app, link, "reset", app.config["RESET_LINK_MAX_AGE"] + 60)

    response = client.post(old, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert offers_a_new_link(response)
    fresh = app.test_client()
    fresh.post("/login", data={"email": user.email, "password": PASSWORD})
    assert signed_in(fresh)


@pytest.mark.parametrize(
    ("password", "confirm"), [(NEW_PASSWORD, NEW_PASSWORD + "!"), ("short", "short"), ("", "")]
)
def test_a_rejected_new_password_keeps_the_link_usable(app, client, outbox, password, confirm):
    user = make_user(app, password=None)
    link = request_reset(client, outbox, user.email)

    response = client.post(link, data={"password": password, "confirm": confirm})

    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert not signed_in(client)
    assert client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302


def test_a_reset_verifies_the_address_and_can_give_a_link_only_account_a_password(app, client, outbox):
    user = make_user(app, password=None, verified=False)
    link = request_reset(client, outbox, user.email)

    client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert reload(app, User, user.id).email_verified is True
    fresh = app.test_client()
    fresh.post("/login", data={"email": user.email, "password": NEW_PASSWORD})
    assert signed_in(fresh)


def test_reset_password_checks_the_new_password_before_spending_the_link(ctx):
    user = make_user(ctx, password=None)
    token = tokens.make(accounts.RESET, uid=user.id, sv=user.session_version)

    with pytest.raises(ValidationFailed):
        accounts.reset_password(token, "short")

    assert accounts.reset_password(token, NEW_PASSWORD).id == user.id


# --- change email ------------------------------------------------------------------------


def ask_for_new_email(app, client, user, new_email: str):
    sign_in_as(client, user)
    return client.post("/account/email", data={"email": new_email})


def test_changing_email_sends_a_confirmation_to_the_new_address_only(app, client, outbox):
    user = make_user(app, "old@example.com", password=None)

    response = ask_for_new_email(app, client, user, "New@Example.com")

    assert response.status_code == 302
    assert [m["To"] for m in outbox.messages] == ["new@example.com"]
    assert "/account/email/" in outbox.link(outbox.last("new@example.com"))
    assert reload(app, User, user.id).email == "old@example.com"


def test_opening_the_change_email_link_shows_a_confirm_button_and_changes_nothing(app, client, outbox):
    user = make_user(app, "old@example.com", password=None)
    ask_for_new_email(app, client, user, "new@example.com")
    link = outbox.path(outbox.last("new@example.com"), "/account/email/")

    page = app.test_client().get(link)

    assert page.status_code == 200
    assert "new@example.com" in page.get_data(as_text=True)
    assert "<button" in page.get_data(as_text=True)
    assert reload(app, User, user.id).email == "old@example.com"
    assert used_token_count(app) == 0


def test_confirming_the_change_moves_the_account_and_tells_the_old_address(app, client, outbox):
    user = make_user(app, "old@example.com")
    ask_for_new_email(app, client, user, "new@example.com")
    link = outbox.path(outbox.last("new@example.com"), "/account/email/")

    response = client.post(link)

    assert response.status_code == 302
    stored = reload(app, User, user.id)
    assert (stored.email, stored.email_verified) == ("new@example.com", True)
    notice = outbox.last("old@example.com")
    assert "new@example.com" in outbox.text(notice)
    assert signed_in(client)
    fresh = app.test_client()
    fresh.post("/login", data={"email": "old@example.com", "password": PASSWORD})
    assert not signed_in(fresh)
    fresh.post("/login", data={"email": "new@example.com", "password": PASSWORD})
    assert signed_in(fresh)


def test_confirming_an_email_change_signs_out_other_devices_and_kills_links_sent_to_the_old_address(
    app, client, outbox
):
    user = make_user(app, "old@example.com")
    other_device = app.test_client()
    other_device.post("/login", data={"email": "old@example.com", "password": PASSWORD})
    assert signed_in(other_device)
    old_link = request_link(app.test_client(), outbox, "old@example.com")
    ask_for_new_email(app, client, user, "new@example.com")

    client.post(outbox.path(outbox.last("new@example.com"), "/account/email/"))

    assert signed_in(client)
    assert not signed_in(other_device)
    stale = app.test_client()
    assert stale.post(old_link).status_code == 400
    assert not signed_in(stale)


def test_a_change_email_link_works_once(app, client, outbox):
    user = make_user(app, "old@example.com", password=None)
    ask_for_new_email(app, client, user, "new@example.com")
    link = outbox.path(outbox.last("new@example.com"), "/account/email/")
    client.post(link)

    response = client.post(link)

    assert response.status_code == 400
    assert offers_a_new_link(response)
    assert len(outbox.to("old@example.com")) == 1


def test_asking_for_a_taken_address_looks_the_same_and_tells_its_owner(app, outbox):
    owner = make_user(app, "taken@example.com", password=None)
    asker = make_user(app, "asker@example.com", password=None)
    control = make_user(app, "control@example.com", password=None)

    taken_client, free_client = app.test_client(), app.test_client()
    taken = ask_for_new_email(app, taken_client, asker, "taken@example.com")
    free = ask_for_new_email(app, free_client, control, "free@example.com")

    assert (taken.status_code, taken.headers["Location"]) == (free.status_code, free.headers["Location"])

    taken_page = as_seen(taken_client.get(taken.headers["Location"]), "taken@example.com", asker.email)
    free_page = as_seen(free_client.get(free.headers["Location"]), "free@example.com", control.email)
    assert taken_page == free_page
    owners_mail = outbox.last(owner.email)
    assert "/account/email/" not in outbox.text(owners_mail)
    assert reload(app, User, asker.id).email == "asker@example.com"
    assert reload(app, User, owner.id).email == "taken@example.com"
    assert outbox.to(asker.email) == []


def test_an_address_taken_after_the_request_cannot_be_confirmed(app, client, outbox):
    user = make_user(app, "old@example.com", password=None)
    ask_for_new_email(app, client, user, "new@example.com")
    link = outbox.path(outbox.last("new@example.com"), "/account/email/")
    make_user(app, "new@example.com", password=None)

    response = client.post(link)

    assert response.status_code == 400
    assert reload(app, User, user.id).email == "old@example.com"
    assert outbox.to("old@example.com") == []


def test_changing_to_your_own_address_is_refused(app, client, outbox):
    user = make_user(app, "me@example.com", password=None)

    response = ask_for_new_email(app, client, user, "ME@example.com")

    assert response.status_code == 422
    assert len(outbox) == 0


def test_changing_email_needs_a_signed_in_user(app, client, outbox):
    response = client.post("/account/email", data={"email": "new@example.com"})

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert len(outbox) == 0


def test_an_email_change_link_dies_with_sign_out_everywhere(app, client, outbox):
    user = make_user(app, "old@example.com", password=None)
    ask_for_new_email(app, client, user, "new@example.com")
    link = outbox.path(outbox.last("new@example.com"), "/account/email/")
    client.post("/logout/everywhere")

    assert client.post(link).status_code == 400
    assert reload(app, User, user.id).email == "old@example.com"


def test_request_email_change_queues_nothing_but_the_confirmation(ctx):
    user = make_user(ctx, "old@example.com", password=None)
    stored = db.session.get(User, user.id)

    accounts.request_email_change(stored, " New@Example.com ")

    rows = db.session.scalars(select(OutboxMessage)).all()
    assert [(m.kind, m.recipient) for m in rows] == [("change_email", "new@example.com")]
    assert stored.email == "old@example.com"
