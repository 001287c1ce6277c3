"""An event's networking figures (services.stats and stats.json) against numbers
worked out by hand on a small event.

The "Spring Mixer" (Europe/Berlin, 14 March 2026, 17:00-21:00 UTC) has six
attendees A-F; A, B and C are checked in. Its organizer O is not registered
but scans one badge. Scans, all through ``connections.record_scan`` (UTC):

    s1  A -> B  17:05   (uploaded twice: the replay is the same scan)
    s2  B -> A  17:20   (the same pair, the other way round)
    s3  A -> C  17:40
    s4  D -> E  17:50
    s5  D -> E  19:15   (D and E meet a second time)
    s6  B -> C  19:30
    s7  O -> A  19:45   (the organizer scans)

At another event, two other people scan each other at 18:30 UTC: none of it
may show up here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select

from tests.factories import PASSWORD, make_user
from webapp.extensions import db
from webapp.models import Attendance, Contact, ContactSource, Event, Scan, User
from webapp.services import accounts, connections, events, stats

DAY = datetime(2026, 3, 14, tzinfo=UTC)
DOCUMENTED_KEYS = {"registered", "checked_in", "scans", "connections", "connected_attendees", "scans_by_hour",
                   "followed_up_48h_rate", "followed_up_7d_rate"}
EXTRA_KEYS = {"connections_per_attendee", "most_connected_hours"}


def at(hour: int, minute: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


def build_mixer(app) -> dict:
    """The event described above, committed; returns ids and what the replay answered."""
    with app.app_context():
        owner = accounts.create_user("olga@example.com", "Olga Organizer", password=PASSWORD, role="organizer",
                                     verified=True)
        event = events.create_event(owner, "Spring Mixer", at(17), at(21), "Europe/Berlin")
        people = {n: accounts.create_user(f"{n.lower()}@example.com", f"Person {n}", verified=True) for n in "ABCDEF"}
        people["O"] = owner
        badge = {n: events.add_attendee(event, people[n]).badge_token for n in "ABCDEF"}
        for attendance in db.session.scalars(select(Attendance).where(Attendance.event_id == event.id)):
            if attendance.user_id in (people["A"].id, people["B"].id, people["C"].id):
                attendance.checked_in_at = at(16, 55)

        def scan(scanner: str, scanned: str, client_id: str, when: datetime):
            return connections.record_scan(people[scanner], badge[scanned], client_id, scanned_at=when)

        scan("A", "B", "s1", at(17, 5))
        replay = scan("A", "B", "s1", at(17, 5))
        scan("B", "A", "s2", at(17, 20))
        scan("A", "C", "s3", at(17, 40))
        scan("D", "E", "s4", at(17, 50))
        scan("D", "E", "s5", at(19, 15))
        scan("B", "C", "s6", at(19, 30))
        scan("O", "A", "s7", at(19, 45))

        # Follow-ups: A wrote to B an hour after meeting, B to A three days later; C
        # followed B up within the hour but then removed the contact; A's manual
        # entry (not a scan) was followed up too. Everyone else: never.
        def contact(owner: str, other: str) -> Contact:
            return connections.contact_for(people[owner].id, people[other].id)

        contact("A", "B").followed_up_at = at(18, 5)
        contact("B", "A").followed_up_at = at(17, 5) + timedelta(days=3)
        removed = contact("C", "B")
        removed.followed_up_at = at(20, 30)
        connections.remove_contact(people["C"], removed)
        db.session.add(Contact(owner_id=people["A"].id, source=ContactSource.MANUAL.value, event_id=event.id,
                               name="Someone from the bar", met_at=at(18), followed_up_at=at(18, 30)))

        other_owner = accounts.create_user("otto@example.com", "Otto", role="organizer", verified=True)
        other = events.create_event(other_owner, "Elsewhere Meetup", at(17), at(21), "UTC")
        x = accounts.create_user("x@example.com", "Xavier", verified=True)
        y = accounts.create_user("y@example.com", "Yara", verified=True)
        events.add_attendee(other, x)
        other_badge = events.add_attendee(other, y).badge_token
        connections.record_scan(x, other_badge, "elsewhere-1", scanned_at=at(18, 30))
        db.session.commit()
        return {"event": event.id, "slug": event.slug, "owner": owner.id, "other": other.id,
                "replay_created": replay.created, "badges": badge}


def figures_for(app, event_id: int) -> stats.EventStats:
    with app.app_context():
        return stats.event_stats(db.session.get(Event, event_id))


def test_the_mixers_figures_match_the_hand_count(app):
    mixer = build_mixer(app)
    figures = figures_for(app, mixer["event"])

    assert mixer["replay_created"] is False
    assert figures.registered == 6  # A-F; the organizer is not registered
    assert figures.checked_in == 3  # A, B, C
    assert figures.scans == 7  # s1-s7: the replayed s1 is no new scan
    # {A,B} (s1, s2: both ways is one), {A,C}, {D,E} (met twice: one), {B,C}, {O,A}
    assert figures.connections == 5
    # A, B, C, D, E and the organizer O; F met nobody
    assert figures.connected_attendees == 6
    # 17:00 s1 s2 s3 s4; 18:00 nothing (zero-filled); 19:00 s5 s6 s7
    assert [(h.hour, h.scans) for h in figures.scans_by_hour] == [(at(17), 4), (at(18), 0), (at(19), 3)]
    assert [(h.hour, h.scans) for h in figures.most_connected_hours] == [(at(17), 4), (at(19), 3)]


def test_connections_per_attendee_count_people_who_met_nobody(app):
    figures = figures_for(app, build_mixer(app)["event"])
    # A: B, C, O = 3; B: A, C = 2; C: A, B = 2; D: E = 1; E: D = 1; O: A = 1; F: 0.
    # Sorted [0, 1, 1, 1, 2, 2, 3]: the median is the 4th, 1 (without F it would be
    # 1.5, without O and F 2). The top 10% of 7 people is 1 person, who made 3.
    assert figures.median_connections == 1.0
    assert figures.top10_connections == 3


def test_follow_up_rates_are_shares_of_the_events_scan_contacts(app):
    figures = figures_for(app, build_mixer(app)["event"])
    # Scan contacts at this event: two per connection (one each side) = 10, minus
    # C's removed entry for B = 9. The manual entry doesn't count. Within 48 h:
    # A's for B (1 h) = 1; within 7 days: that and B's for A (3 days) = 2.
    assert figures.followed_up_48h_rate == pytest.approx(1 / 9)
    assert figures.followed_up_7d_rate == pytest.approx(2 / 9)


def test_another_events_scans_stay_out(app):
    mixer = build_mixer(app)
    figures = figures_for(app, mixer["other"])
    # X scanned Y once at 18:30: one scan, one connection, two people.
    assert (figures.registered, figures.scans, figures.connections, figures.connected_attendees) == (2, 1, 1, 2)
    assert [(h.hour, h.scans) for h in figures.scans_by_hour] == [(at(18), 1)]


def test_the_top_ten_percent_is_the_least_the_top_tenth_made():
    assert stats.top_share_floor([], 0.1) == 0
    assert stats.top_share_floor([5, 0, 2], 0.1) == 5  # 10% of 3 rounds up to one person
    assert stats.top_share_floor(list(range(20)), 0.1) == 18  # the top two of 0..19 are 19 and 18
    assert stats.top_share_floor(list(range(21)), 0.1) == 18  # 2.1 people round up to three: 20, 19, 18


def test_stats_json_has_exactly_the_documented_keys_with_the_right_types(app, client, auth):
    mixer = build_mixer(app)
    with app.app_context():
        auth.as_user(db.session.get(User, mixer["owner"]))
    response = client.get(f"/events/{mixer['slug']}/stats.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "no-store" in response.headers["Cache-Control"]
    data = response.get_json()
    assert set(data) == DOCUMENTED_KEYS | EXTRA_KEYS
    for key in ("registered", "checked_in", "scans", "connections", "connected_attendees"):
        assert type(data[key]) is int, key
    for key in ("followed_up_48h_rate", "followed_up_7d_rate"):
        assert type(data[key]) is float and 0.0 <= data[key] <= 1.0, key
    assert data["scans_by_hour"] == [
        {"hour": "2026-03-14T17:00:00+00:00", "scans": 4},
        {"hour": "2026-03-14T18:00:00+00:00", "scans": 0},
        {"hour": "2026-03-14T19:00:00+00:00", "scans": 3},
    ]
    assert (data["registered"], data["checked_in"], data["scans"], data["connections"],
            data["connected_attendees"]) == (6, 3, 7, 5, 6)
    assert data["followed_up_48h_rate"] == pytest.approx(1 / 9)
    assert data["followed_up_7d_rate"] == pytest.approx(2 / 9)
    assert data["connections_per_attendee"] == {"median": 1.0, "top_10_percent": 3}
    assert data["most_connected_hours"] == [{"hour": "2026-03-14T17:00:00+00:00", "scans": 4},
                                            {"hour": "2026-03-14T19:00:00+00:00", "scans": 3}]


def test_an_event_without_scans_gives_zeros_and_an_empty_list(app, client, auth):
    owner = make_user(app, role="organizer")
    with app.app_context():
        event = events.create_event(db.session.get(User, owner.id), "Quiet Evening", at(17), at(21), "UTC")
        db.session.commit()
        slug, event_id = event.slug, event.id
    figures = figures_for(app, event_id)
    assert (figures.registered, figures.checked_in, figures.scans, figures.connections,
            figures.connected_attendees) == (0, 0, 0, 0, 0)
    assert figures.scans_by_hour == () and figures.most_connected_hours == ()
    assert (figures.median_connections, figures.top10_connections) == (0.0, 0)

    auth.as_user(owner)
    data = client.get(f"/events/{slug}/stats.json").get_json()
    assert data["scans_by_hour"] == [] and data["scans"] == 0 and data["connections"] == 0
    assert data["followed_up_48h_rate"] == 0.0 and type(data["followed_up_48h_rate"]) is float
    assert data["followed_up_7d_rate"] == 0.0


def crowd(app, size: int) -> int:
    """An event with ``size`` attendees, each scanning the next two, and a contact
    per scan; rows written directly (this is about counting queries, not scanning)."""
    with app.app_context():
        owner = accounts.create_user(f"crowd{size}@example.com", "Crowd Organizer", role="organizer", verified=True)
        event = events.create_event(owner, f"Crowd of {size}", at(17), at(21), "UTC")
        users = [accounts.create_user(f"c{size}-{i}@example.com", f"Crowd {i}", verified=True) for i in range(size)]
        for user in users:
            events.add_attendee(event, user)
        for i, user in enumerate(users):
            for step in (1, 2):
                other = users[(i + step) % size]
                when = at(17) + timedelta(minutes=(i * 7 + step) % 240)
                db.session.add(Scan(event_id=event.id, scanner_id=user.id, scanned_id=other.id,
                                    client_id=f"c-{i}-{step}", scanned_at=when))
                db.session.add(Contact(owner_id=user.id, user_id=other.id, event_id=event.id, met_at=when,
                                       followed_up_at=when + timedelta(hours=step * 30)))
        db.session.commit()
        return event.id


def test_the_number_of_queries_does_not_grow_with_the_event(app):
    small, large = crowd(app, 10), crowd(app, 100)
    counts = {}
    for size, event_id in ((10, small), (100, large)):
        with app.app_context():
            event = db.session.get(Event, event_id)
            statements: list[str] = []

            def count(conn, cursor, statement, parameters, context, executemany, statements=statements):
                statements.append(statement)

            sa_event.listen(db.engine, "before_cursor_execute", count)
            try:
                figures = stats.event_stats(event)
            finally:
                sa_event.remove(db.engine, "before_cursor_execute", count)
            counts[size] = len(statements)
            # Everyone scanned the next two people round the ring: 2 scans and 2
            # connections each, nobody left out.
            assert (figures.scans, figures.connections, figures.connected_attendees) == (2 * size, 2 * size, size)
            assert figures.median_connections == 4.0  # two scanned, two scanned them
    assert counts[10] == counts[100]
    assert counts[100] <= 5
