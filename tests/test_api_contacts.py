"""GET /api/v1/me/contacts: syncing one's address book page by page, and removing a contact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from tests.api_support import CONTACTS, assert_api_error, bearer, error_of, post_scan, token_for
from tests.factories import attend, make_event, make_user
from webapp.extensions import db
from webapp.models import Contact, User

JAN = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def book(app):
    """Mia's address book: two people she scanned at an event and five she imported,
    each changed a day after the one before (Jan 1st, 2nd, ... 2025)."""
    organizer = make_user(app, "olga@example.com", name="Olga", password=None, role="organizer")
    mia = make_user(app, "mia@example.com", name="Mia", password=None)
    event = make_event(app, organizer, "Spring Mixer")
    attend(app, event, mia)
    met = [make_user(app, f"met{n}@example.com", name=f"Met {n}", password=None, share_email=False)
           for n in range(2)]
    token = token_for(app, mia)
    for person in met:
        assert post_scan(app.test_client(), token, attend(app, event, person).badge_token).status_code == 201
    with app.app_context():
        for n in range(5):
            db.session.add(Contact(owner_id=mia.id, source="import", name=f"Imported {n}",
                                   email=f"imported{n}@example.org", company="Elsewhere Ltd"))
        db.session.flush()
        ids = []
        for n, contact in enumerate(db.session.scalars(db.select(Contact).where(Contact.owner_id == mia.id)
                                                       .order_by(Contact.id))):
            contact.updated_at = JAN + timedelta(days=n)
            ids.append(contact.id)
        db.session.commit()
    return SimpleNamespace(mia=mia, token=token, ids=ids, met=met, event=event)


def get_contacts(client, token: str, **params):
    return client.get(CONTACTS, query_string=params, headers=bearer(token))


def test_contacts_come_in_order_of_last_update_with_timestamps_in_utc(app, client, book):
    with app.app_context():
        db.session.get(Contact, book.ids[0]).updated_at = JAN + timedelta(days=30)  # changed again, later
        db.session.commit()

    body = get_contacts(client, book.token).get_json()

    assert [c["id"] for c in body["contacts"]] == [*book.ids[1:], book.ids[0]]
    assert body["next"] is None
    stamps = [datetime.fromisoformat(c["updated_at"]) for c in body["contacts"]]
    assert all(stamp.utcoffset() == timedelta(0) for stamp in stamps)


def test_following_next_covers_every_contact_exactly_once(app, client, book):
    seen, pages, cursor = [], 0, None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = get_contacts(client, book.token, **params).get_json()
        pages += 1
        seen += [c["id"] for c in body["contacts"]]
        cursor = body["next"]
        if cursor is None:
            break
        assert pages < 10, "pagination does not end"

    assert seen == book.ids
    assert pages == 3


def test_a_contact_changed_while_paging_comes_again_at_the_end(app, client, book):
    first = get_contacts(client, book.token, limit=4).get_json()
    with app.app_context():
        db.session.get(Contact, book.ids[0]).updated_at = JAN + timedelta(days=30)
        db.session.commit()

    rest = get_contacts(client, book.token, limit=500, cursor=first["next"]).get_json()

    assert [c["id"] for c in rest["contacts"]] == [*book.ids[4:], book.ids[0]]


def test_since_keeps_contacts_changed_at_or_after_that_instant(app, client, book):
    same_instant = ["2025-01-04T09:00:00+00:00", "2025-01-04T11:00:00+02:00", "2025-01-04T09:00:00Z",
                    "2025-01-04T04:00:00.000-05:00"]

    found = {since: [c["id"] for c in get_contacts(client, book.token, since=since).get_json()["contacts"]]
             for since in same_instant}

    assert found == dict.fromkeys(same_instant, book.ids[3:])


def test_since_far_in_the_past_or_future_is_everything_or_nothing(app, client, book):
    assert len(get_contacts(client, book.token, since="0001-01-01T00:00:00+01:00").get_json()["contacts"]) == 7
    assert get_contacts(client, book.token, since="9999-12-31T23:59:59-01:00").get_json()["contacts"] == []


def test_a_removed_contact_comes_back_as_only_its_id_and_deleted(app, client, book):
    removed = book.ids[2]

    response = client.delete(f"{CONTACTS}/{removed}", headers=bearer(book.token))

    assert response.status_code == 204
    entries = {c["id"]: c for c in get_contacts(client, book.token).get_json()["contacts"]}
    assert entries[removed] == {"id": removed, "deleted": True}
    assert all(entry["deleted"] is False for cid, entry in entries.items() if cid != removed)
    # ...and it moved to the end, as the latest change.
    assert list(entries)[-1] == removed
    assert_api_error(client.delete(f"{CONTACTS}/{removed}", headers=bearer(book.token)), 404, "not_found")


def test_linked_contacts_show_the_persons_card_and_imported_ones_their_imported_fields(app, client, book):
    entries = get_contacts(client, book.token).get_json()["contacts"]
    scanned, imported = entries[0], entries[2]

    assert scanned["user_id"] == book.met[0].id and scanned["name"] == "Met 0"
    assert scanned["event"] == {"id": book.event.id, "slug": book.event.slug, "name": "Spring Mixer"}
    assert "email" not in scanned  # Met 0 doesn't share it
    assert (imported["user_id"], imported["source"]) == (None, "import")
    assert (imported["name"], imported["email"], imported["company"]) == ("Imported 0", "imported0@example.org",
                                                                          "Elsewhere Ltd")


def test_each_person_sees_only_their_own_contacts(app, client, book):
    theirs = token_for(app, book.met[0])

    entries = get_contacts(client, theirs).get_json()["contacts"]

    assert [(c["user_id"], c["scanned_me"]) for c in entries] == [(book.mia.id, True)]
    assert_api_error(client.delete(f"{CONTACTS}/{book.ids[3]}", headers=bearer(theirs)), 404, "not_found")
    with app.app_context():
        assert db.session.get(Contact, book.ids[3]).deleted_at is None


BAD_PARAMETERS = [
    {"limit": 501}, {"limit": 0}, {"limit": -1}, {"limit": "ten"}, {"limit": "1.5"}, {"limit": ""},
    {"since": "2025-01-04T09:00:00"}, {"since": "2025-01-04"}, {"since": "last tuesday"},
    {"since": "2025-02-30T09:00:00Z"}, {"cursor": "not-a-cursor"}, {"cursor": "W10"}, {"cursor": "é"},
]


def test_bad_paging_parameters_are_422_validation_error(app, client, book):
    answers = {str(params): error_of(get_contacts(client, book.token, **params)) for params in BAD_PARAMETERS}

    assert answers == dict.fromkeys(map(str, BAD_PARAMETERS), (422, "validation_error"))


def test_a_page_may_hold_up_to_500(app, client, book):
    assert get_contacts(client, book.token, limit=500).status_code == 200


def test_a_disabled_account_cannot_use_its_token(app, client, book):
    with app.app_context():
        db.session.get(User, book.mia.id).is_disabled = True
        db.session.commit()

    assert_api_error(get_contacts(client, book.token), 401, "unauthenticated")
