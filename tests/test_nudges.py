"""Reminders about contacts still waiting for a follow-up: when they are due
(with the clock passed in, across zones and daylight saving changes), the
cut-offs (two at most, none after acting, snoozing, removing or unsubscribing),
one email per person per day, and once however often and however concurrently
``send-due`` runs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import BASE_URL, at_once
from tests.factories import event_at, make_user, meet, reload
from webapp.extensions import db
from webapp.models import Contact, Event, OutboxMessage, User, utcnow
from webapp.services import connections, events, followups, nudges, schedule, unsubscribe

LISBON = ZoneInfo("Europe/Lisbon")
# The event ends at 22:00 on Wednesday 10 June 2026 in Lisbon (WEST, UTC+1).
ENDS = datetime(2026, 6, 10, 22, 0, tzinfo=LISBON)
DAY_3 = datetime(2026, 6, 13, 9, 0, tzinfo=LISBON).astimezone(UTC)
DAY_10 = datetime(2026, 6, 20, 9, 0, tzinfo=LISBON).astimezone(UTC)


def nudge_rows(recipient: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.kind == "nudge").order_by(OutboxMessage.id)
    if recipient is not None:
        query = query.where(OutboxMessage.recipient == recipient)
    return list(db.session.scalars(query))


def run(now: datetime) -> int:
    sent = nudges.queue_due(now)
    db.session.commit()
    return sent


def contact_of(owner_id: int, user_id: int) -> Contact:
    return connections.contact_for(owner_id, user_id)


@pytest.fixture
def met(ctx):
    """Ann met Bob then Cat at a Lisbon event that ended at ENDS; Bob's and
    Cat's own contacts of Ann come from the same scans. Returns the users."""
    organizer = make_user(ctx, role="organizer")
    users = {key: make_user(ctx, f"{key}@example.com", name=name, headline=headline, timezone="Europe/Lisbon")
             for key, name, headline in [("ann", "Ann Archer", "Product lead"), ("bob", "Bob Baker", "Designer"),
                                         ("cat", "Cat Cole", "CTO")]}
    event = event_at(organizer.id, ENDS - timedelta(hours=3), ENDS, "Europe/Lisbon", name="Harbour Mixer")
    for user in users.values():
        events.add_attendee(event, user)
    meet(event, users["ann"], users["bob"], 10, note="Wants a pilot in May")
    meet(event, users["ann"], users["cat"], 90, note="Hiring two engineers")
    db.session.commit()
    return {"event": event, **users}


# --- When ---------------------------------------------------------------------------------


def test_reminders_are_due_at_nine_local_on_day_3_and_day_10(met):
    assert nudges.due_times(met["event"]) == [DAY_3, DAY_10]
    assert nudges.due_times(met["event"])[0] == datetime(2026, 6, 13, 8, 0, tzinfo=UTC)  # 09:00 WEST
    assert nudges.due_reminder(met["event"], DAY_3 - timedelta(seconds=1)) == 0
    assert nudges.due_reminder(met["event"], DAY_3) == 1
    assert nudges.due_reminder(met["event"], DAY_10) == 2


@pytest.mark.parametrize(("zone", "ends_local", "first_local", "first_utc"), [
    # Daylight saving ends in Lisbon on Sunday 25 Oct 2026: 09:00 WET is 09:00 UTC, not 08:00.
    ("Europe/Lisbon", datetime(2026, 10, 22, 21, 0), datetime(2026, 10, 25, 9, 0), datetime(2026, 10, 25, 9, 0)),
    # Daylight saving starts in New York on Sunday 8 Mar 2026: 09:00 EDT is 13:00 UTC, not 14:00.
    ("America/New_York", datetime(2026, 3, 5, 20, 0), datetime(2026, 3, 8, 9, 0), datetime(2026, 3, 8, 13, 0)),
    ("Asia/Tokyo", datetime(2026, 6, 10, 23, 30), datetime(2026, 6, 13, 9, 0), datetime(2026, 6, 13, 0, 0)),
    # Ending after local midnight counts from the day it ended.
    ("Europe/Lisbon", datetime(2026, 6, 11, 0, 30), datetime(2026, 6, 14, 9, 0), datetime(2026, 6, 14, 8, 0)),
])
def test_the_first_reminder_is_nine_event_local_across_zones_and_dst(ctx, zone, ends_local, first_local, first_utc):
    owner = make_user(ctx, role="organizer")
    tz = ZoneInfo(zone)
    ends = ends_local.replace(tzinfo=tz)
    event = event_at(owner.id, ends - timedelta(hours=2), ends, zone)

    first, second = nudges.due_times(event)
    assert first == first_local.replace(tzinfo=tz).astimezone(UTC) == first_utc.replace(tzinfo=UTC)
    assert second.astimezone(tz).replace(tzinfo=None) == first_local + timedelta(days=7)


def test_a_delayed_recap_delays_the_reminders_with_it(ctx):
    owner = make_user(ctx, role="organizer")
    event = event_at(owner.id, ENDS - timedelta(hours=3), ENDS, "Europe/Lisbon",
                     followup_delay_minutes=5 * 24 * 60)  # recap on 15 June, 22:00
    first, second = nudges.due_times(event)
    assert first == datetime(2026, 6, 17, 9, 0, tzinfo=LISBON)  # two days after the recap's day
    assert second == datetime(2026, 6, 24, 9, 0, tzinfo=LISBON)


def test_the_schedule_is_a_setting(app, met):
    app.config["NUDGE_DAYS"] = (2,)
    assert nudges.due_times(met["event"]) == [datetime(2026, 6, 12, 9, 0, tzinfo=LISBON)]
    assert run(datetime(2026, 6, 12, 9, 0, tzinfo=LISBON)) == 3
    assert run(DAY_10) == 0  # one reminder only


# --- Who gets one, and how many --------------------------------------------------------------


def test_day_3_and_day_10_then_never_again(met):
    assert run(DAY_3 - timedelta(minutes=1)) == 0
    assert run(DAY_3) == 3  # Ann (Bob, Cat), Bob (Ann), Cat (Ann)
    assert run(DAY_3 + timedelta(hours=6)) == 0  # same day: already sent
    assert run(DAY_3 + timedelta(days=1)) == 0  # reminder 1 is counted on the contacts
    assert run(DAY_10) == 3
    for later in (timedelta(days=1), timedelta(days=7), timedelta(days=30)):
        assert run(DAY_10 + later) == 0
    ann = nudge_rows("ann@example.com")
    assert [r.dedupe_key for r in ann] == [f"nudge:{met['ann'].id}:2026-06-13", f"nudge:{met['ann'].id}:2026-06-20"]
    assert {c.nudges_sent for c in db.session.scalars(select(Contact))} == {2}


def test_a_late_reminder_is_skipped_not_sent(met):
    assert run(DAY_3 + nudges.STALE_AFTER + timedelta(minutes=1)) == 0
    assert run(DAY_10) == 3  # the second one still goes, once
    assert run(DAY_10 + nudges.STALE_AFTER + timedelta(days=1)) == 0


def test_acting_on_a_contact_stops_its_reminders(met):
    ann, bob, cat = met["ann"], met["bob"], met["cat"]
    followups.mark_followed_up(contact_of(ann.id, bob.id), now=DAY_3 - timedelta(days=1))
    followups.snooze(contact_of(bob.id, ann.id), now=DAY_3 - timedelta(days=1))  # snooze ends before day 10
    followups.keep_in_touch(contact_of(cat.id, ann.id), 30, now=DAY_3 - timedelta(days=1))
    db.session.commit()

    assert run(DAY_3) == 1
    (row,) = nudge_rows()
    assert row.recipient == "ann@example.com"
    assert "Cat Cole" in row.text_body and "Bob Baker" not in row.text_body
    followups.mark_followed_up(contact_of(ann.id, cat.id), now=DAY_3 + timedelta(days=1))
    db.session.commit()
    assert run(DAY_10) == 0


def test_removed_contacts_cancelled_events_and_other_sources_get_none(met):
    ann, bob = met["ann"], met["bob"]
    connections.remove_contact(ann, contact_of(ann.id, bob.id))
    met["event"].cancelled_at = ENDS
    db.session.add(Contact(owner_id=bob.id, source="manual", name="Imported Ida", email="ida@example.com"))
    db.session.commit()
    assert run(DAY_3) == 0


@pytest.mark.parametrize("switch_off", ["preferences", "unsubscribe_link", "unsubscribe_all", "disabled"])
def test_nobody_who_switched_reminders_off_gets_one(met, switch_off):
    ann = met["ann"]
    if switch_off == "preferences":
        unsubscribe.set_preferences(ann, recaps=True, nudges=False, digests=True)
    elif switch_off.startswith("unsubscribe"):
        token = unsubscribe.link(ann, "nudges" if switch_off == "unsubscribe_link" else "all").rsplit("/", 1)[1]
        unsubscribe.apply(token)
    else:
        ann.is_disabled = True
    db.session.commit()

    assert run(DAY_3) == 2
    assert nudge_rows("ann@example.com") == []


def test_everything_due_on_one_day_comes_in_one_email(met):
    """Ann also met Dan at a Tokyo event whose day-3 reminder falls on the same
    Lisbon day as the Harbour Mixer's: one email lists both, newest event first."""
    ann = met["ann"]
    dan = make_user(None, "dan@example.com", name="Dan Dune")
    tokyo_end = datetime(2026, 6, 10, 21, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # day 3: 13 June 00:00 UTC
    tokyo = event_at(met["event"].owner_id, tokyo_end - timedelta(hours=2), tokyo_end, "Asia/Tokyo",
                     name="Tokyo Tech Night")
    for user in (ann, dan):
        events.add_attendee(tokyo, user)
    meet(tokyo, ann, dan, 30, note="Robotics startup")
    db.session.commit()

    assert run(DAY_3) == 4  # Ann once; Bob, Cat and Dan once each
    (row,) = nudge_rows("ann@example.com")
    assert row.dedupe_key == f"nudge:{ann.id}:2026-06-13"
    assert row.subject == "Still to follow up: Cat Cole and 2 others"
    for body in (row.text_body, row.html_body):
        assert body.index("Harbour Mixer") < body.index("Tokyo Tech Night")  # ended later, listed first
        assert body.index("Cat Cole") < body.index("Bob Baker") < body.index("Dan Dune")
        assert "Robotics startup" in body and "Hiring two engineers" in body


def test_the_day_is_the_recipients_own(met):
    """At 23:30 UTC it is already the next day in Tokyo: the key names the recipient's date."""
    bob = met["bob"]
    bob.timezone = "Asia/Tokyo"
    db.session.commit()
    at = datetime(2026, 6, 13, 23, 30, tzinfo=UTC)
    assert nudges.dedupe_key(bob, at) == f"nudge:{bob.id}:2026-06-14"
    assert nudges.dedupe_key(met["ann"], at) == f"nudge:{met['ann'].id}:2026-06-14"  # Lisbon: 00:30
    assert nudges.dedupe_key(met["ann"], at - timedelta(hours=1)) == f"nudge:{met['ann'].id}:2026-06-13"


def test_a_contact_left_out_by_another_run_waits_for_the_next_day(met):
    """Ann's email for the day is already recorded (by a run that saw only
    Bob): Cat is not dropped, she comes in the next day's email."""
    ann = met["ann"]
    db.session.add(OutboxMessage(dedupe_key=nudges.dedupe_key(ann, DAY_3), kind="nudge", recipient=ann.email,
                                 subject="s", text_body="t", html_body="h"))
    db.session.commit()
    assert run(DAY_3) == 2  # Bob and Cat; Ann's key was taken
    assert {c.nudges_sent for c in db.session.scalars(select(Contact).filter_by(owner_id=ann.id))} == {0}
    assert run(DAY_3 + timedelta(days=1)) == 1
    assert "Cat Cole" in nudge_rows("ann@example.com")[-1].text_body


# --- What it says ------------------------------------------------------------------------------


def test_the_reminder_has_drafts_actions_and_the_unsubscribe_headers(met):
    met["bob"].share_email = False
    db.session.commit()
    run(DAY_10)
    (row,) = nudge_rows("ann@example.com")
    assert "List-Unsubscribe: <" + BASE_URL + "/unsubscribe/" in row.extra_headers
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in row.extra_headers
    for body in (row.text_body, row.html_body):
        assert "bob@example.com" not in body and "bob%40example.com" not in body  # Bob doesn't share it
        assert "Wants a pilot in May" in body and "Mark followed up" in body and "Snooze 3 days" in body
        assert "last reminder" in body
        assert BASE_URL + "/follow-ups" in body


def test_a_draft_names_the_email_only_when_it_is_shared(met):
    met["bob"].share_email = False
    db.session.commit()
    run(DAY_3)
    (row,) = nudge_rows("ann@example.com")
    mailtos = re.findall(r"mailto:\S*", row.text_body)
    assert mailtos[0].startswith("mailto:cat@example.com?") and mailtos[1].startswith("mailto:?")


# --- Once, whatever happens -------------------------------------------------------------------------


@pytest.fixture
def due_now(app):
    """Ann met Bob at an event that ended four days ago: reminder 1 is due now."""
    organizer = make_user(app, role="organizer")
    ann = make_user(app, "ann@example.com", name="Ann Archer")
    bob = make_user(app, "bob@example.com", name="Bob Baker")
    with app.app_context():
        end = utcnow().replace(microsecond=0) - timedelta(days=4)
        event = event_at(organizer.id, end - timedelta(hours=3), end, "UTC")
        for user in (ann, bob):
            events.add_attendee(event, db.session.get(User, user.id))
        meet(event, db.session.get(User, ann.id), db.session.get(User, bob.id), 20)
        db.session.commit()
        assert nudges.due_reminder(event, utcnow()) == 1
        return {"event": event.id, "ann": ann.id, "bob": bob.id}


def test_send_due_twice_sends_one_reminder_each(app, runner, outbox, due_now):
    for _ in range(2):
        result = runner.invoke(args=["send-due"])
        assert result.exit_code == 0, result.output
    assert "nudges_queued=" in result.output
    with app.app_context():
        assert len(nudge_rows()) == 2
    nudged = [m for m in outbox.messages if m["Subject"].startswith("Still to follow up")]
    assert sorted(m["To"] for m in nudged) == ["ann@example.com", "bob@example.com"]


def test_two_workers_at_once_send_one_reminder_each(app, outbox, due_now):
    at_once(app, schedule.run_due)

    with app.app_context():
        assert len(nudge_rows()) == 2
        assert {c.nudges_sent for c in db.session.scalars(select(Contact))} == {1}
    nudged = [m for m in outbox.messages if m["Subject"].startswith("Still to follow up")]
    assert sorted(m["To"] for m in nudged) == ["ann@example.com", "bob@example.com"]


def test_a_worker_that_dies_before_its_commit_drops_nothing(app, outbox, due_now):
    with app.app_context():
        assert nudges.queue_due(utcnow()) == 2
        db.session.rollback()  # the process died here
    with app.app_context():
        assert nudge_rows() == [] and {c.nudges_sent for c in db.session.scalars(select(Contact))} == {0}
        schedule.run_due()
        assert len(nudge_rows()) == 2
    assert len([m for m in outbox.messages if m["Subject"].startswith("Still to follow up")]) == 2


def test_a_reminder_arrives_over_smtp_and_its_links_work(app, client, auth, smtp, due_now):
    with app.app_context():
        event = db.session.get(Event, due_now["event"])
        event.recaps_queued_at = event.ends_at  # the recap went out days ago
        db.session.commit()
        report = schedule.run_due()
    assert report["nudges_queued"] == 2 and report["sent"] == 2

    (message,) = smtp.to("ann@example.com")
    assert message.get_content_type() == "multipart/alternative"
    assert str(message["Subject"]) == "Still to follow up: Bob Baker"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "mailto:" in message["List-Unsubscribe"]
    text = message.get_body(("plain",)).get_content()
    links = sorted(set(re.findall(re.escape(BASE_URL) + r"[^\s\"<>]+", text)))
    auth.as_user(reload(app, User, due_now["ann"]))
    for link in links:
        response = client.get(link.removeprefix(BASE_URL), follow_redirects=True)
        assert response.status_code == 200, link

    unsubscribe_url = re.search(r"<(https?://[^>]+)>", message["List-Unsubscribe"]).group(1)
    client.post(unsubscribe_url.removeprefix(BASE_URL), data={"List-Unsubscribe": "One-Click"})
    assert reload(app, User, due_now["ann"]).email_nudges is False
    assert reload(app, User, due_now["ann"]).email_recaps is True


def test_people_are_composed_in_batches_with_the_same_result(met, monkeypatch):
    monkeypatch.setattr(nudges, "OWNER_BATCH", 1)
    assert run(DAY_3) == 3
    assert sorted(r.recipient for r in nudge_rows()) == ["ann@example.com", "bob@example.com", "cat@example.com"]
    assert "Cat Cole" in nudge_rows("ann@example.com")[0].text_body


def test_a_day_with_nothing_due_reads_no_contacts(met):
    assert nudges.due_events(DAY_3 - timedelta(hours=1)) == {}
    assert nudges.due_events(DAY_3) == {met["event"].id: 1}
