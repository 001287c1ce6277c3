"""Rate limits on what costs a lot or sends mail: imports, exports, sending
recaps, scanning from the connect page, the one-click link pages and the
account changes that email a link. Each test turns the limiter on, reaches
the limit and checks the answer is the friendly 429 page with Retry-After,
and that the limit follows the account, not the venue's shared address.

Sign-in, sign-up and link requests are in test_security_auth.py, joining by
email in test_event_pages.py and API scans (JSON 429) in test_api_scans.py.

Limits count in fixed windows: a window may roll over during a loop, so each
loop goes up to twice the limit and stops at the first refusal.
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from tests.factories import attend, make_event, make_user
from tests.test_security_auth import assert_friendly_429
from webapp.extensions import db
from webapp.models import ContactImport, RegistrantImport

CONTACTS_CSV = b"name,email\nIda Import,ida@example.com\n"
REGISTRANTS_CSV = b"name,email\nIvy Import,ivy@example.com\n"


def until_refused(send, limit: int):
    """Call ``send()`` until it answers 429 (at most twice ``limit`` and once more);
    the answers before it, and the refusal."""
    answers = []
    for _ in range(2 * limit + 1):
        response = send()
        response.get_data()  # a streamed download runs to its end, as in a browser
        if response.status_code == 429:
            return answers, response
        answers.append(response.status_code)
    pytest.fail(f"no 429 after {len(answers)} requests (limit {limit})")


@pytest.fixture
def organizer_event(app):
    organizer = make_user(app, role="organizer", password=None)
    return organizer, make_event(app, organizer)


def test_contact_imports_are_limited_to_ten_uploads_an_hour_per_person(app, client, auth, rate_limits):
    person, neighbour = make_user(app, password=None), make_user(app, password=None)
    auth.as_user(person)

    def upload():
        return client.post("/contacts/import", data={"file": (io.BytesIO(CONTACTS_CSV), "mine.csv")})

    answers, refused = until_refused(upload, 10)

    assert len(answers) >= 10 and set(answers) == {302}
    assert_friendly_429(refused)
    assert client.get("/contacts/import").status_code == 200  # the form still opens
    with app.app_context():
        uploads = db.session.scalar(select(func.count()).select_from(ContactImport))
    assert uploads == len(answers)
    auth.as_user(neighbour)  # same address, another person
    assert upload().status_code == 302


def test_registrant_imports_are_limited_to_ten_uploads_an_hour_per_organizer(app, client, auth, rate_limits,
                                                                            organizer_event):
    organizer, event = organizer_event
    auth.as_user(organizer)

    def upload():
        return client.post(f"/events/{event.slug}/imports",
                           data={"file": (io.BytesIO(REGISTRANTS_CSV), "people.csv")})

    answers, refused = until_refused(upload, 10)

    assert len(answers) >= 10 and set(answers) == {302}
    assert_friendly_429(refused)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RegistrantImport)) == len(answers)
    helper = make_user(app, role="organizer", password=None)
    auth.as_user(helper)
    own_event = make_event(app, helper)
    assert client.post(f"/events/{own_event.slug}/imports",
                       data={"file": (io.BytesIO(REGISTRANTS_CSV), "people.csv")}).status_code == 302


@pytest.mark.parametrize(("path", "limit"), [
    ("/contacts.vcf", 30),
    ("/contacts.csv", 30),
    ("/account/data.zip", 10),
    ("/events/{slug}/attendees.csv", 30),
])
def test_exports_are_limited_per_person(app, client, auth, rate_limits, organizer_event, path, limit):
    organizer, event = organizer_event
    attend(app, event, make_user(app, password=None))
    auth.as_user(organizer)
    url = path.format(slug=event.slug)

    answers, refused = until_refused(lambda: client.get(url), limit)

    assert len(answers) >= limit and set(answers) == {200}
    assert_friendly_429(refused)
    auth.as_user(make_user(app, role="admin", password=None))  # admins may export any event's list
    assert client.get(url).status_code == 200


def test_sending_recaps_now_is_limited_per_organizer(app, client, auth, rate_limits, organizer_event):
    organizer, event = organizer_event
    auth.as_user(organizer)

    answers, refused = until_refused(lambda: client.post(f"/events/{event.slug}/recaps/send"), 10)

    assert len(answers) >= 10 and set(answers) == {302}
    assert_friendly_429(refused)


def test_connecting_from_the_badge_page_is_limited_per_person_not_per_venue(app, client, auth, rate_limits,
                                                                          organizer_event):
    _, event = organizer_event
    scanner, other = make_user(app, password=None), make_user(app, password=None)
    attend(app, event, scanner)
    attend(app, event, other)
    badge = attend(app, event, make_user(app, password=None)).badge_token
    auth.as_user(scanner)

    # An empty form is refused by the view but still counts: the limit comes first.
    answers, refused = until_refused(lambda: client.post(f"/b/{badge}/connect", data={}), 300)

    assert len(answers) >= 300 and set(answers) == {302}
    assert_friendly_429(refused)
    auth.as_user(other)
    assert client.post(f"/b/{badge}/connect", data={}).status_code == 302


@pytest.mark.parametrize("path", ["/login/link/made-up", "/verify/made-up", "/reset/made-up", "/touch/made-up",
                                  "/f/made-up/snooze", "/unsubscribe/made-up"])
def test_guessing_link_tokens_is_limited_per_address(app, client, rate_limits, path):
    answers, refused = until_refused(lambda: client.post(path) if path.startswith(("/login", "/verify", "/reset"))
                                     else client.get(path), 60)

    assert len(answers) >= 60 and set(answers) == {400}
    assert_friendly_429(refused)
    neighbour = app.test_client()
    assert neighbour.get(path, environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 400


def test_asking_to_change_ones_email_is_limited_per_person(app, client, auth, outbox, rate_limits):
    person = make_user(app, password=None)
    auth.as_user(person)
    moves = iter(range(100))

    answers, refused = until_refused(
        lambda: client.post("/account/email", data={"email": f"moved{next(moves)}@example.com"}), 3)

    assert len(answers) >= 3 and set(answers) == {302}
    assert_friendly_429(refused)
    assert len(outbox.messages) == len(answers)
