"""The organizer's attendee list, removing a registrant, and the CSV export."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from tests.factories import attend, count_statements, make_event, make_user
from webapp.extensions import db
from webapp.models import Attendance, Contact, Event, Scan, User
from webapp.services import NotFound, accounts, attendee_list, badges, connections, events
from webapp.services import attendees as service
from webapp.services.attendees import ListQuery

NOTE = "zq-PRIVATE-note-4417"  # must never leave the notes it was written in
T0 = datetime(2026, 3, 14, 17, 0, tzinfo=UTC)


def _scan(scanner: User, scanned: Attendance, note: str = "") -> None:
    connections.record_scan(scanner, scanned.badge_token, str(uuid.uuid4()), note=note)


def build_conference(app) -> SimpleNamespace:
    """An event with five people (one met another, two checked in) and a
    second event where two of them met: its scans must not count here."""
    with app.app_context():
        owner = accounts.create_user("olga@example.com", "Olga Organizer", role="organizer")
        event = events.create_event(owner, "Lisbon Summit", T0, T0 + timedelta(hours=8), "America/New_York")
        other = events.create_event(owner, "Porto Meetup", T0, T0 + timedelta(hours=3), "Europe/Lisbon")
        specs = [  # name, email, company
            ("Ana Alvarez", "ana@acme.test", "Acme Corp"),
            ("Bruno Bento", "bruno@example.com", "Globex"),
            ("Carla Costa", "carla@example.com", "ACME Labs"),
            ("dave Duarte", "dave@initech.test", ""),
            ("Eva Esteves", "eva@example.com", "50% Off Ltd"),
        ]
        people = {}
        for n, (name, email, company) in enumerate(specs):
            user = accounts.create_user(email, name, company=company, headline=f"Headline of {name.split()[0]}")
            attendance = events.add_attendee(event, user)
            attendance.registered_at = T0 - timedelta(days=10 - n)
            people[name.split()[0].lower()] = attendance
        people["bruno"].checked_in_at, people["bruno"].checked_in_by_id = T0 + timedelta(minutes=5), owner.id
        people["eva"].checked_in_at, people["eva"].checked_in_by_id = T0 + timedelta(minutes=1), owner.id
        _scan(people["ana"].user, people["bruno"], note=NOTE)
        _scan(people["ana"].user, people["bruno"])  # meeting again: still one person met
        carla_there = events.add_attendee(other, people["carla"].user)
        events.add_attendee(other, people["dave"].user)
        _scan(people["dave"].user, carla_there, note=NOTE)
        db.session.commit()
        return SimpleNamespace(
            owner_id=owner.id, event_id=event.id, slug=event.slug,
            ids={key: a.id for key, a in people.items()},
            tokens={key: a.badge_token for key, a in people.items()},
        )


@pytest.fixture
def conf(app):
    return build_conference(app)


def names(event: Event, **query) -> list[str]:
    return [a.name for a in attendee_list.list_page(event, ListQuery(**query), 1, 100).page.items]


def the_event(conf) -> Event:
    return db.session.get(Event, conf.event_id)


# --- Search, filters, sort -------------------------------------------------------------------


@pytest.mark.parametrize(("search", "expected"), [
    ("ALVA", ["Ana Alvarez"]),  # name part, any case
    ("initech", ["dave Duarte"]),  # email
    ("acme", ["Ana Alvarez", "Carla Costa"]),  # company (and email domain), any case
    ("costa acme", ["Carla Costa"]),  # every word must match somewhere
    ("50%", ["Eva Esteves"]),  # % is a literal, not a wildcard
    ("%", ["Eva Esteves"]),
    ("nobody-like-this", []),
    ("   ", ["Ana Alvarez", "Bruno Bento", "Carla Costa", "dave Duarte", "Eva Esteves"]),
])
def test_search_matches_name_email_or_company_ignoring_case(ctx, conf, search, expected):
    assert names(the_event(conf), search=search) == expected


def test_filter_by_check_in(ctx, conf):
    event = the_event(conf)
    assert names(event, checked_in=True) == ["Bruno Bento", "Eva Esteves"]
    assert names(event, checked_in=False) == ["Ana Alvarez", "Carla Costa", "dave Duarte"]


def test_has_connections_counts_only_scans_at_this_event(ctx, conf):
    event = the_event(conf)
    # Carla and Dave met, but at the other event.
    assert names(event, has_connections=True) == ["Ana Alvarez", "Bruno Bento"]
    assert names(event, has_connections=False) == ["Carla Costa", "dave Duarte", "Eva Esteves"]
    assert names(event, has_connections=True, checked_in=True, search="bent") == ["Bruno Bento"]


def test_sort_by_name_registration_and_check_in_time(ctx, conf):
    event = the_event(conf)
    by_name = ["Ana Alvarez", "Bruno Bento", "Carla Costa", "dave Duarte", "Eva Esteves"]  # case ignored
    assert names(event, sort="name") == by_name
    assert names(event, sort="-name") == by_name[::-1]
    assert names(event, sort="registered") == by_name  # registered in that order
    assert names(event, sort="-registered") == by_name[::-1]
    # Eva came in first, then Bruno; people not checked in yet come last either way.
    assert names(event, sort="checked_in")[:2] == ["Eva Esteves", "Bruno Bento"]
    assert names(event, sort="-checked_in")[:2] == ["Bruno Bento", "Eva Esteves"]
    assert set(names(event, sort="-checked_in")[2:]) == {"Ana Alvarez", "Carla Costa", "dave Duarte"}
    assert names(event, sort="nonsense") == by_name


def test_connection_counts_are_distinct_people_met_at_this_event(ctx, conf):
    event = the_event(conf)
    ids = {key: db.session.get(Attendance, ident).user_id for key, ident in conf.ids.items()}
    counts = service.connection_counts(event, list(ids.values()))
    assert counts == {ids["ana"]: 1, ids["bruno"]: 1}  # two scans, one person; the other event's don't count
    assert service.connection_counts(event, []) == {}


def test_the_list_page_filters_sorts_and_shows_check_ins(app, conf, client, auth):
    auth.as_user(_user(app, conf.owner_id))
    page = client.get(f"/events/{conf.slug}/attendees?q=acme&sort=-name").get_data(as_text=True)
    assert page.index("Carla Costa") < page.index("Ana Alvarez")
    assert "Bruno Bento" not in page
    page = client.get(f"/events/{conf.slug}/attendees?checked_in=yes").get_data(as_text=True)
    assert "Bruno Bento" in page and "by Olga Organizer" in page and "Ana Alvarez" not in page
    page = client.get(f"/events/{conf.slug}/attendees?connections=no&checked_in=bogus").get_data(as_text=True)
    assert "Carla Costa" in page and "Ana Alvarez" not in page  # an unknown filter value is no filter
    assert f'href="/events/{conf.slug}/attendees.csv"' in page
    assert f'href="/events/{conf.slug}/attendees/{conf.ids["carla"]}/badge.pdf"' in page
    # Sort links keep the filters.
    assert f'href="/events/{conf.slug}/attendees?connections=no&amp;sort=-name"' in page


def _user(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def test_the_list_pages_by_fifty(app, client, auth):
    organizer = make_user(app, role="organizer", password=None)
    event = make_event(app, organizer, "Big Conference")
    with app.app_context():
        big = db.session.get(Event, event.id)
        for n in range(120):
            events.add_attendee(big, accounts.create_user(f"p{n:03}@example.com", f"Person {n:03}"))
        db.session.commit()
    auth.as_user(organizer)

    first = client.get(f"/events/{event.slug}/attendees").get_data(as_text=True)
    last = client.get(f"/events/{event.slug}/attendees?page=5").get_data(as_text=True)

    assert first.count('<tr id="attendance-') == 25 and "Person 000" in first and "Person 025" not in first
    assert "Showing 1\u201325 of 120" in first and "Page 1 of 5" in first
    assert f'href="/events/{event.slug}/attendees?page=2"' in first
    assert last.count('<tr id="attendance-') == 20 and "Person 119" in last and "Person 099" not in last
    assert "Showing 101\u2013120 of 120" in last
    assert client.get(f"/events/{event.slug}/attendees?page=99").status_code == 200


# --- Removing a registrant -------------------------------------------------------------------


def test_removing_a_registrant_keeps_their_scans_but_voids_the_badge(ctx, conf):
    event = the_event(conf)
    bruno = db.session.get(Attendance, conf.ids["bruno"])
    scans_before = db.session.scalar(select(func.count()).select_from(Scan))

    service.remove_registrant(event, bruno)
    db.session.commit()

    assert db.session.get(Attendance, conf.ids["bruno"]) is None
    with pytest.raises(NotFound):
        badges.by_token(conf.tokens["bruno"])
    assert db.session.scalar(select(func.count()).select_from(Scan)) == scans_before
    assert "Bruno Bento" not in names(event)
    ana_id = db.session.get(Attendance, conf.ids["ana"]).user_id
    assert service.connection_counts(event, [ana_id]) == {ana_id: 1}  # still met him


def test_removing_someone_of_another_event_is_refused(ctx, conf):
    carla = db.session.get(Attendance, conf.ids["carla"])
    other = db.session.scalar(select(Event).where(Event.id != conf.event_id))
    with pytest.raises(NotFound):
        service.remove_registrant(other, carla)


def test_remove_asks_first_then_removes_and_returns_to_the_same_view(app, conf, client, auth):
    auth.as_user(_user(app, conf.owner_id))
    page = client.get(f"/events/{conf.slug}/attendees?q=bento").get_data(as_text=True)
    ask = f"/events/{conf.slug}/attendees?remove={conf.ids['bruno']}&amp;q=bento#confirm-remove"
    assert f'href="{ask}"' in page and 'id="confirm-remove"' not in page
    page = client.get(f"/events/{conf.slug}/attendees?q=bento&remove={conf.ids['bruno']}").get_data(as_text=True)
    action = f"/events/{conf.slug}/attendees/{conf.ids['bruno']}/remove?q=bento"
    assert 'id="confirm-remove"' in page and f'action="{action}"' in page and "Remove Bruno Bento?" in page
    assert client.get(f"/events/{conf.slug}/attendees?remove=999999").status_code == 404

    response = client.post(action)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == f"/events/{conf.slug}/attendees" and parse_qs(location.query) == {"q": ["bento"]}
    assert "Bruno Bento was removed" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get(f"/b/{conf.tokens['bruno']}").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Scan).where(Scan.event_id == conf.event_id)) == 2


# --- CSV export ------------------------------------------------------------------------------


def read_csv(response) -> tuple[bytes, list[dict[str, str]]]:
    raw = response.get_data()
    return raw, list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_the_csv_lists_everyone_once_with_check_in_and_no_notes(app, conf, client, auth):
    with app.app_context():  # a note the scanned person wrote about the scanner, too
        contact = db.session.scalar(select(Contact).where(Contact.owner_id == db.session.scalar(
            select(User.id).where(User.email == "bruno@example.com"))))
        contact.note = f"{NOTE} (Bruno's own)"
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Scan).where(Scan.note == NOTE)) == 2
    auth.as_user(_user(app, conf.owner_id))

    response = client.get(f"/events/{conf.slug}/attendees.csv")

    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    raw, rows = read_csv(response)
    assert raw.startswith(b"\xef\xbb\xbf")
    assert NOTE.encode() not in raw and b"PRIVATE" not in raw
    header = raw.decode("utf-8-sig").splitlines()[0].split(",")
    assert {"name", "email", "company", "headline", "checked_in_at"} <= set(header)
    assert sorted(row["email"] for row in rows) == sorted(
        ["ana@acme.test", "bruno@example.com", "carla@example.com", "dave@initech.test", "eva@example.com"])
    bruno = next(row for row in rows if row["email"] == "bruno@example.com")
    checked_in = datetime.fromisoformat(bruno["checked_in_at"])
    assert checked_in.utcoffset() == timedelta(hours=-4)  # New York, daylight time, with the offset written
    assert checked_in == T0 + timedelta(minutes=5)
    assert bruno["checked_in_by"] == "Olga Organizer" and bruno["connections"] == "1"
    assert bruno["company"] == "Globex" and bruno["headline"] == "Headline of Bruno"
    ana = next(row for row in rows if row["email"] == "ana@acme.test")
    assert ana["checked_in_at"] == "" and ana["connections"] == "1" and ana["badge_code"]
    assert datetime.fromisoformat(ana["registered_at"]).utcoffset() is not None


@pytest.mark.parametrize("value", ['=HYPERLINK("x")', "+1 555", "-2+3", "@SUM(A1)", "\tTab", "\rCR"])
def test_the_csv_neutralises_spreadsheet_formulas(app, client, auth, value):
    organizer = make_user(app, role="organizer", password=None)
    event = make_event(app, organizer)
    person = make_user(app, name=f"{value} name".strip(), company=value, password=None)
    attend(app, event, person)
    auth.as_user(organizer)

    _, rows = read_csv(client.get(f"/events/{event.slug}/attendees.csv"))

    row = next(row for row in rows if row["email"] == person.email)
    assert row["company"] == "'" + value
    if value == '=HYPERLINK("x")':
        assert row["name"] == '\'=HYPERLINK("x") name'


def test_spreadsheet_safe_leaves_ordinary_text_and_numbers_alone():
    assert service.spreadsheet_safe("Ana") == "Ana"
    assert service.spreadsheet_safe("ana=x") == "ana=x"
    assert service.spreadsheet_safe(3) == 3
    assert service.spreadsheet_safe('=HYPERLINK("x")') == "'=HYPERLINK(\"x\")"


# --- Statements per page ---------------------------------------------------------------------


def grow(app, event_id: int, total: int) -> None:
    """Bring the event to ``total`` attendees; every third checked in (each by
    someone else, as if by many door staff), each one met the previous person:
    so a lazy load of any of these per row would show in the count."""
    with app.app_context():
        event = db.session.get(Event, event_id)
        have = list(db.session.scalars(select(Attendance).where(Attendance.event_id == event_id)))
        for n in range(len(have), total):
            user = accounts.create_user(f"grow{n}@example.com", f"Grown {n:03}", company=f"Co {n % 7}")
            attendance = events.add_attendee(event, user)
            if n % 3 == 0:
                attendance.checked_in_at = T0
                attendance.checked_in_by = accounts.create_user(f"staff{n}@example.com", f"Door staff {n}")
            if have:
                db.session.add(Scan(event_id=event_id, scanner_id=user.id, scanned_id=have[-1].user_id,
                                    client_id=str(uuid.uuid4()), note=NOTE))
            have.append(attendance)
        db.session.commit()


def test_the_list_and_the_csv_take_the_same_statements_for_10_or_60_attendees(app, client, auth):
    organizer = make_user(app, role="organizer", password=None)
    event = make_event(app, organizer)
    auth.as_user(organizer)
    urls = [f"/events/{event.slug}/attendees",
            f"/events/{event.slug}/attendees?connections=yes&q=grown&sort=-checked_in",
            f"/events/{event.slug}/attendees.csv"]

    grow(app, event.id, 10)
    small = [count_statements(app, client, url) for url in urls]
    grow(app, event.id, 60)
    large = [count_statements(app, client, url) for url in urls]

    assert large == small, f"statements at 10 attendees {small}, at 60 {large}"
    assert client.get(urls[0]).get_data(as_text=True).count('<tr id="attendance-') == service.PER_PAGE


# --- Searching and paging a large list -------------------------------------------------------


@pytest.mark.parametrize(("search", "expected"), [
    ("zoë", ["Zoë Ångström"]),
    ("ZOË", ["Zoë Ångström"]),  # any case
    ("zo", ["Zoë Ångström", "Зоя Иванова"]),  # shorter than a trigram: still found (her email is zoya@)
    ("ванова", ["Зоя Иванова"]),  # another alphabet
    ("o'br", ["Seán O'Brien"]),  # quotes are text
    ('"', []),
    ("a_b", ["Ann Underscore"]),  # _ is a character, not "any one"
    ("ac/dc", ["Slash Person"]),
    ("near *", []),
    ("x" * 300, []),
])
def test_search_takes_any_text_literally(ctx, conf, search, expected):
    event = the_event(conf)
    for name, email, company in (("Zoë Ångström", "zoe@example.com", ""), ("Зоя Иванова", "zoya@example.com", ""),
                                 ("Seán O'Brien", "sean@example.com", ""), ("Ann Underscore", "a_b@example.com", ""),
                                 ("Axb Person", "axb@example.com", ""), ("Slash Person", "slash@example.com", "AC/DC")):
        events.add_attendee(event, accounts.create_user(email, name, company=company))
    db.session.commit()
    assert names(event, search=search) == expected


def test_the_list_page_shows_who_met_how_many_and_who_checked_them_in(app, conf, client, auth):
    auth.as_user(_user(app, conf.owner_id))
    page = client.get(f"/events/{conf.slug}/attendees").get_data(as_text=True)
    rows = dict(re.findall(r'<tr id="attendance-(\d+)">(.*?)</tr>', page, re.S))
    met = {key: re.findall(r"<td>(\d+)</td>", rows[str(ident)])[0] for key, ident in conf.ids.items()}
    assert met == {"ana": "1", "bruno": "1", "carla": "0", "dave": "0", "eva": "0"}  # the other event's scan: no
    assert "by Olga Organizer" in rows[str(conf.ids["bruno"])] and "—" in rows[str(conf.ids["ana"])]


@pytest.mark.parametrize("page", ["abc", "0", "-1", "99999999999999999999999999", "7"])
def test_a_page_number_that_makes_no_sense_is_the_first_or_an_empty_page(app, conf, client, auth, page):
    auth.as_user(_user(app, conf.owner_id))
    response = client.get(f"/events/{conf.slug}/attendees", query_string={"page": page})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.count('<tr id="attendance-') in (5, 0)
    assert "5 registered" in text


def test_a_filtered_list_counts_its_matches_and_pages_them(app, client, auth):
    organizer = make_user(app, role="organizer", password=None)
    event = make_event(app, organizer, "Big Conference")
    with app.app_context():
        big = db.session.get(Event, event.id)
        for n in range(60):
            events.add_attendee(big, accounts.create_user(f"p{n:03}@example.com", f"Person {n:03}",
                                                          company="Acme" if n % 2 else "Globex"))
        db.session.commit()
    auth.as_user(organizer)

    first = client.get(f"/events/{event.slug}/attendees?q=acme").get_data(as_text=True)
    second = client.get(f"/events/{event.slug}/attendees?q=acme&page=2").get_data(as_text=True)

    assert "Showing 1\u201325 of 30 matching" in first and "Page 1 of 2" in first
    assert f'href="/events/{event.slug}/attendees?q=acme&amp;page=2"' in first
    assert "Showing 26\u201330 of 30 matching" in second and "Person 059" in second and "Person 058" not in second
    # "Remove…" keeps the search and the page.
    assert re.search(rf'href="/events/{event.slug}/attendees\?remove=\d+&amp;q=acme&amp;page=2#confirm-remove"',
                     second)
