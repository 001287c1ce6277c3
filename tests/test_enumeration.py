"""Nobody learns whether an address has an account: sign-in, sign-up,
password reset and sign-in link requests answer a known and an unknown
address with the same bytes (status, headers, body once the per-browser CSRF
token is blanked), and both go through the same expensive work.

Each pair uses one address: asked about first while nobody has it, then
again once an account has it, so even the echoed address is the same.
Only the mail differs, and it goes to the address's owner.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_of, without_csrf
from tests.factories import PASSWORD, make_event, make_user
from webapp.extensions import db
from webapp.models import OutboxMessage, User
from webapp.services import accounts

ADDRESS = "maybe-member@example.com"
IGNORED_HEADERS = {"Set-Cookie", "Date"}

FORMS = {
    "sign-in": ("/login", {"email": ADDRESS, "password": "a wrong guess at it"}),
    "sign-up": ("/signup", {"name": "Maybe Member", "email": ADDRESS, "password": "a long enough password"}),
    "sign-up without a password": ("/signup", {"name": "Maybe Member", "email": ADDRESS, "password": ""}),
    "password reset": ("/reset", {"email": ADDRESS}),
    "sign-in link": ("/login/link", {"email": ADDRESS}),
}


def answer(app, path: str, data: dict, page: str | None = None) -> tuple[int, dict, str]:
    """What a new browser gets for this form (shown at ``page``), CSRF tokens blanked."""
    client = app.test_client()
    token = csrf_token_of(client, page or path)
    response = client.post(path, data={**data, "csrf_token": token})
    body = response.get_data(as_text=True).replace(token, "CSRF")
    body = without_csrf(body)
    headers = {name: value for name, value in response.headers.items() if name not in IGNORED_HEADERS}
    return response.status_code, headers, body


def mail_to(app, address: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxMessage).filter_by(recipient=address))


def make_known(app, form: str) -> None:
    """Give the address an established (verified) account. Sign-up made an
    unverified one the first time: it moves aside for an established one."""
    if form.startswith("sign-up"):
        with app.app_context():
            first = db.session.scalar(select(User).filter_by(email=ADDRESS))
            first.email = "moved-aside@example.com"
            db.session.commit()
    make_user(app, ADDRESS, name="Maybe Member")


@pytest.mark.parametrize("form", FORMS)
def test_a_known_and_an_unknown_address_get_the_same_answer(app, csrf, form):
    path, data = FORMS[form]

    unknown = answer(app, path, data)
    mail_for_unknown = mail_to(app, ADDRESS)
    make_known(app, form)
    mail_before = mail_to(app, ADDRESS)
    known = answer(app, path, data)

    assert unknown[0] == known[0] and unknown[0] in (200, 422)
    assert unknown[1] == known[1]
    assert unknown[2] == known[2]
    # Mail goes only where an account can read it: sign-up mails the new account
    # (a verification) and the known one (a sign-in link) alike.
    expected_unknown, expected_known = {"sign-in": (0, 0), "password reset": (0, 1), "sign-in link": (0, 1)}.get(
        form, (1, 1))
    assert (mail_for_unknown, mail_to(app, ADDRESS) - mail_before) == (expected_unknown, expected_known)


@pytest.mark.parametrize("kind", ["link-only account", "disabled account", "unverified account"])
def test_a_wrong_password_for_any_kind_of_account_looks_like_no_account(app, csrf, kind):
    path, data = FORMS["sign-in"]
    unknown = answer(app, path, data)
    user = make_user(app, ADDRESS, password=None if kind == "link-only account" else PASSWORD,
                     verified=kind != "unverified account")
    if kind == "disabled account":
        with app.app_context():
            db.session.get(User, user.id).is_disabled = True
            db.session.commit()

    assert answer(app, path, data) == unknown
    assert mail_to(app, ADDRESS) == 0


@pytest.mark.parametrize("form", ["password reset", "sign-in link"])
def test_a_disabled_account_gets_no_mail_and_the_same_answer(app, csrf, form):
    path, data = FORMS[form]
    unknown = answer(app, path, data)
    user = make_user(app, ADDRESS)
    with app.app_context():
        db.session.get(type(user), user.id).is_disabled = True
        db.session.commit()

    assert answer(app, path, data) == unknown
    assert mail_to(app, ADDRESS) == 0


class Hashing:
    """Counts the password hashing the accounts service does, calling the real
    functions (a spy, not a mock: the hashes are still computed and checked)."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[str] = []
        for name in ("generate_password_hash", "check_password_hash"):
            real = getattr(accounts, name)
            monkeypatch.setattr(accounts, name, self._counting(name, real))

    def _counting(self, name, real):
        def counted(*args, **kwargs):
            self.calls.append(name)
            return real(*args, **kwargs)
        return counted

    def take(self) -> list[str]:
        calls, self.calls = self.calls, []
        return calls


def test_signing_in_checks_a_password_hash_whether_or_not_the_account_exists(app, client, monkeypatch):
    hashing = Hashing(monkeypatch)
    client.post("/login", data={"email": ADDRESS, "password": "a wrong guess at it"})
    unknown = hashing.take()
    make_user(app, ADDRESS, password=None)
    hashing.take()
    client.post("/login", data={"email": ADDRESS, "password": "a wrong guess at it"})
    link_only = hashing.take()
    other = make_user(app, "has-password@example.com")
    hashing.take()
    client.post("/login", data={"email": other.email, "password": "a wrong guess at it"})
    with_password = hashing.take()

    assert unknown == link_only == with_password == ["check_password_hash"]


def test_signing_up_hashes_the_password_whether_or_not_the_address_is_taken(app, client, monkeypatch):
    hashing = Hashing(monkeypatch)
    data = {"name": "Maybe Member", "email": ADDRESS, "password": "a long enough password"}

    client.post("/signup", data=data)
    new_address = hashing.take()
    client.post("/signup", data=data)
    taken_address = hashing.take()

    assert "generate_password_hash" in new_address
    assert "generate_password_hash" in taken_address


def test_signing_up_does_the_same_hashing_work_for_a_new_and_a_taken_address(app, client, monkeypatch):
    hashing = Hashing(monkeypatch)
    data = {"name": "Maybe Member", "email": ADDRESS, "password": "a long enough password"}

    client.post("/signup", data=data)
    new_address = hashing.take()
    client.post("/signup", data=data)

    assert new_address == hashing.take()


def test_joining_an_event_by_email_looks_the_same_for_a_known_and_an_unknown_address(app, csrf):
    organizer = make_user(app, role="organizer", password=None)
    event = make_event(app, organizer)
    path, data = f"/join/{event.join_code}/email", {"name": "Maybe Member", "email": ADDRESS}

    unknown = answer(app, path, data, page=f"/join/{event.join_code}")
    make_known(app, "sign-up")  # joining made a passwordless account: an established one takes its place
    known = answer(app, path, data, page=f"/join/{event.join_code}")

    assert unknown == known and unknown[0] == 200
    assert mail_to(app, ADDRESS) == 2
