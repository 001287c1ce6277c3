"""The morning-after recap: when it is due (across zones and daylight saving
changes, with the clock passed in), who gets one and what it says, that it is
recorded once however often and however concurrently ``send-due`` runs, and
that it arrives over real SMTP with links that work."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.conftest import BASE_URL, at_once
from tests.factories import event_at, make_user, meet, reload
from webapp.extensions import db
from webapp.models import Event, OutboxMessage, SuppressedAddress, User, utcnow
from webapp.services import connections, events, recaps, schedule


def make_past_event(owner_id: int, name: str = "Harbour Mixer", *, ended_hours_ago: int = 40,
                    timezone: str = "Europe/Lisbon", **extra) -> Event:
    end = utcnow().replace(microsecond=0) - timedelta(hours=ended_hours_ago)
    return events.create_event(db.session.get(User, owner_id), name, end - timedelta(hours=3), end, timezone, **extra)


def recap_rows(event_id: int | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.kind == "recap").order_by(OutboxMessage.recipient)
    if event_id is not None:
        query = query.where(OutboxMessage.dedupe_key.startswith(f"recap:{event_id}:"))
    return list(db.session.scalars(query))


@pytest.fixture
def party(app):
    """A past event (ended 40 hours ago, so its recap is due): Ann met Bob,
    then Cat; Dan came and met nobody. Returns the ids."""
    organizer = make_user(app, "org@example.com", name="Olga Organizer", role="organizer")
    people = {key: make_user(app, f"{key}@example.com", name=name, headline=headline, company=company)
              for key, name, headline, company in [
                  ("ann", "Ann Archer", "Product lead", "Acme"), ("bob", "Bob Baker", "Designer", "Bakery Co"),
                  ("cat", "Cat Cole", "CTO", "Cole Labs"), ("dan", "Dan Dune", "", "")]}
    with app.app_context():
        event = make_past_event(organizer.id)
        users = {key: db.session.get(User, p.id) for key, p in people.items()}
        for user in users.values():
            events.add_attendee(event, user)
        meet(event, users["ann"], users["bob"], 10, note="Wants a pilot in May", tags=["refer a client"])
        meet(event, users["ann"], users["cat"], 90, note="Hiring two engineers", tags=["introduce someone", "cto"])
        db.session.commit()
        ids = {key: u.id for key, u in users.items()}
        return {"event": event.id, "slug": event.slug, "organizer": organizer.id, **ids}


# --- When the recap is due --------------------------------------------------------------


@pytest.mark.parametrize(("zone", "ends_local", "due_local"), [
    ("Europe/Lisbon", datetime(2026, 6, 10, 22, 30), datetime(2026, 6, 11, 9, 0)),
    ("America/Los_Angeles", datetime(2026, 6, 10, 22, 30), datetime(2026, 6, 11, 9, 0)),
    ("Asia/Tokyo", datetime(2026, 6, 10, 22, 30), datetime(2026, 6, 11, 9, 0)),
    ("Pacific/Auckland", datetime(2026, 6, 10, 23, 59), datetime(2026, 6, 11, 9, 0)),
    # Ends after midnight: the morning after is the next local day after *that* day.
    ("Europe/Lisbon", datetime(2026, 6, 11, 0, 30), datetime(2026, 6, 12, 9, 0)),
    # Daylight saving starts (Lisbon, 29 Mar 2026 01:00 UTC): 09:00 WEST is 08:00 UTC.
    ("Europe/Lisbon", datetime(2026, 3, 28, 22, 0), datetime(2026, 3, 29, 9, 0)),
    # Daylight saving ends (New York, 1 Nov 2026): 09:00 EST is 14:00 UTC, not 13:00.
    ("America/New_York", datetime(2026, 10, 31, 22, 0), datetime(2026, 11, 1, 9, 0)),
])
def test_the_recap_is_due_at_nine_event_local_the_morning_after(ctx, zone, ends_local, due_local):
    owner = make_user(ctx, role="organizer")
    tz = ZoneInfo(zone)
    ends = ends_local.replace(tzinfo=tz)
    event = event_at(owner.id, ends - timedelta(hours=3), ends, zone)
    due = due_local.replace(tzinfo=tz).astimezone(UTC)

    assert events.followup_due_at(event) == due
    assert event not in recaps.due_events(due - timedelta(seconds=1))
    assert event in recaps.due_events(due)
    assert event in recaps.due_events(due + timedelta(days=3))


def test_the_dst_change_moves_the_utc_send_time_by_an_hour(ctx):
    owner = make_user(ctx, role="organizer")
    tz = ZoneInfo("Europe/Lisbon")
    before = event_at(owner.id, datetime(2026, 3, 27, 19, tzinfo=tz), datetime(2026, 3, 27, 22, tzinfo=tz), tz.key)
    after = event_at(owner.id, datetime(2026, 3, 28, 19, tzinfo=tz), datetime(2026, 3, 28, 22, tzinfo=tz), tz.key)

    assert events.followup_due_at(before) == datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    assert events.followup_due_at(after) == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)


def test_the_organizers_delay_replaces_the_default(ctx):
    owner = make_user(ctx, role="organizer")
    ends = datetime(2026, 6, 10, 21, 0, tzinfo=UTC)
    event = event_at(owner.id, ends - timedelta(hours=2), ends, "Asia/Tokyo", followup_delay_minutes=120)

    assert recaps.due_events(ends + timedelta(minutes=119)) == []
    assert recaps.due_events(ends + timedelta(minutes=120)) == [event]


def test_cancelled_queued_and_long_overdue_events_are_not_due(ctx):
    owner = make_user(ctx, role="organizer")
    ends = datetime(2026, 6, 10, 21, 0, tzinfo=UTC)
    cancelled = event_at(owner.id, ends - timedelta(hours=2), ends, "UTC", followup_delay_minutes=60)
    queued = event_at(owner.id, ends - timedelta(hours=2), ends, "UTC", followup_delay_minutes=60)
    due = event_at(owner.id, ends - timedelta(hours=2), ends, "UTC", followup_delay_minutes=60)
    cancelled.cancelled_at = ends - timedelta(hours=3)
    queued.recaps_queued_at = ends + timedelta(hours=1)
    db.session.flush()
    now = ends + timedelta(hours=2)

    assert recaps.due_events(now) == [due]
    assert recaps.due_events(now + recaps.STALE_AFTER + timedelta(hours=1)) == []


# --- Who gets what -----------------------------------------------------------------------


def test_each_attendee_with_contacts_gets_one_recap_and_the_others_none(app, party):
    with app.app_context():
        event = db.session.get(Event, party["event"])
        assert recaps.queue_recaps(event, utcnow()) == 3
        db.session.commit()
        rows = recap_rows()
        assert [r.recipient for r in rows] == ["ann@example.com", "bob@example.com", "cat@example.com"]
        assert {r.dedupe_key for r in rows} == {f"recap:{event.id}:{party[k]}" for k in ("ann", "bob", "cat")}
        assert db.session.get(Event, party["event"]).recaps_queued_at is not None


def test_the_recap_lists_contacts_most_recent_first_with_notes_and_tags(app, party):
    with app.app_context():
        recaps.queue_recaps(db.session.get(Event, party["event"]), utcnow())
        db.session.commit()
        ann = next(r for r in recap_rows() if r.recipient == "ann@example.com")

    assert ann.subject == "You met 2 people at Harbour Mixer"
    for body in (ann.text_body, ann.html_body):
        assert body.index("Cat Cole") < body.index("Bob Baker")  # met later, listed first
        assert "Hiring two engineers" in body and "Wants a pilot in May" in body
        assert "introduce someone" in body and "refer a client" in body
        assert "CTO" in body and "Cole Labs" in body and "Bakery Co" in body
        assert "mailto:" in body and "Mark followed up" in body and "Snooze 3 days" in body
        assert "Keep in touch every" in body
    assert "Dan Dune" not in ann.text_body


def test_a_removed_contact_is_left_out_and_nobody_else_notices(app, party):
    with app.app_context():
        bob = db.session.get(User, party["bob"])
        connections.remove_contact(bob, connections.contact_for(bob.id, party["ann"]))
        recaps.queue_recaps(db.session.get(Event, party["event"]), utcnow())
        db.session.commit()
        assert [r.recipient for r in recap_rows()] == ["ann@example.com", "cat@example.com"]


def test_preview_renders_without_queuing(app, party):
    with app.app_context():
        event = db.session.get(Event, party["event"])
        subject, text, html = recaps.preview(event, db.session.get(User, party["ann"]))
        assert subject == "You met 2 people at Harbour Mixer"
        assert "Cat Cole" in text and "Cat Cole" in html
        with pytest.raises(recaps.RecapUnavailable):
            recaps.preview(event, db.session.get(User, party["dan"]))
        db.session.commit()
        assert recap_rows() == [] and db.session.get(Event, party["event"]).recaps_queued_at is None


def test_counts_follow_the_outbox_rows_of_that_event_only(app, party):
    with app.app_context():
        db.session.add(SuppressedAddress(email="cat@example.com", reason="550 test"))
        other = make_past_event(party["organizer"], "Other Mixer")
        db.session.add(OutboxMessage(dedupe_key=f"recap:{other.id}:1", kind="recap", recipient="x@example.com",
                                     subject="s", text_body="t", html_body="h"))
        event = db.session.get(Event, party["event"])
        assert recaps.counts(event) == {"scheduled": 0, "sent": 0, "failed": 0}
        recaps.queue_recaps(event, utcnow())
        db.session.commit()
        assert recaps.counts(event) == {"scheduled": 2, "sent": 0, "failed": 1}
    with app.app_context():
        schedule.run_due()
        assert recaps.counts(db.session.get(Event, party["event"])) == {"scheduled": 0, "sent": 2, "failed": 1}


# --- Once, whatever happens ----------------------------------------------------------------------


def test_send_due_twice_records_and_delivers_one_recap_each(app, runner, outbox, party):
    for _ in range(2):
        result = runner.invoke(args=["send-due"])
        assert result.exit_code == 0, result.output

    with app.app_context():
        assert len(recap_rows()) == 3
    assert sorted(m["To"] for m in outbox.messages) == ["ann@example.com", "bob@example.com", "cat@example.com"]


def test_two_workers_at_once_record_one_recap_each(app, outbox, party):
    at_once(app, schedule.run_due)

    with app.app_context():
        rows = recap_rows()
        assert len(rows) == 3 and {r.status for r in rows} == {"sent"}
    assert sorted(m["To"] for m in outbox.messages) == ["ann@example.com", "bob@example.com", "cat@example.com"]


class Died(Exception):
    """The worker's process ending between two batches."""


def test_a_worker_that_dies_mid_run_loses_nothing_and_the_next_run_finishes_after_its_lease(app, outbox, party):
    def die() -> None:
        raise Died

    with app.app_context():
        with pytest.raises(Died):  # after its first batch (of one recap) was committed
            recaps.compose_due_event(db.session.get(Event, party["event"]), utcnow(), batch_size=1, after_commit=die)
        db.session.rollback()
    with app.app_context():
        assert len(recap_rows()) == 1
        event = db.session.get(Event, party["event"])
        assert event.recaps_queued_at is None and event.recaps_claimed_at is not None
        assert recaps.run_due(utcnow()) == 0  # its lease still holds: nobody else composes meanwhile
        assert recaps.run_due(utcnow() + recaps.LEASE + timedelta(seconds=1)) == 2  # only the missing ones
        assert len(recap_rows()) == 3
        assert db.session.get(Event, party["event"]).recaps_queued_at is not None
        schedule.run_due()
    assert sorted(m["To"] for m in outbox.messages) == ["ann@example.com", "bob@example.com", "cat@example.com"]


def test_the_scheduled_run_commits_batch_by_batch_and_wakes_delivery_after_each(app, outbox, party):
    seen = []
    with app.app_context():
        def after_commit() -> None:
            with app.app_context():  # another session: only what was committed
                seen.append(len(recap_rows()))

        recaps.compose_due_event(db.session.get(Event, party["event"]), utcnow(), batch_size=2,
                                 after_commit=after_commit)
    assert seen == [2, 3]


def test_send_now_after_the_scheduled_run_adds_no_copies(app, party):
    with app.app_context():
        schedule.run_due()
        event = db.session.get(Event, party["event"])
        recaps.send_now(event, utcnow())
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 3


def test_send_now_waits_for_the_end_of_the_event(app):
    owner = make_user(app, role="organizer")
    with app.app_context():
        start = utcnow() + timedelta(days=1)
        event = events.create_event(db.session.get(User, owner.id), "Later", start, start + timedelta(hours=2), "UTC")
        with pytest.raises(recaps.RecapUnavailable):
            recaps.send_now(event, utcnow())


# --- Real SMTP and the organizer pages -------------------------------------------------------------


def test_a_recap_arrives_over_smtp_as_text_and_html_with_links_that_work(app, client, auth, smtp, party):
    with app.app_context():
        report = schedule.run_due()
        ids = {r.recipient: r.id for r in recap_rows()}
    assert report["recaps_queued"] == 3 and report["sent"] == 3

    (message,) = smtp.to("ann@example.com")
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert str(message["Subject"]) == "You met 2 people at Harbour Mixer"
    assert message["Message-ID"] == f"<outbox-{ids['ann@example.com']}@meetloop.test>"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Cat Cole" in text and "Cat Cole" in html
    mailtos = re.findall(r"mailto:\S+", text)
    assert len(mailtos) == 2 and "cat@example.com" in mailtos[0]

    links = set(re.findall(re.escape(BASE_URL) + r"[^\s\"<>]+", text))
    assert links and links <= {link.replace("&amp;", "&") for link in
                                re.findall(re.escape(BASE_URL) + r"[^\s\"<>]+", html)}
    auth.as_user(reload(app, User, party["ann"]))
    for link in sorted(links):
        response = client.get(link.removeprefix(BASE_URL), follow_redirects=True)
        assert response.status_code == 200, link


def test_organizer_previews_and_sends_now_with_csrf(app, client, auth, csrf, party):
    organizer = reload(app, User, party["organizer"])
    auth.as_user(organizer)
    slug = party["slug"]

    page = client.get(f"/events/{slug}/recaps")
    assert page.status_code == 200 and "Ann Archer" in page.get_data(as_text=True)
    assert "Dan Dune" not in page.get_data(as_text=True)  # met nobody: not offered for preview
    picked = client.get(f"/events/{slug}/recaps?attendee={party['ann']}")
    assert picked.status_code == 302 and picked.headers["Location"].endswith(f"/recaps/preview/{party['ann']}")
    preview = client.get(f"/events/{slug}/recaps/preview/{party['ann']}")
    assert preview.status_code == 200 and "You met 2 people at Harbour Mixer" in preview.get_data(as_text=True)
    frame = client.get(f"/events/{slug}/recaps/preview/{party['ann']}.html")
    assert "sandbox" in frame.headers["Content-Security-Policy"] and b"Cat Cole" in frame.data

    assert client.post(f"/events/{slug}/recaps/send").status_code in (400, 403)  # no token: refused
    with app.app_context():
        assert recap_rows() == []
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    for _ in range(2):
        assert client.post(f"/events/{slug}/recaps/send", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert len(recap_rows()) == 3
    assert ">3</dd>" in client.get(f"/events/{slug}/recaps").get_data(as_text=True)


# --- flask send-due: delivery in a second process while recaps are composed ------------------------


@pytest.fixture
def crowd(app):
    """A past event where each of 24 attendees met the next two: 24 recaps due."""
    organizer = make_user(app, "host@example.com", name="Hana Host", role="organizer")
    people = [make_user(app, f"guest{n:02}@example.com", name=f"Guest {n:02}") for n in range(24)]
    with app.app_context():
        event = make_past_event(organizer.id, "Crowd Night")
        users = [db.session.get(User, p.id) for p in people]
        for user in users:
            events.add_attendee(event, user)
        for n, user in enumerate(users):
            for step in (1, 2):
                meet(event, user, users[(n + step) % len(users)], n + step)
        db.session.commit()
    return sorted(p.email for p in people)


@pytest.mark.parametrize("options", [[], ["--one-process"]], ids=["second process delivers", "one process"])
def test_send_due_delivers_every_recap_exactly_once(app, runner, smtp, crowd, monkeypatch, options):
    monkeypatch.setattr(recaps, "BATCH_SIZE", 5)  # five batches
    render_batch = recaps._render_batch

    def slow_render_batch(*args):  # (in this process only) the second one sends each batch meanwhile
        time.sleep(0.2)
        return render_batch(*args)

    monkeypatch.setattr(recaps, "_render_batch", slow_render_batch)
    app.config["OUTBOX_BATCH_SIZE"] = 2
    result = runner.invoke(args=["send-due", *options])
    assert result.exit_code == 0, result.output
    counts = {key: int(value) for key, value in (pair.split("=") for pair in result.output.split())}
    assert (counts["recaps_queued"], counts["sent"], counts["retrying"], counts["failed"]) == (24, 24, 0, 0)
    if options:
        assert "sent_by_second_process" not in counts
    else:
        assert counts["sent_by_second_process"] >= 5  # at least the first batch, while the rest were composed
    assert sorted(m["To"] for m in smtp.messages) == crowd  # each once
    with app.app_context():
        assert {r.status for r in recap_rows()} == {"sent"}
