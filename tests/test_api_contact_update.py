"""PATCH /api/v1/me/contacts/<id>: the note step after a scan, sent separately."""

from __future__ import annotations

import pytest

from tests.api_support import CONTACTS, assert_api_error, bearer, post_scan, token_for
from tests.factories import attend, make_user


@pytest.fixture
def scanned(app, world, client):
    """Bo scanned the world's attendee; (Bo's token, his contact id)."""
    bo = make_user(app, "bo@example.com", name="Bo Builder")
    attend(app, world.event, bo)
    token = token_for(app, bo)
    contact = post_scan(client, token, world.attendee_badge).get_json()["contact"]
    return token, contact["id"]


def test_a_note_and_tags_sent_after_the_scan_land_on_the_scanners_contact(client, scanned):
    token, contact_id = scanned

    response = client.patch(f"{CONTACTS}/{contact_id}", json={"note": "Wants a solar intro",
                                                               "add_tags": ["Refer a client", "solar"]},
                            headers=bearer(token))

    assert response.status_code == 200
    body = response.get_json()
    assert body["note"] == "Wants a solar intro"
    assert sorted(body["tags"]) == ["Refer a client", "solar"]
    again = client.patch(f"{CONTACTS}/{contact_id}", json={"add_tags": ["SOLAR", "lisbon"]}, headers=bearer(token))
    assert sorted(again.get_json()["tags"]) == ["Refer a client", "lisbon", "solar"]
    assert again.get_json()["note"] == "Wants a solar intro"


def test_someone_elses_contact_cannot_be_updated(app, world, client, scanned):
    _, contact_id = scanned
    other = token_for(app, world.attendee)

    assert_api_error(client.patch(f"{CONTACTS}/{contact_id}", json={"note": "x"}, headers=bearer(other)),
                     404, "not_found")


@pytest.mark.parametrize("body", [[], {"note": 5}, {"add_tags": "solar"}, {"add_tags": ["x" * 500]},
                                  {"note": "x" * 100_000}])
def test_malformed_updates_are_validation_errors(client, scanned, body):
    token, contact_id = scanned
    assert_api_error(client.patch(f"{CONTACTS}/{contact_id}", json=body, headers=bearer(token)),
                     422, "validation_error")


def test_the_scan_answer_carries_the_scanned_persons_photo_url_when_they_have_one(app, world, client):
    import io

    from PIL import Image

    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import profiles

    bo = make_user(app, "bo@example.com", name="Bo Builder")
    attend(app, world.event, bo)
    with app.app_context():
        out = io.BytesIO()
        Image.new("RGB", (30, 30), (0, 90, 200)).save(out, "PNG")
        profiles.set_photo(db.session.get(User, world.attendee.id), out.getvalue())
        db.session.commit()

    contact = post_scan(client, token_for(app, bo), world.attendee_badge).get_json()["contact"]

    assert contact["photo_url"].startswith(f"{app.config['BASE_URL']}/profile/{world.attendee.id}/photo.jpg")
    assert client.get(contact["photo_url"].removeprefix(app.config["BASE_URL"])).status_code in (200, 302)
