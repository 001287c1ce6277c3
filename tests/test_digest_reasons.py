"""One concrete reason per due contact, the best the data allows: each test
gives the data that makes one kind the top choice, with the data for the
lower kinds present and the data for the higher kinds absent."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event as sa_event

from tests.factories import event_at, make_user
from tests.test_digest import MONDAY, add_contact, digest_rows, run
from webapp.extensions import db
from webapp.models import Contact, User
from webapp.services import events, reasons

LISBON = ZoneInfo("Europe/Lisbon")


def reason_for(user: User, contact: Contact, now: datetime = MONDAY) -> reasons.Reason:
    context = reasons.contexts([user.id], [contact], now)[user.id]
    return reasons.reason_for(user, contact, context)


@pytest.fixture
def people(ctx):
    """Ann (with a headline of her own) is due to get back in touch with Bob, a
    member who says what he does and what he's looking for."""
    organizer = make_user(ctx, role="organizer")
    ann = make_user(ctx, "ann@example.com", name="Ann Archer", timezone="Europe/Lisbon",
                    headline="Head of Growth", company="Loopcraft")
    bob = make_user(ctx, "bob@example.com", name="Bob Baker", headline="CTO", company="Acme",
                    looking_for="a seed investor for our climate startup.")
    contact = add_contact(ctx, ann, bob, touched=MONDAY - timedelta(days=125))
    return {"organizer": organizer, "ann": ann, "bob": bob, "contact": contact}


def upcoming(people, name: str, starts: datetime, zone: str = "Europe/Lisbon", *, who=("ann",)):
    event = event_at(people["organizer"].id, starts, starts + timedelta(hours=3), zone, name=name)
    for key in who:
        events.add_attendee(event, people[key])
    db.session.commit()
    return event


def test_both_going_to_an_upcoming_event_comes_first(people):
    upcoming(people, "Early Breakfast", datetime(2026, 6, 18, 8, 0, tzinfo=LISBON))  # Ann only, sooner
    mixer = upcoming(people, "Harbour Mixer", datetime(2026, 6, 25, 19, 0, tzinfo=LISBON), who=("ann", "bob"))

    reason = reason_for(people["ann"], people["contact"])
    assert reason == reasons.Reason(reasons.TOGETHER,
                                    "You're both going to Harbour Mixer on Thu 25 Jun — plan to meet.", mixer)
    assert run(MONDAY) == 1  # ... and the digest before the event says so
    assert "You're both going to Harbour Mixer on Thu 25 Jun" in digest_rows()[0].text_body


def test_an_upcoming_event_of_the_users_is_an_invitation(people):
    # Not counted: a cancelled one, one more than 30 days away, one already started,
    # one Ann only organizes, and one only Bob goes to.
    cancelled = upcoming(people, "Called Off", datetime(2026, 6, 16, 18, 0, tzinfo=LISBON))
    cancelled.cancelled_at = MONDAY
    upcoming(people, "Far Away", MONDAY + reasons.EVENT_HORIZON + timedelta(hours=1))
    upcoming(people, "Started", MONDAY - timedelta(hours=1), who=("ann", "bob"))
    event_at(people["ann"].id, MONDAY + timedelta(days=2), MONDAY + timedelta(days=2, hours=2), "Europe/Lisbon",
             name="Ann Organizes")
    upcoming(people, "Bob's Meetup", datetime(2026, 6, 17, 18, 0, tzinfo=LISBON), who=("bob",))
    assert reason_for(people["ann"], people["contact"]).kind == reasons.LOOKING_FOR

    # 16:30 UTC on 25 June is already Friday 26 June in Tokyo: the event's own date.
    tokyo = upcoming(people, "Tokyo Tech Night", datetime(2026, 6, 25, 16, 30, tzinfo=ZoneInfo("UTC")),
                     "Asia/Tokyo")
    assert reason_for(people["ann"], people["contact"]) == reasons.Reason(
        reasons.INVITE, "Invite them to Tokyo Tech Night on Fri 26 Jun.", tokyo)


def test_what_they_are_looking_for_comes_next(people):
    assert reason_for(people["ann"], people["contact"]) == reasons.Reason(
        reasons.LOOKING_FOR, "They're looking for a seed investor for our climate startup — know someone?")


def test_their_current_headline_comes_next(people):
    people["bob"].looking_for = "  "
    assert reason_for(people["ann"], people["contact"]) == reasons.Reason(
        reasons.HEADLINE, "They're now CTO at Acme — ask how it's going.")
    people["bob"].headline = ""
    assert reason_for(people["ann"], people["contact"]).text == "They're now at Acme — ask how it's going."


def test_the_users_own_news_comes_next(ctx, people):
    bob = people["bob"]
    bob.looking_for = bob.headline = bob.company = ""
    # An imported contact's typed-in details are not who they are *now*: not a reason.
    imported = add_contact(ctx, people["ann"], name="Ida Imported", headline="Partner", company="Old Firm",
                           touched=MONDAY - timedelta(days=90))
    expected = reasons.Reason(reasons.NEWS, "Share your news: you're now Head of Growth at Loopcraft.")
    assert reason_for(people["ann"], people["contact"]) == expected
    assert reason_for(people["ann"], imported) == expected


def test_otherwise_how_long_it_has_been(ctx, people):
    ann, bob = people["ann"], people["bob"]
    ann.headline = ann.company = bob.looking_for = bob.headline = bob.company = ""
    assert reason_for(ann, people["contact"]) == reasons.Reason(
        reasons.HELLO, "It's been 4 months since you were in touch — say hello.")
    never = add_contact(ctx, ann, name="Nia New", touched=None)
    assert reason_for(ann, never).text == "You haven't been in touch since you added them — say hello."


def test_a_long_looking_for_is_shortened(people):
    people["bob"].looking_for = "word " * 80
    text = reason_for(people["ann"], people["contact"]).text
    assert len(text) < 200 and "…" in text


def test_reasons_for_many_people_take_the_same_few_queries(ctx, people):
    """Candidates, due contacts and reasons are loaded in batches: the number
    of queries doesn't grow with the number of recipients or contacts."""
    def statements(now: datetime) -> int:
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        sa_event.listen(db.engine, "before_cursor_execute", listener)
        try:
            run(now)
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    upcoming(people, "Harbour Mixer", datetime(2026, 6, 25, 19, 0, tzinfo=LISBON), who=("ann", "bob"))
    few = statements(MONDAY)
    for _ in range(6):
        owner = make_user(ctx, timezone="Europe/Lisbon", headline="Founder")
        for m in range(3):
            add_contact(ctx, owner, make_user(ctx, looking_for="clients"), touched=MONDAY - timedelta(days=40 + m))
    many = statements(MONDAY + timedelta(days=7))
    assert len(digest_rows()) == 1 + 1 + 6
    assert many == few


def test_one_upcoming_event_is_the_reason_for_the_most_overdue_few_only(people):
    """With one event coming up, "invite them" would be every line of the digest."""
    upcoming(people, "Harbour Mixer", datetime(2026, 6, 25, 19, 0, tzinfo=LISBON))
    others = [add_contact(None, people["ann"], name=f"Old Friend {n}",
                          touched=MONDAY - timedelta(days=200 - n)) for n in range(5)]
    db.session.commit()
    due = [people["contact"], *others]
    context = reasons.contexts([people["ann"].id], due, MONDAY)[people["ann"].id]

    kinds = [e.reason.kind for e in reasons.entries(people["ann"], due, context)]

    assert kinds[:reasons.MAX_INVITES] == [reasons.INVITE] * reasons.MAX_INVITES
    assert reasons.INVITE not in kinds[reasons.MAX_INVITES:]
    assert set(kinds[reasons.MAX_INVITES:]) <= {reasons.LOOKING_FOR, reasons.NEWS}
