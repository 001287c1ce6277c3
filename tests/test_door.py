"""The door: find someone by badge code or name, check them in with one tap,
register walk-ins, reprint a badge."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Attendance, Event, EventOrganizer, User
from webapp.services import PermissionDenied, accounts, events
from webapp.services import attendees as service
from webapp.services.events import EventClosed

# 17:05 UTC on 14 March 2026 is 13:05 in New York (daylight time began on 8 March).
EARLIER = datetime(2026, 3, 14, 17, 5, tzinfo=UTC)


def build_door(app) -> SimpleNamespace:
    """An event in New York with its owner, a co-organizer who works the door,
    and three registrants; plus an unrelated event with its own Ana."""
    with app.app_context():
        owner = accounts.create_user("olga@example.com", "Olga Organizer", role="organizer")
        staff = accounts.create_user("carmen@example.com", "Carmen Checker", role="attendee")
        event = events.create_event(owner, "Brooklyn Mixer", EARLIER, EARLIER.replace(hour=23), "America/New_York")
        db.session.add(EventOrganizer(event_id=event.id, user_id=staff.id))
        other = events.create_event(owner, "Elsewhere", EARLIER, EARLIER.replace(hour=23), "Europe/Lisbon")
        people = {}
        for name, email in [("Ana Alvarez", "ana@example.com"), ("Bruno Bento", "bruno@example.com"),
                            ("Anabel Reyes", "anabel@example.com")]:
            people[name.split()[0].lower()] = events.add_attendee(event, accounts.create_user(email, name))
        elsewhere = events.add_attendee(other, accounts.create_user("ana2@example.com", "Ana Alvarez"))
        db.session.commit()
        return SimpleNamespace(
            owner_id=owner.id, staff_id=staff.id, event_id=event.id, slug=event.slug,
            ids={key: a.id for key, a in people.items()}, codes={key: a.badge_code for key, a in people.items()},
            elsewhere_id=elsewhere.id, elsewhere_code=elsewhere.badge_code,
        )


@pytest.fixture
def door(app):
    return build_door(app)


def sign_in(app, auth, user_id: int) -> None:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
    auth.as_user(user)


def attendance(app, attendance_id: int) -> Attendance:
    with app.app_context():
        found = db.session.get(Attendance, attendance_id)
        if found is not None:
            db.session.expunge(found)
        return found


# --- Search ----------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["{code}", "{lower}", " {a} {b} ", "{a}-{b}", "{a_lower} - {b}"])
def test_the_door_finds_a_badge_code_in_any_case_with_spaces_or_dashes(ctx, door, typed):
    code = door.codes["bruno"]
    text = typed.format(code=code, lower=code.lower(), a=code[:3], b=code[3:], a_lower=code[:3].lower())

    found = service.door_search(db.session.get(Event, door.event_id), text)

    assert [a.id for a in found.attendances][:1] == [door.ids["bruno"]]


def test_the_door_finds_people_by_part_of_their_name_or_email_at_this_event_only(ctx, door):
    event = db.session.get(Event, door.event_id)
    assert [a.user.name for a in service.door_search(event, "ana").attendances] == ["Ana Alvarez", "Anabel Reyes"]
    assert [a.user.name for a in service.door_search(event, "ALVAREZ").attendances] == ["Ana Alvarez"]
    assert [a.user.name for a in service.door_search(event, "bruno@").attendances] == ["Bruno Bento"]
    assert service.door_search(event, door.elsewhere_code).attendances == []  # another event's badge
    assert service.door_search(event, "  ").attendances == []


def test_the_door_shows_at_most_twenty_and_says_there_are_more(ctx, door):
    event = db.session.get(Event, door.event_id)
    for n in range(25):
        events.add_attendee(event, accounts.create_user(f"smith{n}@example.com", f"Sam Smith {n:02}"))
    found = service.door_search(event, "smith")
    assert len(found.attendances) == 20 and found.more
    assert not service.door_search(event, "smith 07").more


def test_the_door_page_lists_matches_with_check_in_buttons_and_reprint_links(app, door, client, auth):
    sign_in(app, auth, door.staff_id)

    page = client.get(f"/events/{door.slug}/door?q=ana").get_data(as_text=True)

    assert "Ana Alvarez" in page and "Anabel Reyes" in page and "Bruno Bento" not in page
    ana = door.ids["ana"]
    assert f'action="/events/{door.slug}/door/{ana}/check-in"' in page
    assert f'href="/events/{door.slug}/attendees/{ana}/badge.pdf"' in page
    search_box = re.search(r'<input[^>]*name="q"[^>]*>', page).group(0)
    assert "autofocus" in search_box and 'value="ana"' in search_box
    assert "0</strong> of 3 checked in" in page
    pdf = client.get(f"/events/{door.slug}/attendees/{ana}/badge.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")


# --- Checking in -----------------------------------------------------------------------------


def test_one_tap_checks_someone_in_and_comes_back_to_the_same_search(app, door, client, auth):
    sign_in(app, auth, door.staff_id)

    response = client.post(f"/events/{door.slug}/door/{door.ids['ana']}/check-in", data={"q": "ana"})

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == f"/events/{door.slug}/door" and parse_qs(location.query) == {"q": ["ana"]}
    ana = attendance(app, door.ids["ana"])
    assert ana.checked_in_at is not None and ana.checked_in_by_id == door.staff_id
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ana Alvarez is checked in." in page
    assert "1</strong> of 3 checked in" in page
    assert f'action="/events/{door.slug}/door/{door.ids["ana"]}/check-in"' not in page  # no second button
    assert f'action="/events/{door.slug}/door/{door.ids["anabel"]}/check-in"' in page


def test_a_repeat_says_when_in_the_events_zone_and_by_whom(app, door, client, auth):
    with app.app_context():
        db.session.get(Attendance, door.ids["bruno"]).checked_in_at = EARLIER
        db.session.get(Attendance, door.ids["bruno"]).checked_in_by_id = door.staff_id
        db.session.commit()
    sign_in(app, auth, door.owner_id)  # someone else taps again

    page = client.get(f"/events/{door.slug}/door?q=bento").get_data(as_text=True)
    assert "lready checked in at 13:05 by Carmen Checker" in page
    assert f'/door/{door.ids["bruno"]}/check-in"' not in page
    response = client.post(f"/events/{door.slug}/door/{door.ids['bruno']}/check-in", data={"q": "bento"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)

    assert "Bruno Bento was already checked in at 13:05 by Carmen Checker." in page
    assert "17:05" not in page
    bruno = attendance(app, door.ids["bruno"])
    assert bruno.checked_in_at == EARLIER and bruno.checked_in_by_id == door.staff_id  # unchanged


def test_a_check_in_needs_the_forms_csrf_token(app, door, client, auth, csrf):
    sign_in(app, auth, door.staff_id)
    page = client.get(f"/events/{door.slug}/door?q=ana").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    url = f"/events/{door.slug}/door/{door.ids['ana']}/check-in"

    client.post(url, data={"q": "ana"})
    assert attendance(app, door.ids["ana"]).checked_in_at is None

    client.post(url, data={"q": "ana", "csrf_token": token})
    assert attendance(app, door.ids["ana"]).checked_in_at is not None


def test_checking_in_another_events_attendee_is_not_found(app, door, client, auth):
    sign_in(app, auth, door.owner_id)
    response = client.post(f"/events/{door.slug}/door/{door.elsewhere_id}/check-in")
    assert response.status_code == 404
    assert attendance(app, door.elsewhere_id).checked_in_at is None


# --- Walk-ins --------------------------------------------------------------------------------


def test_a_walk_in_gets_a_passwordless_account_a_registration_and_a_check_in(app, door, client, auth):
    sign_in(app, auth, door.staff_id)

    response = client.post(f"/events/{door.slug}/door/walk-in",
                           data={"name": "Wanda Walker", "email": "Wanda@Example.com", "company": "Walk Inc"})

    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query) == {"q": ["wanda@example.com"]}
    with app.app_context():
        wanda = db.session.scalar(select(User).where(User.email == "wanda@example.com"))
        assert wanda.name == "Wanda Walker" and wanda.company == "Walk Inc"
        assert wanda.password_hash is None and not wanda.email_verified
        registration = events.attendance_of(wanda, db.session.get(Event, door.event_id))
        assert registration.registered_via == "walk_in"
        assert registration.checked_in_at is not None and registration.checked_in_by_id == door.staff_id
        registration_id = registration.id
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Walk-in registered: Wanda Walker is checked in." in page
    assert f'href="/events/{door.slug}/attendees/{registration_id}/badge.pdf"' in page


def test_a_walk_in_who_had_registered_is_only_checked_in(app, door, client, auth):
    sign_in(app, auth, door.staff_id)

    response = client.post(f"/events/{door.slug}/door/walk-in",
                           data={"name": "Someone Else", "email": " BRUNO@example.com ", "company": "Other"})

    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User).where(
            User.email.like("%bruno%"))) == 1
        bruno = db.session.get(Attendance, door.ids["bruno"])
        assert bruno.registered_via == "join" and bruno.checked_in_by_id == door.staff_id
        assert bruno.user.name == "Bruno Bento" and bruno.user.company == ""  # their profile is theirs
        assert db.session.scalar(select(func.count()).select_from(Attendance).where(
            Attendance.event_id == door.event_id)) == 3
    assert "Bruno Bento is checked in." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_walk_in_with_an_account_but_no_registration_is_registered(ctx, door):
    event = db.session.get(Event, door.event_id)
    staff = db.session.get(User, door.staff_id)
    known = accounts.create_user("known@example.com", "Kim Known", company="Known Co")

    result = service.walk_in(event, staff, "K. Known", "known@example.com", "")

    assert not result.new_account and not result.was_registered and not result.check_in.already
    assert result.attendance.user_id == known.id and result.attendance.registered_via == "walk_in"
    assert known.name == "Kim Known" and known.company == "Known Co"
    again = service.walk_in(event, staff, "Kim", "known@example.com")
    assert again.attendance.id == result.attendance.id and again.was_registered and again.check_in.already


def test_a_walk_in_form_with_a_bad_email_registers_nobody(app, door, client, auth):
    sign_in(app, auth, door.staff_id)

    response = client.post(f"/events/{door.slug}/door/walk-in", data={"name": "Nope", "email": "not-an-email"})

    assert response.status_code == 422
    assert "Enter a valid email address." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User).where(User.name == "Nope")) == 0


def test_walk_ins_need_an_organizer_and_an_event_that_is_on(ctx, door):
    event = db.session.get(Event, door.event_id)
    bruno = db.session.get(Attendance, door.ids["bruno"]).user
    with pytest.raises(PermissionDenied):
        service.walk_in(event, bruno, "Gate Crasher", "crasher@example.com")
    event.cancelled_at = EARLIER
    with pytest.raises(EventClosed):
        service.walk_in(event, db.session.get(User, door.owner_id), "Late", "late@example.com")


def test_an_empty_search_offers_the_walk_in_form_prefilled(app, door, client, auth):
    sign_in(app, auth, door.staff_id)
    page = client.get(f"/events/{door.slug}/door?q=Zed+Newcomer").get_data(as_text=True)
    assert "Nobody registered matches" in page
    assert re.search(r'<details id="walk-in"\s+open', page)
    assert 'value="Zed Newcomer"' in page
