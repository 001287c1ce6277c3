"""Keeping in touch: which cadence applies, that every kind of touch restarts
the clock (logged, followed up, met again at an event), snoozing, who is due,
and the Reactivate suggestion. The clock is passed in or the dates are fixed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import event_at, make_user, meet
from webapp.extensions import db
from webapp.models import Contact, Interaction, utcnow
from webapp.services import ValidationFailed, cadences, connections, events, followups, tags


def contact(owner, name="Ada Lovelace", *, touched: datetime | None = None, source="manual", state="done",
            **fields) -> Contact:
    entry = Contact(owner_id=owner.id, name=name, source=source, state=state, last_touched_at=touched, **fields)
    db.session.add(entry)
    db.session.flush()
    return entry


def losing_touch(owner) -> list[Contact]:
    return list(db.session.scalars(cadences.losing_touch_query(owner)))


@pytest.fixture
def owner(ctx):
    return make_user(ctx, name="Olive Owner")


# --- Which cadence, and when the reminder falls -----------------------------------------------


@pytest.mark.parametrize(("touched", "days", "due"), [
    # Across the end of a 31-day month, February in a common year and in a leap year, and the year's end.
    (datetime(2027, 1, 31, 10, 0, tzinfo=UTC), 30, datetime(2027, 3, 2, 10, 0, tzinfo=UTC)),
    (datetime(2028, 1, 31, 10, 0, tzinfo=UTC), 30, datetime(2028, 3, 1, 10, 0, tzinfo=UTC)),
    (datetime(2027, 2, 28, 23, 30, tzinfo=UTC), 1, datetime(2027, 3, 1, 23, 30, tzinfo=UTC)),
    (datetime(2026, 11, 30, 9, 0, tzinfo=UTC), 90, datetime(2027, 2, 28, 9, 0, tzinfo=UTC)),
    (datetime(2026, 12, 31, 18, 0, tzinfo=UTC), 14, datetime(2027, 1, 14, 18, 0, tzinfo=UTC)),
])
def test_the_next_reminder_is_the_last_touch_plus_the_cadence_across_month_ends(owner, touched, days, due):
    entry = contact(owner, touched=touched)
    cadences.set_contact_cadence(entry, days)
    assert entry.next_reminder_at == due


def test_a_contacts_own_cadence_wins_over_its_tags_and_the_shortest_tag_wins_otherwise(owner):
    touched = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    entry = contact(owner, touched=touched)
    tags.replace(entry, ["Former colleagues", "Clients"])
    assert entry.next_reminder_at is None  # no cadence anywhere: no reminder

    cadences.set_tag_cadence(tags.find(owner.id, "former colleagues"), 90)
    assert entry.next_reminder_at == touched + timedelta(days=90)
    cadences.set_tag_cadence(tags.find(owner.id, "Clients"), 45)
    assert entry.next_reminder_at == touched + timedelta(days=45)
    cadences.set_contact_cadence(entry, 180)
    assert entry.next_reminder_at == touched + timedelta(days=180)
    cadences.set_contact_cadence(entry, None)  # back to its tags
    assert entry.next_reminder_at == touched + timedelta(days=45)


def test_a_tag_cadence_reaches_only_live_contacts_with_that_tag(owner):
    tagged, other, removed = contact(owner, "A"), contact(owner, "B"), contact(owner, "C")
    tags.replace(tagged, ["VIP"])
    tags.replace(removed, ["VIP"])
    removed.deleted_at = utcnow()
    assert cadences.set_tag_cadence(tags.find(owner.id, "vip"), 30) == 1
    assert tagged.next_reminder_at is not None and other.next_reminder_at is None


def test_untagging_or_deleting_the_tag_takes_the_reminder_away(owner):
    entry = contact(owner, touched=utcnow())
    tags.replace(entry, ["Mentors"])
    tag = tags.find(owner.id, "Mentors")
    cadences.set_tag_cadence(tag, 60)
    assert entry.next_reminder_at is not None
    tags.untag_many(owner, [entry.id], tag)
    assert entry.next_reminder_at is None
    tags.tag_many(owner, [entry.id], "Mentors")
    assert entry.next_reminder_at is not None
    tags.remove(tag)
    assert entry.next_reminder_at is None and entry.tags == []


@pytest.mark.parametrize("days", [0, -3, 731, True, "30"])
def test_a_cadence_must_be_1_to_730_days(owner, days):
    with pytest.raises(ValidationFailed):
        cadences.set_contact_cadence(contact(owner), days)


# --- Any touch resets the clock ----------------------------------------------------------------


def test_logging_a_touch_records_it_and_restarts_the_clock(owner):
    entry = contact(owner, touched=datetime(2026, 1, 10, tzinfo=UTC))
    cadences.set_contact_cadence(entry, 30)
    at = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)

    cadences.log_touch(entry, "referral", at=at, note="Sent them the Acme lead")

    assert entry.last_touched_at == at and entry.next_reminder_at == at + timedelta(days=30)
    (logged,) = cadences.history(entry)
    assert (logged.kind, logged.at, logged.note) == ("referral", at, "Sent them the Acme lead")


def test_a_back_dated_touch_joins_the_history_but_does_not_move_the_clock_back(owner):
    recent = datetime(2026, 6, 1, tzinfo=UTC)
    entry = contact(owner, touched=recent)
    cadences.set_contact_cadence(entry, 30)
    cadences.log_touch(entry, "call", at=datetime(2026, 4, 1, tzinfo=UTC))
    assert entry.last_touched_at == recent and entry.next_reminder_at == recent + timedelta(days=30)
    assert [i.kind for i in cadences.history(entry)] == ["call"]


@pytest.mark.parametrize(("kind", "at", "note"), [
    ("dance", None, ""), ("call", utcnow() + timedelta(days=2), ""), ("call", None, "x" * 2001),
    ("call", datetime(2026, 1, 1), ""),  # no time zone
])
def test_a_bad_touch_is_refused_and_nothing_is_recorded(owner, kind, at, note):
    entry = contact(owner)
    with pytest.raises(ValidationFailed):
        cadences.log_touch(entry, kind, at=at, note=note)
    assert cadences.history(entry) == []


def test_marking_a_follow_up_done_is_a_touch(owner):
    entry = contact(owner, touched=datetime(2026, 1, 1, tzinfo=UTC), state="new")
    cadences.set_contact_cadence(entry, 14)
    now = utcnow()
    followups.mark_followed_up(entry, now=now)
    assert entry.next_reminder_at == now + timedelta(days=14)
    assert [i.kind for i in cadences.history(entry)] == ["followed_up"]


def test_meeting_again_at_an_event_is_a_touch_on_both_sides(ctx, owner):
    friend = make_user(ctx, name="Fran Friend")
    organizer = make_user(ctx, role="organizer")
    start = utcnow().replace(microsecond=0) - timedelta(hours=2)
    first = event_at(organizer.id, start - timedelta(days=200), start - timedelta(days=200) + timedelta(hours=3),
                     "UTC", name="Spring Summit")
    second = event_at(organizer.id, start, start + timedelta(hours=3), "UTC", name="Autumn Mixer")
    for event in (first, second):
        for user in (owner, friend):
            events.add_attendee(event, user)
    meet(first, owner, friend, 30)
    mine = connections.contact_for(owner.id, friend.id)
    theirs = connections.contact_for(friend.id, owner.id)
    cadences.set_contact_cadence(mine, 90)
    cadences.set_contact_cadence(theirs, 30)
    assert mine.next_reminder_at < utcnow() and theirs.next_reminder_at < utcnow()  # both overdue
    assert db.session.query(Interaction).count() == 0  # meeting the first time is "how we met", not a touch

    meet(second, owner, friend, 45)

    met_again = second.starts_at + timedelta(minutes=45)
    assert mine.next_reminder_at == met_again + timedelta(days=90)
    assert theirs.next_reminder_at == met_again + timedelta(days=30)
    assert [(i.kind, i.event_id) for i in cadences.history(mine)] == [("met", second.id)]
    assert [(i.kind, i.event_id) for i in cadences.history(theirs)] == [("met", second.id)]


# --- Who is due ------------------------------------------------------------------------------------


def test_due_lists_the_most_overdue_first_and_snoozing_moves_one_out(owner):
    now = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    a = contact(owner, "A", touched=now - timedelta(days=40))  # due 10 days ago
    b = contact(owner, "B", touched=now - timedelta(days=100))  # due 70 days ago
    c = contact(owner, "C", touched=now - timedelta(days=5))  # due in 25 days
    d = contact(owner, "D", touched=now - timedelta(days=400))  # no cadence
    for entry in (a, b, c):
        cadences.set_contact_cadence(entry, 30)

    assert cadences.due(owner, now) == [b, a]
    assert cadences.due_count(owner, now) == 2
    assert losing_touch(owner) == [b, a, c]
    assert d not in losing_touch(owner)

    cadences.snooze(b, now=now)
    assert cadences.due(owner, now) == [a]
    assert b.next_reminder_at == now + timedelta(days=cadences.SNOOZE_DAYS)
    assert b.last_touched_at == now - timedelta(days=100)  # a snooze is not a touch


def test_someone_elses_and_removed_contacts_are_never_due_for_me(ctx, owner):
    other = make_user(ctx)
    now = utcnow()
    theirs = contact(other, touched=now - timedelta(days=60))
    gone = contact(owner, touched=now - timedelta(days=60))
    for entry in (theirs, gone):
        cadences.set_contact_cadence(entry, 30)
    gone.deleted_at = now
    assert cadences.due(owner, now) == [] and losing_touch(owner) == []


def test_the_digest_stays_off_until_a_cadence_exists(owner):
    assert cadences.has_cadence(owner) is False
    entry = contact(owner)
    tags.replace(entry, ["Friends"])
    assert cadences.has_cadence(owner) is False
    cadences.set_tag_cadence(tags.find(owner.id, "Friends"), 60)
    assert cadences.has_cadence(owner) is True


# --- Reactivate ----------------------------------------------------------------------------------------


def test_reactivate_suggests_people_untouched_for_six_months_and_tags_them(owner):
    now = datetime(2026, 9, 1, tzinfo=UTC)
    stale = contact(owner, "Stale", touched=now - timedelta(days=200))
    imported = contact(owner, "Imported", source="import", created_at=now - timedelta(days=30))  # no known touch
    recent = contact(owner, "Recent", touched=now - timedelta(days=20))
    added = contact(owner, "Added just now")  # manual, no known touch: not assumed stale
    kept = contact(owner, "Kept", touched=now - timedelta(days=300))
    cadences.set_contact_cadence(kept, 90)  # already has a reminder

    assert cadences.reactivation_count(owner, now) == 2
    assert cadences.reactivate(owner, now) == 2

    tag = tags.find(owner.id, cadences.REACTIVATE_TAG)
    assert tag.cadence_days == cadences.REACTIVATE_CADENCE
    assert [t.name for t in stale.tags] == [cadences.REACTIVATE_TAG] and tag in imported.tags
    assert recent.tags == [] and added.tags == [] and kept.tags == []
    assert set(cadences.due(owner, now)) == {stale, imported, kept}
    assert cadences.reactivation_count(owner, now) == 0
    assert cadences.reactivate(owner, now) == 0
