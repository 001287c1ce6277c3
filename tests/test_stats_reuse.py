"""The dashboard's heavy figures, kept a moment between refreshes: a new scan or
registration shows at once, a follow-up within the minute, and nothing kept is
ever shown to another organizer or for another event.

The clock is passed in (``Kept(clock=...)``): nothing here sleeps.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import make_user
from tests.test_stats import at, build_mixer
from webapp.extensions import db
from webapp.models import Contact, Event, User
from webapp.organize.stats import RECENT
from webapp.services import connections, events, stats
from webapp.services.kept import Kept


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def figures(app, event_id: int, kept: Kept, viewer: int) -> stats.EventStats:
    with app.app_context():
        return stats.event_stats(db.session.get(Event, event_id), kept, viewer)


def follow_up_everyone(app, event_id: int) -> None:
    """Every scan contact at the event followed up an hour after meeting."""
    with app.app_context():
        for contact in db.session.scalars(db.select(Contact).where(Contact.event_id == event_id)):
            contact.followed_up_at = (contact.met_at or contact.created_at) + timedelta(hours=1)
        db.session.commit()


def test_a_new_scan_shows_at_once_though_figures_are_kept(app, clock):
    mixer, kept = build_mixer(app), Kept(seconds=60, clock=clock)
    assert figures(app, mixer["event"], kept, 1).scans == 7
    with app.app_context():
        e = db.session.scalar(db.select(User).filter_by(email="e@example.com"))
        connections.record_scan(e, mixer["badges"]["F"], "s8", scanned_at=at(20, 10))
        db.session.commit()
    again = figures(app, mixer["event"], kept, 1)
    assert (again.scans, again.connections) == (8, 6)
    assert [h.scans for h in again.scans_by_hour] == [4, 0, 3, 1]


def test_new_registrations_show_at_once(app, clock):
    mixer, kept = build_mixer(app), Kept(seconds=60, clock=clock)
    before = figures(app, mixer["event"], kept, 1)
    assert (before.median_connections, before.top10_connections) == (1.0, 3)
    with app.app_context():
        event = db.session.get(Event, mixer["event"])
        for n in range(5):
            events.add_attendee(event, db.session.get(User, make_user(app, f"new{n}@example.com").id))
        db.session.commit()
    again = figures(app, mixer["event"], kept, 1)
    # [0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3]: five more people who met nobody yet.
    assert (again.registered, again.median_connections, again.top10_connections) == (11, 0.5, 2)


def test_follow_ups_show_once_the_kept_figures_are_a_minute_old(app, clock):
    mixer, kept = build_mixer(app), Kept(seconds=60, clock=clock)
    before = figures(app, mixer["event"], kept, 1).followed_up_48h_rate
    assert before == pytest.approx(1 / 9)
    follow_up_everyone(app, mixer["event"])
    clock.now += 59
    assert figures(app, mixer["event"], kept, 1).followed_up_48h_rate == pytest.approx(1 / 9)
    clock.now += 2
    assert figures(app, mixer["event"], kept, 1).followed_up_48h_rate == 1.0


def test_what_one_organizer_was_shown_is_never_reused_for_another(app, clock):
    mixer, kept = build_mixer(app), Kept(seconds=60, clock=clock)
    figures(app, mixer["event"], kept, 1)
    follow_up_everyone(app, mixer["event"])
    assert figures(app, mixer["event"], kept, 1).followed_up_48h_rate == pytest.approx(1 / 9)  # kept for 1
    assert figures(app, mixer["event"], kept, 2).followed_up_48h_rate == 1.0  # computed for 2


def test_another_events_figures_are_never_reused(app, clock):
    mixer, kept = build_mixer(app), Kept(seconds=60, clock=clock)
    here, there = figures(app, mixer["event"], kept, 1), figures(app, mixer["other"], kept, 1)
    assert (here.registered, here.scans) == (6, 7)
    assert (there.registered, there.scans) == (2, 1)


def test_the_store_stays_bounded_dropping_the_oldest(clock):
    kept = Kept(seconds=60, size=2, clock=clock)
    for n in range(3):
        clock.now += 1
        kept.put(("event", n), "v", n)
    assert kept.get(("event", 0), "v") is None
    assert (kept.get(("event", 1), "v"), kept.get(("event", 2), "v")) == (1, 2)
    assert kept.get(("event", 2), "other version") is None


def test_the_dashboard_and_stats_json_answer_the_same_figures(app, client, auth):
    mixer = build_mixer(app)
    RECENT.clear()
    with app.app_context():
        auth.as_user(db.session.get(User, mixer["owner"]))
    page = client.get(f"/events/{mixer['slug']}/dashboard").get_data(as_text=True)
    assert 'data-stat="scans">7<' in page.replace(" ", "")
    data = client.get(f"/events/{mixer['slug']}/stats.json").get_json()
    assert (data["scans"], data["connections"], data["registered"]) == (7, 5, 6)
