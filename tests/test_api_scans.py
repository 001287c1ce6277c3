"""POST /api/v1/scans: recording that two people met, over HTTP with a Bearer token.

The rules themselves belong to services.connections (tested there); these
tests prove the API's wiring: status codes, the error shape, the body, and
that what a scanner sees follows the scanned person's sharing choices.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from tests.api_support import (
    CONTACTS,
    SCANS,
    assert_api_error,
    bearer,
    count,
    error_of,
    new_client_id,
    post_scan,
    token_for,
)
from tests.conftest import BASE_URL
from tests.factories import attend, make_event, make_user
from webapp.api.routes import SCANS_PER_USER
from webapp.extensions import db
from webapp.models import Attendance, Contact, Event, Scan, User, utcnow
from webapp.services import badges, connections


@pytest.fixture
def scene(app):
    """Ana (with a token) and Pia, who shares everything, at one event; Ben at another.

    Passwordless accounts: these tests are about scanning, not signing in.
    """
    organizer = make_user(app, "olga@example.com", name="Olga Organizer", password=None, role="organizer")
    scanner = make_user(app, "ana@example.com", name="Ana Attendee", password=None)
    peer = make_user(
        app, "pia@example.com", name="Pia Peer", password=None, headline="Founder at Acme", company="Acme",
        phone="+351 912 345 678", linkedin_url="https://www.linkedin.com/in/pia-peer",
        share_email=True, share_phone=True, share_linkedin=True,
    )
    outsider = make_user(app, "ben@example.com", name="Ben Elsewhere", password=None)
    event = make_event(app, organizer, "Spring Mixer")
    other_event = make_event(app, organizer, "Autumn Summit")
    scanner_badge, badge = attend(app, event, scanner), attend(app, event, peer)
    attend(app, other_event, outsider)
    return SimpleNamespace(
        organizer=organizer, event=event, scanner=scanner, peer=peer, outsider=outsider,
        badge=badge.badge_token, code=badge.badge_code, scanner_badge=scanner_badge.badge_token,
        token=token_for(app, scanner), peer_token=token_for(app, peer),
    )


def contact_of(app, owner_id: int, other_id: int) -> Contact | None:
    with app.app_context():
        contact = db.session.scalar(db.select(Contact).where(Contact.owner_id == owner_id, Contact.user_id == other_id))
        if contact is not None:
            _ = [tag.name for tag in contact.tags]
            db.session.expunge(contact)
        return contact


def test_a_new_scan_answers_201_with_the_scan_and_the_scanned_persons_card(app, client, scene):
    client_id = new_client_id()
    response = post_scan(client, scene.token, scene.badge, client_id)

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"scan", "contact", "already_connected"}
    assert body["already_connected"] is False
    assert body["scan"]["client_id"] == client_id
    assert body["scan"]["scanned_user_id"] == scene.peer.id
    assert body["scan"]["event"]["slug"] == scene.event.slug
    assert body["contact"]["user_id"] == scene.peer.id
    assert (body["contact"]["name"], body["contact"]["headline"]) == ("Pia Peer", "Founder at Acme")
    assert body["contact"]["scanned_me"] is False
    assert count(app, Scan) == 1


def test_a_replay_of_the_same_client_id_answers_200_with_the_first_answers_body(app, client, scene):
    client_id = new_client_id()
    first = post_scan(client, scene.token, scene.badge, client_id, note="Talked about hiring", tags=["VIP"])
    again = post_scan(client, scene.token, scene.badge, client_id, note="Talked about hiring", tags=["VIP"])

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert count(app, Scan) == 1
    assert contact_of(app, scene.scanner.id, scene.peer.id).note == "Talked about hiring"


def test_a_replay_after_removing_the_contact_is_still_200_without_the_contact(app, client, scene):
    client_id = new_client_id()
    first = post_scan(client, scene.token, scene.badge, client_id).get_json()
    assert client.delete(f"{CONTACTS}/{first['contact']['id']}", headers=bearer(scene.token)).status_code == 204

    again = post_scan(client, scene.token, scene.badge, client_id)

    assert again.status_code == 200
    assert again.get_json()["scan"] == first["scan"]
    assert again.get_json()["contact"] is None  # removed stays removed: a replay is not a new meeting
    assert count(app, Scan) == 1


def test_the_same_client_id_for_another_badge_is_a_409_conflict(app, client, scene):
    other = make_user(app, "oscar@example.com", name="Oscar", password=None)
    other_badge = attend(app, scene.event, other).badge_token
    client_id = new_client_id()
    post_scan(client, scene.token, scene.badge, client_id)

    assert_api_error(post_scan(client, scene.token, other_badge, client_id), 409, "client_id_conflict")
    assert count(app, Scan) == 1


def test_the_same_client_id_from_another_scanner_is_its_own_scan(app, client, scene):
    third = make_user(app, "tess@example.com", name="Tess", password=None)
    attend(app, scene.event, third)
    client_id = new_client_id()

    assert post_scan(client, scene.token, scene.badge, client_id).status_code == 201
    assert post_scan(client, token_for(app, third), scene.badge, client_id).status_code == 201
    assert count(app, Scan) == 2


def test_meeting_again_with_a_new_client_id_is_a_new_scan_already_connected(app, client, scene):
    post_scan(client, scene.token, scene.badge)
    again = post_scan(client, scene.token, scene.badge)
    back = post_scan(client, scene.peer_token, scene.scanner_badge)  # the other way round

    assert again.status_code == 201 and again.get_json()["already_connected"] is True
    assert back.status_code == 201 and back.get_json()["already_connected"] is True
    assert count(app, Scan) == 3
    assert count(app, Contact) == 2  # still one entry on each side


BADGE_FORMS = {
    "token": lambda s: s.badge,
    "badge URL": lambda s: f"{BASE_URL}/b/{s.badge}",
    "short code": lambda s: s.code,
    "short code as typed": lambda s: f"{s.code[:3].lower()}-{s.code[3:].lower()}",
}


def test_a_badge_may_be_given_as_token_url_or_short_code(app, client, scene):
    scanned = {name: post_scan(client, scene.token, form(scene)) for name, form in BADGE_FORMS.items()}

    assert {name: r.status_code for name, r in scanned.items()} == dict.fromkeys(BADGE_FORMS, 201)
    assert {r.get_json()["scan"]["scanned_user_id"] for r in scanned.values()} == {scene.peer.id}


@pytest.fixture
def same_code_elsewhere(app, scene):
    """The scanner also attends a second event, where Zed has Pia's short code."""
    second = make_event(app, scene.organizer, "Winter Forum")
    attend(app, second, scene.scanner)
    zed = make_user(app, "zed@example.com", name="Zed", password=None)
    zeds_badge = attend(app, second, zed)
    with app.app_context():
        db.session.get(Attendance, zeds_badge.id).badge_code = scene.code
        db.session.commit()
    return SimpleNamespace(event=second, zed=zed)


def test_a_short_code_used_at_two_of_my_events_needs_the_event(app, client, scene, same_code_elsewhere):
    assert_api_error(post_scan(client, scene.token, scene.code), 422, "validation_error")

    by_slug = post_scan(client, scene.token, scene.code, event=scene.event.slug)
    by_id = post_scan(client, scene.token, scene.code, event=str(same_code_elsewhere.event.id))

    assert by_slug.status_code == 201 and by_slug.get_json()["scan"]["scanned_user_id"] == scene.peer.id
    assert by_id.status_code == 201 and by_id.get_json()["scan"]["scanned_user_id"] == same_code_elsewhere.zed.id


def test_scanning_your_own_badge_is_422_self_scan(app, client, scene):
    assert_api_error(post_scan(client, scene.token, scene.scanner_badge), 422, "self_scan")
    assert count(app, Scan) == 0


def test_an_unknown_badge_is_404_unknown_badge(app, client, scene):
    unknown = ["x" * 32, "ZZZZ99", f"{BASE_URL}/b/{'y' * 32}", "not a badge at all"]

    answers = {badge: error_of(post_scan(client, scene.token, badge)) for badge in unknown}

    assert answers == dict.fromkeys(unknown, (404, "unknown_badge"))


def test_a_replaced_badge_token_is_404_unknown_badge(app, client, scene):
    with app.app_context():
        badges.rotate(db.session.scalar(db.select(Attendance).where(Attendance.badge_token == scene.badge)))
        db.session.commit()

    assert_api_error(post_scan(client, scene.token, scene.badge), 404, "unknown_badge")


def test_an_attendee_of_another_event_is_403_not_attendee(app, client, scene):
    outsider = token_for(app, scene.outsider)

    assert_api_error(post_scan(client, outsider, scene.badge), 403, "not_attendee")
    assert count(app, Scan) == 0


def test_no_connections_at_a_cancelled_event(app, client, scene):
    with app.app_context():
        db.session.get(Event, scene.event.id).cancelled_at = utcnow()
        db.session.commit()

    assert_api_error(post_scan(client, scene.token, scene.badge), 422, "event_cancelled")


@pytest.mark.parametrize("who_blocks", ["scanned", "scanner"])
def test_no_connection_across_a_block(app, client, scene, who_blocks):
    blocker, other = (scene.peer, scene.scanner) if who_blocks == "scanned" else (scene.scanner, scene.peer)
    with app.app_context():
        connections.block(db.session.get(User, blocker.id), other.id)
        db.session.commit()

    assert_api_error(post_scan(client, scene.token, scene.badge), 403, "not_allowed")
    assert count(app, Scan) == 0


def test_scanned_at_with_an_offset_is_stored_as_that_instant(app, client, scene):
    local = (datetime.now(UTC) - timedelta(days=1)).astimezone(timezone(timedelta(hours=-5))).replace(microsecond=0)

    response = post_scan(client, scene.token, scene.badge, scanned_at=local.isoformat())

    assert response.status_code == 201
    assert datetime.fromisoformat(response.get_json()["scan"]["scanned_at"]) == local
    assert response.get_json()["scan"]["scanned_at"].endswith("+00:00")
    with app.app_context():
        assert db.session.scalar(db.select(Scan.scanned_at)) == local


def test_scanned_at_without_an_offset_or_in_the_future_is_422(app, client, scene):
    wrong = ["2025-05-01T18:30:00", "2025-05-01", "yesterday", "2999-01-01T00:00:00Z", "2025-02-30T10:00:00Z"]

    answers = {when: error_of(post_scan(client, scene.token, scene.badge, scanned_at=when)) for when in wrong}

    assert answers == dict.fromkeys(wrong, (422, "validation_error"))
    assert count(app, Scan) == 0


def test_note_and_tags_go_on_the_scanners_contact_only(app, client, scene):
    response = post_scan(client, scene.token, scene.badge, note="Wants an intro to a CFO",
                         tags=["Introduce someone", "fintech", "FinTech"])

    assert response.get_json()["contact"]["note"] == "Wants an intro to a CFO"
    assert sorted(response.get_json()["contact"]["tags"]) == ["Introduce someone", "fintech"]
    mine, theirs = contact_of(app, scene.scanner.id, scene.peer.id), contact_of(app, scene.peer.id, scene.scanner.id)
    assert (mine.note, sorted(t.name for t in mine.tags), mine.scanned_me) == (
        "Wants an intro to a CFO", ["Introduce someone", "fintech"], False)
    assert (theirs.note, theirs.tags, theirs.scanned_me) == ("", [], True)


def test_the_scanned_person_gets_a_contact_showing_what_the_scanner_shares(app, client, scene):
    with app.app_context():
        scanner = db.session.get(User, scene.scanner.id)
        scanner.share_email, scanner.phone, scanner.share_phone = False, "+44 20 7946 0000", True
        db.session.commit()
    post_scan(client, scene.token, scene.badge)

    [entry] = client.get(CONTACTS, headers=bearer(scene.peer_token)).get_json()["contacts"]

    assert entry["user_id"] == scene.scanner.id and entry["scanned_me"] is True
    assert entry["phone"] == "+44 20 7946 0000"
    assert "email" not in entry and "linkedin_url" not in entry  # not shared, and no LinkedIn given


@pytest.mark.parametrize("shares", [True, False], ids=["shares", "keeps-private"])
def test_what_the_scanner_sees_follows_the_scanned_persons_sharing_choices(app, client, scene, shares):
    with app.app_context():
        peer = db.session.get(User, scene.peer.id)
        peer.share_email = peer.share_phone = peer.share_linkedin = shares
        db.session.commit()

    contact = post_scan(client, scene.token, scene.badge).get_json()["contact"]

    shared = {"email": "pia@example.com", "phone": "+351 912 345 678",
              "linkedin_url": "https://www.linkedin.com/in/pia-peer"}
    if shares:
        assert {key: contact[key] for key in shared} == shared
    else:
        assert set(shared).isdisjoint(contact)
    assert contact["name"] == "Pia Peer" and contact["headline"] == "Founder at Acme"


BAD_BODIES = {
    "no badge": {"client_id": "c-1"},
    "no client_id": {"badge": "{badge}"},
    "empty badge": {"badge": "", "client_id": "c-1"},
    "badge not a string": {"badge": 12345678, "client_id": "c-1"},
    "client_id too long": {"badge": "{badge}", "client_id": "c" * 65},
    "client_id with spaces": {"badge": "{badge}", "client_id": "  "},
    "note too long": {"badge": "{badge}", "client_id": "c-1", "note": "n" * 2001},
    "note with a NUL": {"badge": "{badge}", "client_id": "c-1", "note": "a\x00b"},
    "too many tags": {"badge": "{badge}", "client_id": "c-1", "tags": [f"t{n}" for n in range(11)]},
    "tag too long": {"badge": "{badge}", "client_id": "c-1", "tags": ["t" * 61]},
    "tags not a list": {"badge": "{badge}", "client_id": "c-1", "tags": "vip"},
    "event not a string": {"badge": "{badge}", "client_id": "c-1", "event": 3},
    "a list, not an object": ["{badge}", "c-1"],
}


NOT_JSON_OBJECTS = {
    "a form": ("badge=x&client_id=y", "application/x-www-form-urlencoded"),
    "broken JSON": ("{not json", "application/json"),
    "JSON sent as text": ('{"badge": "x", "client_id": "y"}', "text/plain"),
    "nothing": ("", "application/json"),
}


def test_a_malformed_scan_is_422_validation_error(app, client, scene):
    def fill(value):
        return value.format(badge=scene.badge) if isinstance(value, str) else value

    answers = {}
    for name, body in BAD_BODIES.items():
        body = {k: fill(v) for k, v in body.items()} if isinstance(body, dict) else [fill(v) for v in body]
        answers[name] = error_of(client.post(SCANS, json=body, headers=bearer(scene.token)))
    for name, (data, content_type) in NOT_JSON_OBJECTS.items():
        answers[name] = error_of(client.post(SCANS, data=data, content_type=content_type, headers=bearer(scene.token)))

    assert answers == dict.fromkeys([*BAD_BODIES, *NOT_JSON_OBJECTS], (422, "validation_error"))
    assert count(app, Scan) == 0


def test_a_person_can_record_120_scans_in_a_row(app, client, scene, rate_limits):
    answers = [post_scan(client, scene.token, scene.badge).status_code for _ in range(120)]

    assert answers == [201] * 120


def test_a_flood_of_scans_is_429_rate_limited_per_person(app, client, scene, rate_limits):
    limit = int(SCANS_PER_USER.split("/")[0])
    client_id = new_client_id()
    answers = []
    # A fixed one-minute window may roll over once during the loop: twice the
    # limit and one more is sure to reach a refusal either way.
    for _ in range(2 * limit + 1):
        response = post_scan(client, scene.token, scene.badge, client_id)
        answers.append(response.status_code)
        if response.status_code == 429:
            break

    assert answers[-1] == 429, "never rate limited"
    assert_api_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0
    assert len(answers) - 1 >= limit and set(answers[:-1]) == {201, 200}
    # Same address (a venue's shared IP), another person: not limited.
    assert post_scan(client, scene.peer_token, scene.scanner_badge).status_code == 201
