"""The rules of connecting (services.connections), tested directly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import make_event, make_user
from webapp.extensions import db
from webapp.models import Attendance, Contact, Event, Scan, User, utcnow
from webapp.services import NotFound, ValidationFailed, badges, connections, events


@pytest.fixture
def people(ctx, world):
    """The world's event with a second attendee; all objects live in this context."""
    event = db.session.get(Event, world.event.id)
    ana = db.session.get(User, world.attendee.id)
    bo = db.session.get(User, make_user(ctx, "bo@example.com", name="Bo Builder").id)
    bo_badge = events.add_attendee(event, bo)
    db.session.commit()
    ana_badge = db.session.scalar(select(Attendance).filter_by(user_id=ana.id, event_id=event.id))
    return {"event": event, "ana": ana, "bo": bo, "ana_badge": ana_badge, "bo_badge": bo_badge, "world": world}


def count(model, **filters) -> int:
    return db.session.scalar(select(func.count()).select_from(model).filter_by(**filters))


def test_a_scan_records_the_meeting_and_a_contact_on_both_sides(people):
    ana, bo = people["ana"], people["bo"]

    result = connections.record_scan(ana, people["bo_badge"].badge_token, "c-1", note="Wants solar intros")

    assert result.created and not result.already_connected
    assert count(Scan, scanner_id=ana.id, scanned_id=bo.id) == 1
    mine, theirs = connections.contact_for(ana.id, bo.id), connections.contact_for(bo.id, ana.id)
    assert mine.note == "Wants solar intros" and mine.scanned_me is False
    assert theirs.note == "" and theirs.scanned_me is True
    assert mine.event_id == theirs.event_id == people["event"].id
    assert mine.state == theirs.state == "new"


@pytest.mark.parametrize("form", ["token", "url", "code", "code-lower-spaced"])
def test_a_badge_can_be_given_as_token_url_or_typed_code(people, form, app):
    badge = people["bo_badge"]
    value = {
        "token": badge.badge_token,
        "url": f"{app.config['BASE_URL']}/b/{badge.badge_token}",
        "code": badge.badge_code,
        "code-lower-spaced": " ".join(badge.badge_code.lower()),
    }[form]

    result = connections.record_scan(people["ana"], value, "c-1")

    assert result.scan.scanned_id == people["bo"].id


def test_replaying_a_client_id_is_the_same_scan_and_a_different_badge_is_a_conflict(people):
    ana, token = people["ana"], people["bo_badge"].badge_token
    first = connections.record_scan(ana, token, "same-id", note="hello")
    db.session.commit()

    replay = connections.record_scan(ana, token, "same-id", note="hello")

    assert not replay.created and replay.scan.id == first.scan.id
    assert count(Scan) == 1
    assert connections.contact_for(ana.id, people["bo"].id).note == "hello"
    world = people["world"]
    with pytest.raises(connections.ClientIdConflict):
        connections.record_scan(ana, world.other_badge, "same-id")


def test_meeting_again_is_a_new_scan_marked_already_connected(people):
    ana, token = people["ana"], people["bo_badge"].badge_token
    connections.record_scan(ana, token, "first")

    again = connections.record_scan(people["bo"], people["ana_badge"].badge_token, "second")

    assert again.created and again.already_connected
    assert count(Scan) == 2
    assert count(Contact) == 2


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("own badge", connections.SelfScan),
        ("unknown token", connections.UnknownBadge),
        ("unknown code", connections.UnknownBadge),
        ("other event's attendee", connections.NotAttendee),
        ("cancelled event", connections.EventCancelled),
        ("blocked", connections.NotAllowed),
        ("bad client id", ValidationFailed),
        ("future time", ValidationFailed),
        ("naive time", ValidationFailed),
    ],
)
def test_scans_that_break_a_rule_are_refused_with_a_clear_reason(people, case, error):
    ana, bo_token = people["ana"], people["bo_badge"].badge_token
    kwargs = {}
    badge, client_id = bo_token, "c-1"
    if case == "own badge":
        badge = people["ana_badge"].badge_token
    elif case == "unknown token":
        badge = "x" * 32
    elif case == "unknown code":
        badge = "ZZZZ99"
    elif case == "other event's attendee":
        badge = people["world"].other_badge
    elif case == "cancelled event":
        people["event"].cancelled_at = utcnow()
    elif case == "blocked":
        connections.block(people["bo"], ana.id)
    elif case == "bad client id":
        client_id = ""
    elif case == "future time":
        kwargs["scanned_at"] = utcnow() + timedelta(hours=2)
    elif case == "naive time":
        kwargs["scanned_at"] = utcnow().replace(tzinfo=None)

    with pytest.raises(error) as raised:
        connections.record_scan(ana, badge, client_id, **kwargs)

    assert raised.value.message
    assert count(Scan) == 0


def test_a_rotated_badge_token_no_longer_connects(people):
    old = people["bo_badge"].badge_token
    badges.rotate(people["bo_badge"])

    with pytest.raises(connections.UnknownBadge):
        connections.record_scan(people["ana"], old, "c-1")
    assert connections.record_scan(people["ana"], people["bo_badge"].badge_token, "c-2").created


def test_a_code_used_at_two_of_my_events_needs_the_event(people, ctx):
    ana, bo = people["ana"], people["bo"]
    second = db.session.get(Event, make_event(ctx, people["world"].organizer, "Second Mixer").id)
    events.add_attendee(second, ana)
    carla = db.session.get(User, make_user(ctx, "carla@example.com").id)
    carla_badge = events.add_attendee(second, carla)
    carla_badge.badge_code = people["bo_badge"].badge_code  # same code at another event
    db.session.flush()

    with pytest.raises(connections.AmbiguousBadge):
        connections.record_scan(ana, people["bo_badge"].badge_code, "c-1")
    result = connections.record_scan(ana, carla_badge.badge_code, "c-2", event_ref=second.slug)
    assert result.scan.scanned_id == carla.id
    result = connections.record_scan(ana, people["bo_badge"].badge_code, "c-3", event_ref=people["event"].slug)
    assert result.scan.scanned_id == bo.id


def test_organizers_may_scan_their_attendees(people):
    organizer = db.session.get(User, people["world"].organizer.id)

    result = connections.record_scan(organizer, people["bo_badge"].badge_token, "org-1")

    assert result.created


def test_tags_are_created_once_per_owner_and_attached_to_the_scanners_contact_only(people):
    ana, bo = people["ana"], people["bo"]
    connections.record_scan(ana, people["bo_badge"].badge_token, "c-1", tags=["Refer a client", " investor ", ""])
    connections.record_scan(ana, people["bo_badge"].badge_token, "c-2", tags=["INVESTOR"])

    mine = connections.contact_for(ana.id, bo.id)
    assert sorted(t.name for t in mine.tags) == ["Refer a client", "investor"]
    assert connections.contact_for(bo.id, ana.id).tags == []


def test_removing_a_contact_is_one_sided_and_meeting_again_restores_it(people):
    ana, bo = people["ana"], people["bo"]
    connections.record_scan(ana, people["bo_badge"].badge_token, "c-1")
    theirs = connections.contact_for(bo.id, ana.id)

    connections.remove_contact(bo, theirs)

    assert connections.contact_for(bo.id, ana.id) is None
    assert connections.contact_for(ana.id, bo.id) is not None
    connections.record_scan(ana, people["bo_badge"].badge_token, "c-2")
    assert connections.contact_for(bo.id, ana.id) is not None


def test_someone_elses_contact_cannot_be_removed(people):
    connections.record_scan(people["ana"], people["bo_badge"].badge_token, "c-1")
    with pytest.raises(NotFound):
        connections.remove_contact(people["bo"], connections.contact_for(people["ana"].id, people["bo"].id))


def test_blocking_hides_both_sides_and_stops_further_scans_either_way(people):
    ana, bo = people["ana"], people["bo"]
    connections.record_scan(ana, people["bo_badge"].badge_token, "c-1")

    connections.block(bo, ana.id)

    assert connections.contact_for(ana.id, bo.id) is None
    assert connections.contact_for(bo.id, ana.id) is None
    with pytest.raises(connections.NotAllowed):
        connections.record_scan(bo, people["ana_badge"].badge_token, "c-2")
    assert connections.scanned_me(bo) == []


def test_who_scanned_me_lists_scans_newest_first_with_my_entry(people):
    ana, bo = people["ana"], people["bo"]
    connections.record_scan(ana, people["bo_badge"].badge_token, "c-1", scanned_at=utcnow() - timedelta(hours=1))
    connections.record_scan(ana, people["bo_badge"].badge_token, "c-2")

    rows = connections.scanned_me(bo)

    assert [scan.client_id for scan, _ in rows] == ["c-2", "c-1"]
    assert all(contact.owner_id == bo.id for _, contact in rows)


def test_an_offline_upload_replayed_after_the_badge_was_replaced_still_gets_its_answer(people):
    ana, old_token = people["ana"], people["bo_badge"].badge_token
    first = connections.record_scan(ana, old_token, "offline-1")
    badges.rotate(people["bo_badge"])

    replay = connections.record_scan(ana, old_token, "offline-1")

    assert not replay.created and replay.scan.id == first.scan.id
    with pytest.raises(connections.ClientIdConflict):
        connections.record_scan(ana, people["world"].other_badge, "offline-1")


def test_a_scan_time_from_a_phone_clock_far_in_the_past_is_refused(people):
    long_before = people["event"].starts_at - timedelta(days=45)
    with pytest.raises(ValidationFailed):
        connections.record_scan(people["ana"], people["bo_badge"].badge_token, "c-1", scanned_at=long_before)
    earlier_today = utcnow() - timedelta(hours=2)  # the event starts within the month
    assert connections.record_scan(people["ana"], people["bo_badge"].badge_token, "c-2",
                                   scanned_at=earlier_today).scan.scanned_at == earlier_today


def test_a_replay_after_the_contact_was_removed_answers_without_a_contact(people):
    ana, bo = people["ana"], people["bo"]
    connections.record_scan(ana, people["bo_badge"].badge_token, "c-1")
    connections.remove_contact(ana, connections.contact_for(ana.id, bo.id))

    replay = connections.record_scan(ana, people["bo_badge"].badge_token, "c-1")

    assert not replay.created and replay.contact is None
