"""Event pages over HTTP: the forms, the join and invitation flows end to end
(emails read from the outbox), the calendar file, and the event page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import urlsplit

import icalendar
import pytest

from tests.conftest import BASE_URL, without_csrf
from tests.factories import make_user
from webapp.extensions import db
from webapp.models import Attendance, Event, User, utcnow
from webapp.services import accounts, events


def field_error(body: str, field_id: str) -> str | None:
    match = re.search(rf'<small id="{field_id}-error" class="field-error">(.*?)</small>', body, re.S)
    return unescape(match.group(1)).strip() if match else None


def path_of(response) -> str:
    assert response.status_code in (301, 302, 303), response.status_code
    return urlsplit(response.headers["Location"]).path


def row(app, model, **where):
    with app.app_context():
        return db.session.scalar(db.select(model).filter_by(**where))


EVENT_FORM = {
    "name": "Lisbon Tech Mixer",
    "venue": "LX Factory",
    "timezone": "Europe/Lisbon",
    "starts_at": "2026-07-02T18:30",
    "ends_at": "2026-07-02T22:00",
    "description": "Short talks.\n\nThen a lot of meeting people.",
    "followup_delay_minutes": "",
}


# --- New and edit --------------------------------------------------------------------


def test_an_organizer_creates_an_event_in_local_time_and_sees_it_in_that_zone(app, client, world):
    world.sign_in("organizer")
    assert client.get("/events/new").status_code == 200

    response = client.post("/events/new", data=EVENT_FORM)

    slug = path_of(response).removeprefix("/events/")
    event = row(app, Event, slug=slug)
    assert (event.name, event.venue, event.owner_id) == ("Lisbon Tech Mixer", "LX Factory", world.organizer.id)
    assert event.starts_at == datetime(2026, 7, 2, 17, 30, tzinfo=UTC)  # 18:30 WEST
    assert event.ends_at == datetime(2026, 7, 2, 21, 0, tzinfo=UTC)
    page = client.get(f"/events/{slug}").get_data(as_text=True)
    assert "Thu 2 Jul 2026, 18:30 \u2013 22:00" in page
    assert "Europe/Lisbon (WEST)" in page
    assert "Short talks.</p>" in page and "Then a lot of meeting people." in page


@pytest.mark.parametrize(
    ("change", "field", "phrase"),
    [
        ({"ends_at": "2026-07-02T18:30"}, "ends_at", "end after it starts"),
        ({"ends_at": "2026-07-02T17:00"}, "ends_at", "end after it starts"),
        ({"name": ""}, "name", "required"),
        ({"starts_at": "tomorrow evening"}, "starts_at", "datetime"),
        ({"timezone": "Mars/Olympus"}, "timezone", "choice"),
        ({"timezone": "America/New_York", "starts_at": "2026-03-08T02:30", "ends_at": "2026-03-08T05:00"},
         "starts_at", "doesn't exist"),
    ],
    ids=["ends-at-start", "ends-before-start", "no-name", "not-a-time", "bad-zone", "dst-gap"],
)
def test_the_new_event_form_shows_errors_on_the_field_with_422(app, client, world, change, field, phrase):
    world.sign_in("organizer")
    response = client.post("/events/new", data={**EVENT_FORM, **change})
    assert response.status_code == 422
    error = field_error(response.get_data(as_text=True), field)
    assert error and phrase.lower() in error.lower()
    assert row(app, Event, name="Lisbon Tech Mixer") is None


def test_the_edit_form_shows_local_times_and_saves_changes(app, client, world):
    world.sign_in("organizer")
    slug = path_of(client.post("/events/new", data=EVENT_FORM)).removeprefix("/events/")
    page = client.get(f"/events/{slug}/edit").get_data(as_text=True)
    assert 'value="2026-07-02T18:30"' in page and 'value="2026-07-02T22:00"' in page

    bad = client.post(f"/events/{slug}/edit", data={**EVENT_FORM, "ends_at": "2026-07-01T20:00"})
    assert bad.status_code == 422
    assert "end after it starts" in field_error(bad.get_data(as_text=True), "ends_at")

    saved = client.post(f"/events/{slug}/edit", data={**EVENT_FORM, "timezone": "Asia/Tokyo",
                                                      "followup_delay_minutes": "180"})
    assert path_of(saved) == f"/events/{slug}"
    event = row(app, Event, slug=slug)
    assert event.starts_at == datetime(2026, 7, 2, 9, 30, tzinfo=UTC)  # 18:30 JST
    assert event.followup_delay_minutes == 180
    assert "Asia/Tokyo (JST)" in client.get(f"/events/{slug}").get_data(as_text=True)


def test_an_attendee_cannot_create_events(client, world):
    world.sign_in("attendee")
    assert client.post("/events/new", data=EVENT_FORM).status_code == 403
    assert "New event" not in client.get("/events").get_data(as_text=True)


# --- Joining by the public link --------------------------------------------------------


def join_by_email(client, outbox, code: str, name: str, email: str):
    """Ask for the link on the join page; return that response and the emailed link's path."""
    response = client.post(f"/join/{code}/email", data={"name": name, "email": email})
    assert response.status_code == 200
    return response, outbox.path(outbox.last(email), "/login/link/")


def test_joining_by_email_signs_in_by_magic_link_and_one_tap_lands_on_the_badge(app, client, outbox, world):
    code, slug = world.event.join_code, world.event.slug
    page = client.get(f"/join/{code}").get_data(as_text=True)
    assert "Join Spring Mixer" in page and 'name="email"' in page and 'name="name"' in page

    _, link = join_by_email(client, outbox, code, "Nia Newcomer", "nia@example.com")
    assert client.get("/events").status_code == 302  # not signed in yet
    assert "Sign me in" in client.get(link).get_data(as_text=True)
    assert path_of(client.post(link)) == f"/join/{code}"

    page = client.get(f"/join/{code}").get_data(as_text=True)
    assert "Join as Nia Newcomer" in page
    landed = client.post(f"/join/{code}", data={"listed": "y"})
    assert path_of(landed) == f"/events/{slug}/badge"
    assert "Nia Newcomer" in client.get(f"/events/{slug}/badge").get_data(as_text=True)

    nia = row(app, User, email="nia@example.com")
    attendance = row(app, Attendance, user_id=nia.id)
    assert (attendance.event_id, attendance.listed, attendance.registered_via) == (world.event.id, True, "join")
    assert nia.email_verified and nia.password_hash is None
    # Back on the join link later: straight to the badge, nothing new.
    assert path_of(client.get(f"/join/{code}")) == f"/events/{slug}/badge"
    assert path_of(client.post(f"/join/{code}")) == f"/events/{slug}/badge"
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Attendance).filter_by(user_id=nia.id)) == 1


def test_joining_with_an_existing_accounts_address_reveals_nothing(app, client, outbox, world):
    code = world.event.join_code
    new_page, _ = join_by_email(client, outbox, code, "Nia Newcomer", "nia@example.com")
    old_page, link = join_by_email(client, outbox, code, "Someone Typing", world.other_attendee.email)

    def blanked(response, address):
        return without_csrf(response.get_data(as_text=True).replace(address, "ADDRESS"))

    assert blanked(new_page, "nia@example.com") == blanked(old_page, world.other_attendee.email)
    assert outbox.last("nia@example.com")["Subject"] == outbox.last(world.other_attendee.email)["Subject"]

    client.post(link)
    assert path_of(client.post(f"/join/{code}")) == f"/events/{world.event.slug}/badge"
    joined = row(app, User, email=world.other_attendee.email)
    assert joined.name == "Ben Elsewhere"  # what a stranger typed changes nobody's name
    assert row(app, Attendance, user_id=joined.id, event_id=world.event.id) is not None


def test_the_join_page_refuses_when_the_link_is_off_and_an_unknown_code_is_404(app, client, outbox, world):
    with app.app_context():
        events.set_join_enabled(db.session.get(Event, world.event.id), False)
        db.session.commit()
    code = world.event.join_code
    assert client.get(f"/join/{code}").status_code == 410
    assert client.post(f"/join/{code}/email", data={"name": "N", "email": "n@example.com"}).status_code == 410
    assert len(outbox) == 0
    world.sign_in("other_attendee")
    assert client.post(f"/join/{code}").status_code == 410
    assert client.get("/join/not-a-code").status_code == 404


def test_the_join_by_email_form_shows_errors_on_its_fields(client, world):
    response = client.post(f"/join/{world.event.join_code}/email", data={"name": "", "email": "not-an-address"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert field_error(body, "name") and "valid email" in field_error(body, "email")


def test_asking_for_join_links_is_rate_limited_per_address(client, world, rate_limits):
    code = world.event.join_code
    answers = [client.post(f"/join/{code}/email", data={"name": "N", "email": "n@example.com"}).status_code
               for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    assert client.post(f"/join/{code}/email", data={"name": "M", "email": "m@example.com"}).status_code == 200


# --- Personal invitations ----------------------------------------------------------------


def test_an_invitation_link_signs_in_through_a_confirm_button_and_joins(app, client, outbox, world):
    world.sign_in("organizer")
    slug = world.event.slug
    sent = client.post(f"/events/{slug}/invite", data={"invite-name": "Ivy Invited", "invite-email": "ivy@example.com"})
    assert path_of(sent) == f"/events/{slug}"
    message = outbox.last("ivy@example.com")
    assert "Olga Organizer invited you to Spring Mixer" in message["Subject"]
    link = outbox.path(message, "/invite/")

    guest = app.test_client()
    page = guest.get(link).get_data(as_text=True)
    assert "Ivy Invited" in page and "Join Spring Mixer" in page and "<form method=\"post\">" in page
    assert guest.get("/events").status_code == 302  # opening the link signed nobody in
    assert path_of(guest.post(link)) == f"/events/{slug}/badge"
    assert "Ivy Invited" in guest.get(f"/events/{slug}/badge").get_data(as_text=True)

    ivy = row(app, User, email="ivy@example.com")
    assert row(app, Attendance, user_id=ivy.id).registered_via == "invite"
    assert guest.post(link).status_code == 400  # once only
    assert app.test_client().get(link).status_code == 400


def test_an_invitation_to_an_event_that_is_over_is_refused(app, client, outbox, world):
    world.sign_in("organizer")
    client.post(f"/events/{world.event.slug}/invite", data={"invite-name": "Ivy", "invite-email": "ivy@example.com"})
    link = outbox.path(outbox.last("ivy@example.com"), "/invite/")
    with app.app_context():
        event = db.session.get(Event, world.event.id)
        event.starts_at, event.ends_at = utcnow() - timedelta(hours=5), utcnow() - timedelta(hours=1)
        db.session.commit()
    guest = app.test_client()
    response = guest.get(link)
    assert response.status_code == 400 and "the event is over" in response.get_data(as_text=True)
    assert guest.post(link).status_code == 400
    assert row(app, Attendance, user_id=row(app, User, email="ivy@example.com").id) is None


def test_the_invite_form_shows_errors_on_its_fields(client, world):
    world.sign_in("organizer")
    response = client.post(f"/events/{world.event.slug}/invite", data={"invite-name": "", "invite-email": "nope"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert field_error(body, "invite-name") and field_error(body, "invite-email")


# --- The event page, calendar and who's here ---------------------------------------------


def test_add_to_calendar_gives_an_ics_with_utc_times_summary_location_and_url(app, client, world):
    world.sign_in("attendee")
    response = client.get(f"/events/{world.event.slug}/calendar.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert f'filename="{world.event.slug}.ics"' in response.headers["Content-Disposition"]

    calendar = icalendar.Calendar.from_ical(response.data)
    (entry,) = calendar.walk("VEVENT")
    event = row(app, Event, id=world.event.id)
    # iCalendar times have whole seconds
    assert entry.decoded("dtstart") == event.starts_at.replace(microsecond=0)
    assert entry.decoded("dtstart").utcoffset() == timedelta(0)
    assert entry.decoded("dtend") == event.ends_at.replace(microsecond=0)
    assert b"Z" in entry["dtstart"].to_ical()
    assert str(entry["summary"]) == "Spring Mixer"
    assert str(entry["url"]) == f"{BASE_URL}/events/{world.event.slug}"
    assert str(entry["status"]) == "CONFIRMED"

    with app.app_context():
        stored = db.session.get(Event, world.event.id)
        stored.venue = "Hub Criativo do Beato, Lisbon"
        events.cancel_event(stored)
        db.session.commit()
    entry = icalendar.Calendar.from_ical(client.get(f"/events/{world.event.slug}/calendar.ics").data).walk("VEVENT")[0]
    assert str(entry["location"]) == "Hub Criativo do Beato, Lisbon"
    assert str(entry["status"]) == "CANCELLED"


def test_an_attendee_sees_badge_calendar_and_whos_here_but_no_organizer_tools(client, world):
    world.sign_in("attendee")
    page = client.get(f"/events/{world.event.slug}").get_data(as_text=True)
    for href in ("/badge", "/calendar.ics", "/people"):
        assert f'href="/events/{world.event.slug}{href}"' in page
    assert "Leave Spring Mixer" in page
    assert world.event.join_code not in page and "Invite someone" not in page


def test_the_organizer_sees_the_join_link_and_the_recap_time(client, world):
    world.sign_in("organizer")
    page = client.get(f"/events/{world.event.slug}").get_data(as_text=True)
    assert f'value="{BASE_URL}/join/{world.event.join_code}"' in page
    assert "Recaps go out" in page and ", 09:00" in page
    assert "1</strong> registered" in page


def test_whos_here_shows_only_people_who_opted_in_and_the_toggle_works(app, client, world):
    ben = make_user(app, "ben@example.com", name="Ben Bashful", password=None)
    cat = make_user(app, "cat@example.com", name="Cat Chatty", password=None)
    with app.app_context():
        event = db.session.get(Event, world.event.id)
        events.add_attendee(event, db.session.get(User, ben.id))
        events.add_attendee(event, db.session.get(User, cat.id), listed=True)
        db.session.commit()
    world.sign_in("attendee")
    people = f"/events/{world.event.slug}/people"
    page = client.get(people).get_data(as_text=True)
    assert "Cat Chatty" in page and "Ben Bashful" not in page and "Ana Attendee" not in page

    assert path_of(client.post(f"{people}/listed", data={"listed": "y"})) == people
    assert "Ana Attendee" in client.get(people).get_data(as_text=True)
    client.post(f"{people}/listed", data={})
    assert "Ana Attendee" not in client.get(people).get_data(as_text=True)


def test_leaving_before_the_start_removes_the_badge(app, client, world):
    world.sign_in("attendee")
    assert path_of(client.post(f"/events/{world.event.slug}/leave")) == "/events"
    assert client.get(f"/events/{world.event.slug}/badge").status_code == 404
    assert "Spring Mixer" not in client.get("/events").get_data(as_text=True)


def test_my_events_lists_attended_and_organized_events(client, world):
    world.sign_in("organizer")
    page = client.get("/events").get_data(as_text=True)
    assert "Spring Mixer" in page and "Autumn Summit" not in page and "New event" in page
    world.sign_in("other_attendee")
    page = client.get("/events").get_data(as_text=True)
    assert "Autumn Summit" in page and "Spring Mixer" not in page


def test_adding_and_removing_a_co_organizer_from_the_event_page(app, client, outbox, world):
    world.sign_in("organizer")
    slug = world.event.slug
    assert path_of(client.post(f"/events/{slug}/organizers", data={"organizer-email": "otto@example.com"})) == (
        f"/events/{slug}")
    helper = row(app, User, email="otto@example.com")
    assert "co-organize" in outbox.last("otto@example.com")["Subject"]
    again = client.post(f"/events/{slug}/organizers", data={"organizer-email": "otto@example.com"})
    assert again.status_code == 422
    assert "already organizes" in field_error(again.get_data(as_text=True), "organizer-email")

    world.auth.as_user(helper)
    assert client.get(f"/events/{slug}/edit").status_code == 200
    client.post(f"/events/{slug}/organizers/{helper.id}/remove")  # steps down
    assert client.get(f"/events/{slug}/edit").status_code == 404


def test_cancelling_from_the_page_emails_attendees_and_shows_the_banner(client, outbox, world):
    world.sign_in("organizer")
    assert path_of(client.post(f"/events/{world.event.slug}/cancel")) == f"/events/{world.event.slug}"
    assert outbox.last("attendee@example.com")["Subject"] == "Cancelled: Spring Mixer"
    world.sign_in("attendee")
    assert "This event was cancelled" in client.get(f"/events/{world.event.slug}").get_data(as_text=True)


def test_every_event_form_carries_the_csrf_token_and_a_post_without_it_is_refused(client, csrf, world):
    world.sign_in("organizer")
    for url in (f"/events/{world.event.slug}", "/events/new", f"/events/{world.event.slug}/edit"):
        page = client.get(url).get_data(as_text=True)
        forms = re.findall(r"<form method=\"post\".*?</form>", page, re.S)
        assert forms and all('name="csrf_token"' in form or '-csrf_token"' in form for form in forms), url
    refused = client.post(f"/events/{world.event.slug}/cancel")
    assert refused.status_code == 403
    with client.application.app_context():
        assert db.session.get(Event, world.event.id).cancelled_at is None


def test_a_signed_in_visitor_to_a_join_link_can_switch_accounts(client, world):
    world.sign_in("other_attendee")
    page = client.get(f"/join/{world.event.join_code}").get_data(as_text=True)
    assert "Join as Ben Elsewhere" in page and "Not Ben Elsewhere?" in page


def test_an_unverified_account_that_joins_by_link_loses_a_password_it_never_proved(app, client, outbox, world):
    with app.app_context():
        accounts.register("squat@example.com", "Squatter", "a password someone else chose")
        db.session.commit()
    _, link = join_by_email(client, outbox, world.event.join_code, "Real Owner", "squat@example.com")
    client.post(link)
    assert row(app, User, email="squat@example.com").password_hash is None
