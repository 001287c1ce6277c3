"""Dates and times as people read them: everything but events in the signed-in
viewer's own zone (the zone named on logs), an event's times in the event's
zone whoever looks, relative times ("3 days ago") as ``<time>`` elements that
carry the instant in UTC and the absolute local time on hover."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from flask import render_template_string

from tests.factories import attend, make_user, meet
from webapp.extensions import db
from webapp.formatting import ago
from webapp.models import ApiToken, Attendance, AuditEntry, Contact, Event, Interaction, OutboxMessage, User, utcnow
from webapp.services import cadences, events, health, tags

# Friday 05:05 in Tokyo, still Thursday 12:05 in Los Angeles: the day differs too.
INSTANT = datetime(2026, 11, 26, 20, 5, 30, tzinfo=UTC)
ISO = 'datetime="2026-11-26T20:05:30Z"'
TOKYO, LOS_ANGELES = "Asia/Tokyo", "America/Los_Angeles"
LOG_STAMP = {TOKYO: "27 Nov 2026, 05:05 Asia/Tokyo", LOS_ANGELES: "26 Nov 2026, 12:05 America/Los Angeles",
             "UTC": "26 Nov 2026, 20:05 UTC"}
LOG_STAMP_SECONDS = {TOKYO: "27 Nov 2026, 05:05:30 Asia/Tokyo",
                     LOS_ANGELES: "26 Nov 2026, 12:05:30 America/Los Angeles"}
HISTORY = {TOKYO: "Fri 27 Nov 2026, 05:05 (Asia/Tokyo)", LOS_ANGELES: "Thu 26 Nov 2026, 12:05 (America/Los Angeles)"}

RELATIVE = re.compile(r"just now|yesterday|tomorrow|(in )?\d+ (minute|hour|day|week|month|year)s?( ago)?")
BARE_RELATIVE = re.compile(r"\b(just now|yesterday|tomorrow|\d+ (minute|hour|day|week|month|year)s? ago"
                           r"|in \d+ (minute|hour|day|week|month|year)s?)\b")
TIME_ELEMENT = re.compile(r"<time ([^>]*)>([^<]*)</time>")


def viewer(app, zone: str, role: str = "admin") -> User:
    return make_user(app, name=f"Viewer in {zone}", role=role, timezone=zone)


def visible(body: str) -> str:
    """A page's text as read, without tags or attributes."""
    return unescape(re.sub(r"<[^>]+>", "", body))


def add(app, row) -> int:
    with app.app_context():
        db.session.add(row)
        db.session.commit()
        return row.id


# --- One stored instant, each viewer's own local time -----------------------------------------


def on_mail_log(app, user) -> tuple[str, dict]:
    add(app, OutboxMessage(dedupe_key="time:log", kind="signin_link", recipient="someone@example.com",
                           subject="Your sign-in link", text_body="x", html_body="<p>x</p>", status="pending",
                           created_at=INSTANT))
    return "/admin/mail", LOG_STAMP


def on_mail_message(app, user) -> tuple[str, dict]:
    row_id = add(app, OutboxMessage(dedupe_key="time:message", kind="signin_link", recipient="someone@example.com",
                                    subject="Your sign-in link", text_body="x", html_body="<p>x</p>", status="sent",
                                    created_at=INSTANT - timedelta(minutes=1), sent_at=INSTANT))
    return f"/admin/mail/{row_id}", LOG_STAMP_SECONDS


def on_audit_log(app, user) -> tuple[str, dict]:
    add(app, AuditEntry(at=INSTANT, actor_id=user.id, actor_email=user.email, action="attendees.export"))
    return "/admin/audit", LOG_STAMP_SECONDS


def on_tokens_page(app, user) -> tuple[str, dict]:
    add(app, ApiToken(user_id=user.id, name="Laptop script", token_hash="0" * 64, prefix="ml_0000",
                      created_at=INSTANT - timedelta(days=3), last_used_at=INSTANT))
    return "/settings/tokens", LOG_STAMP


def on_contact_history(app, user) -> tuple[str, dict]:
    with app.app_context():
        contact = Contact(owner_id=user.id, name="Hana Historic", source="manual", state="done")
        db.session.add(contact)
        db.session.flush()
        db.session.add(Interaction(contact_id=contact.id, kind="call", at=INSTANT, note="Caught up"))
        db.session.commit()
        return f"/contacts/{contact.id}", HISTORY


PAGES = {"mail log": on_mail_log, "mail message": on_mail_message, "audit log": on_audit_log,
         "tokens page": on_tokens_page, "contact history": on_contact_history}


@pytest.mark.parametrize("zone", [TOKYO, LOS_ANGELES])
@pytest.mark.parametrize("page", PAGES)
def test_each_viewer_sees_a_stored_time_as_their_own_local_time(app, client, auth, page, zone):
    user = viewer(app, zone)
    path, expected = PAGES[page](app, user)
    auth.as_user(user)

    body = visible(client.get(path).get_data(as_text=True))

    other = LOS_ANGELES if zone == TOKYO else TOKYO
    assert expected[zone] in body
    assert expected[other] not in body
    assert "20:05" not in body and " UTC" not in body  # never the stored UTC reading


@pytest.mark.parametrize("page", ["mail log", "audit log", "mail message", "tokens page"])
def test_logs_and_tokens_carry_the_instant_in_utc_for_machines(app, client, auth, page):
    user = viewer(app, TOKYO)
    path, _ = PAGES[page](app, user)
    auth.as_user(user)
    assert ISO in client.get(path).get_data(as_text=True)


def test_a_viewer_in_utc_sees_utc_named(app, client, auth):
    user = viewer(app, "UTC")
    path, expected = on_mail_log(app, user)
    auth.as_user(user)
    assert expected["UTC"] in client.get(path).get_data(as_text=True)


@pytest.mark.parametrize("stored", ["Mars/Olympus_Mons", "Europe", ""])
def test_an_unknown_stored_zone_shows_utc_rather_than_failing(app, client, auth, stored):
    user = viewer(app, TOKYO)
    with app.app_context():
        db.session.get(User, user.id).timezone = stored
        db.session.commit()
    path, expected = on_mail_log(app, user)
    auth.as_user(user)
    response = client.get(path)
    assert response.status_code == 200
    assert expected["UTC"] in response.get_data(as_text=True)


def test_without_a_signed_in_viewer_times_read_in_utc(app):
    template = "{{ t | relative }}|{{ t | when }}"
    with app.app_context():  # a worker rendering mail: no viewer at all
        outside = render_template_string(template, t=INSTANT)
    with app.test_request_context("/"):  # an anonymous visitor
        anonymous = render_template_string(template, t=INSTANT)
    for text in (outside, anonymous):
        assert 'title="Thu 26 Nov 2026, 20:05 (UTC)"' in text and text.endswith("Thu 26 Nov 2026, 20:05 (UTC)")


# --- Events keep their own zone ---------------------------------------------------------------

NEW_YORK = ZoneInfo("America/New_York")
EVENT_START = datetime(2030, 3, 14, 18, 0, tzinfo=NEW_YORK)  # 22:00 UTC, daylight time


@pytest.fixture
def new_york_event(app):
    """An event in New York with an organizer in Tokyo, an attendee in Los
    Angeles (checked in at 18:05 New York time) and the attendee's contact
    for someone they met there."""
    organizer = viewer(app, TOKYO, role="organizer")
    guest = viewer(app, LOS_ANGELES, role="attendee")
    met = make_user(app, name="Mo Met")
    with app.app_context():
        event = events.create_event(db.session.get(User, organizer.id), "Harbor Night", EVENT_START,
                                    EVENT_START + timedelta(hours=3), "America/New_York")
        db.session.commit()
        slug, event_id = event.slug, event.id
    attendance = attend(app, db_event(app, event_id), guest)
    with app.app_context():
        db.session.get(Attendance, attendance.id).checked_in_at = EVENT_START + timedelta(minutes=5)
        contact = Contact(owner_id=guest.id, user_id=met.id, event_id=event_id, source="scan", state="done",
                          met_at=EVENT_START + timedelta(minutes=30))
        db.session.add(contact)
        db.session.commit()
        return {"slug": slug, "organizer": organizer, "guest": guest, "contact": contact.id}


def db_event(app, event_id: int) -> Event:
    with app.app_context():
        event = db.session.get(Event, event_id)
        db.session.expunge(event)
        return event


@pytest.mark.parametrize("who", ["organizer", "guest"])
def test_an_events_times_read_in_its_zone_whatever_the_viewers_zone(app, client, auth, new_york_event, who):
    auth.as_user(new_york_event[who])
    body = visible(client.get(f"/events/{new_york_event['slug']}").get_data(as_text=True))
    assert "Thu 14 Mar 2030, 18:00 \u2013 21:00" in body
    assert "America/New York (EDT)" in body
    assert "22:00" not in body and "07:00" not in body and "15:00" not in body  # UTC, Tokyo, Los Angeles


def test_the_attendee_list_shows_check_ins_in_the_events_zone_to_an_organizer_elsewhere(
        app, client, auth, new_york_event):
    auth.as_user(new_york_event["organizer"])
    body = client.get(f"/events/{new_york_event['slug']}/attendees").get_data(as_text=True)
    assert '<time datetime="2030-03-14T22:05:00Z">14 Mar, 18:05</time>' in body


def test_where_you_met_someone_reads_in_the_events_zone(app, client, auth, new_york_event):
    auth.as_user(new_york_event["guest"])
    body = visible(client.get(f"/contacts/{new_york_event['contact']}").get_data(as_text=True))
    assert "Harbor Night, Thu 14 Mar 2030, 18:30 (America/New York)" in body


def test_event_emails_name_the_events_zone_not_the_recipients(ctx):
    organizer = viewer(ctx, TOKYO, role="organizer")
    guest = viewer(ctx, LOS_ANGELES, role="attendee")
    event = events.create_event(organizer, "Harbor Night", EVENT_START, EVENT_START + timedelta(hours=3),
                                "America/New_York")
    events.add_attendee(event, guest)
    later = datetime(2030, 3, 15, 19, 0)  # naive: wall-clock time in the event's zone
    events.update_event(event, name=event.name, starts_at=later, ends_at=later + timedelta(hours=2),
                        timezone="America/New_York")
    db.session.commit()
    mail = db.session.scalars(db.select(OutboxMessage).filter_by(kind="event_changed")).one()
    for body in (mail.text_body, unescape(mail.html_body)):
        assert "Fri 15 Mar 2030, 19:00 \u2013 21:00 · America/New York (EDT)" in body
        assert "16:00" not in body  # the Los Angeles reading


# --- Relative times: one <time> element everywhere ---------------------------------------------


def relative_times(body: str) -> list[tuple[str, str, str]]:
    """(datetime, title, text) of every <time> whose text is relative."""
    found = []
    for attrs, text in TIME_ELEMENT.findall(body):
        if RELATIVE.fullmatch(text):
            stamp = re.search(r'datetime="([^"]*)"', attrs)
            title = re.search(r'title="([^"]*)"', attrs)
            found.append((stamp.group(1) if stamp else "", unescape(title.group(1)) if title else "", text))
    return found


def bare_relative_text(body: str) -> list[str]:
    """Relative wording printed outside a <time> element."""
    text = re.sub(r"<[^>]+>", " ", TIME_ELEMENT.sub(" ", body))
    return [m.group(0) for m in BARE_RELATIVE.finditer(unescape(text))]


def local_title(iso: str, zone: str) -> str:
    local = datetime.fromisoformat(iso).astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} ({zone.replace('_', ' ')})"


@pytest.fixture
def tom(app):
    """Tom (in Tokyo) was scanned by Bob at an event two days ago: his contact
    for Bob waits for a follow-up and is kept in touch with monthly. An admin
    (also in Tokyo) looks after a worker that ran two minutes ago and a
    message waiting for its next try."""
    tom = viewer(app, TOKYO, role="attendee")
    admin = viewer(app, TOKYO)
    bob = make_user(app, name="Bob Scanner")
    with app.app_context():
        start = utcnow().replace(microsecond=0) - timedelta(days=2, hours=3)
        event = events.create_event(db.session.get(User, admin.id), "Tokyo Mixer", start, start + timedelta(hours=3),
                                    "Asia/Tokyo")
        users = {u.id: db.session.get(User, u.id) for u in (tom, bob)}
        for user in users.values():
            events.add_attendee(event, user)
        meet(event, users[bob.id], users[tom.id], 30)
        contact = db.session.scalars(db.select(Contact).filter_by(owner_id=tom.id)).one()
        tags.add(contact, ["Friends"])
        cadences.set_tag_cadence(tags.find(tom.id, "Friends"), 30)
        db.session.get(User, tom.id).last_login_at = utcnow() - timedelta(hours=5)
        health.beat(health.WORKER_TASK, "worker-1", utcnow() - timedelta(minutes=2))
        waiting = OutboxMessage(dedupe_key="time:retry", kind="signin_link", recipient="someone@example.com",
                                subject="Your sign-in link", text_body="x", html_body="<p>x</p>", status="pending",
                                attempts=1, next_attempt_at=utcnow() + timedelta(minutes=10))
        db.session.add(waiting)
        db.session.commit()
        return {"tom": tom, "admin": admin, "contact": contact.id, "message": waiting.id}


TOM_PAGES = ["/", "/contacts", "/contacts/{contact}", "/contacts/losing-touch", "/contacts/scanned-me", "/follow-ups"]
ADMIN_PAGES = ["/admin/users", "/admin/health", "/admin/mail/{message}"]


@pytest.mark.parametrize(("who", "path"), [("tom", p) for p in TOM_PAGES] + [("admin", p) for p in ADMIN_PAGES])
def test_every_relative_time_is_a_time_element_with_the_local_time_on_hover(app, client, auth, tom, who, path):
    auth.as_user(tom[who])
    response = client.get(path.format(**tom))
    assert response.status_code == 200
    body = response.get_data(as_text=True)

    shown = relative_times(body)
    assert shown, f"no relative time on {path}"
    for iso, title, text in shown:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", iso), (iso, text)
        assert title == local_title(iso, TOKYO), (title, text)
    assert bare_relative_text(body) == []


def test_the_last_touch_on_a_contact_is_the_stored_instant_with_tokyo_time_on_hover(app, client, auth, tom):
    touched = utcnow().replace(microsecond=0) - timedelta(days=3, hours=1)
    with app.app_context():
        db.session.get(Contact, tom["contact"]).last_touched_at = touched
        db.session.commit()
    auth.as_user(tom["tom"])

    body = client.get(f"/contacts/{tom['contact']}").get_data(as_text=True)

    local = touched.astimezone(ZoneInfo(TOKYO))
    title = f"{local:%a} {local.day} {local:%b %Y, %H:%M} (Asia/Tokyo)"
    assert (f'<dt>Last in touch</dt><dd><time datetime="{touched:%Y-%m-%dT%H:%M:%SZ}" title="{title}">'
            "3 days ago</time></dd>") in body


def test_the_admin_sees_when_the_worker_last_ran_relative_to_the_check(app, client, auth, tom):
    auth.as_user(tom["admin"])
    body = client.get("/admin/health").get_data(as_text=True)
    assert re.search(r'<time datetime="[^"]+Z" title="[^"]+\(Asia/Tokyo\)">2 minutes ago</time>', body)


# --- The wording of relative times --------------------------------------------------------------

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("offset", "text"), [
    (timedelta(0), "just now"),
    (timedelta(seconds=59), "just now"),
    (timedelta(seconds=60), "1 minute ago"),
    (timedelta(seconds=119), "1 minute ago"),
    (timedelta(minutes=5), "5 minutes ago"),
    (timedelta(minutes=59, seconds=59), "59 minutes ago"),
    (timedelta(hours=1), "1 hour ago"),
    (timedelta(hours=23, minutes=59), "23 hours ago"),
    (timedelta(hours=24), "yesterday"),
    (timedelta(hours=47, minutes=59), "yesterday"),
    (timedelta(hours=48), "2 days ago"),
    (timedelta(days=6, hours=23), "6 days ago"),
    (timedelta(days=7), "1 week ago"),
    (timedelta(days=29), "4 weeks ago"),
    (timedelta(days=30), "1 month ago"),
    (timedelta(days=359), "11 months ago"),
    (timedelta(days=360), "1 year ago"),  # never "12 months ago"
    (timedelta(days=365), "1 year ago"),
    (timedelta(days=730), "2 years ago"),
    (-timedelta(seconds=30), "just now"),
    (-timedelta(minutes=5), "in 5 minutes"),
    (-timedelta(hours=3), "in 3 hours"),
    (-timedelta(hours=24), "tomorrow"),
    (-timedelta(days=2), "in 2 days"),
    (-timedelta(days=14), "in 2 weeks"),
])
def test_relative_wording_at_each_boundary(offset, text):
    assert ago(NOW - offset, NOW) == text


def test_a_missing_time_reads_as_nothing_so_pages_can_say_something_else(app):
    with app.test_request_context("/"):
        page = render_template_string("{{ (t | relative) or 'not yet recorded' }}|{{ t | stamp }}|{{ t | ago }}",
                                      t=None)
    assert page == "not yet recorded||"
