""""People you know who are going": on the event page, the join page, and
right after joining — only the viewer's own contacts, only those who chose to
be on the "who's here" list, never blocked or removed people, never past events."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.factories import in_context, make_event, make_user
from webapp.extensions import db
from webapp.models import Block, Contact, Event, User, utcnow
from webapp.services import contacts, events, joining


def register(app, event: Event, user: User, *, listed: bool = True) -> None:
    with in_context(app):
        events.add_attendee(db.session.get(Event, event.id), db.session.get(User, user.id), listed=listed)
        db.session.commit()


def know(app, owner: User, person: User, **fields) -> int:
    """``owner`` has a contact entry for ``person``; returns its id."""
    with in_context(app):
        contact = Contact(owner_id=owner.id, user_id=person.id, **fields)
        db.session.add(contact)
        db.session.commit()
        return contact.id


def going_names(app, owner: User, event: Event) -> list[str]:
    with app.app_context():
        return [c.user.name for c in contacts.attending(db.session.get(User, owner.id), event.id)]


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_only_listed_live_contacts_at_this_event_are_going(app):
    olga = make_user(app, role="organizer")
    gala, other = make_event(app, olga, "Spring Gala"), make_event(app, olga, "Autumn Fair")
    vic = make_user(app, name="Vic Viewer")
    register(app, gala, vic, listed=False)
    people = {name: make_user(app, name=name) for name in (
        "Ana Listed", "Ben Unlisted", "Cy Elsewhere", "Dee Removed", "Eve Blocked", "Fay Blocker",
        "Gus Stranger", "Hal Disabled")}
    for name, person in people.items():
        if name != "Gus Stranger":
            know(app, vic, person, deleted_at=utcnow() if name == "Dee Removed" else None)
        if name == "Cy Elsewhere":
            register(app, other, person)
        else:
            register(app, gala, person, listed=name != "Ben Unlisted")
    with app.app_context():
        db.session.add_all([Block(blocker_id=vic.id, blocked_id=people["Eve Blocked"].id),
                            Block(blocker_id=people["Fay Blocker"].id, blocked_id=vic.id)])
        db.session.get(User, people["Hal Disabled"].id).is_disabled = True
        db.session.commit()
    assert going_names(app, vic, gala) == ["Ana Listed"]
    assert going_names(app, vic, other) == ["Cy Elsewhere"]


def test_the_event_page_shows_my_contacts_going_and_links_to_their_entries(app, client, auth):
    olga = make_user(app, role="organizer")
    gala = make_event(app, olga, "Spring Gala")
    vic, ana = make_user(app, name="Vic Viewer"), make_user(app, name="Ana Listed")
    gus = make_user(app, name="Gus Stranger")
    for person in (vic, ana, gus):
        register(app, gala, person)
    ana_entry = know(app, vic, ana)
    auth.as_user(vic)
    body = page(client, f"/events/{gala.slug}")
    assert "People you know who are going" in body
    assert "Ana Listed" in body and f'href="/contacts/{ana_entry}"' in body
    assert "Gus Stranger" not in body


def test_another_users_contacts_never_show_on_my_page(app, client, auth):
    olga = make_user(app, role="organizer")
    gala = make_event(app, olga, "Spring Gala")
    vic, otto = make_user(app, name="Vic Viewer"), make_user(app, name="Otto Other")
    ida = make_user(app, name="Ida Ottos")
    for person in (vic, otto, ida):
        register(app, gala, person)
    know(app, otto, ida, note="Otto's private note about Ida")
    auth.as_user(vic)
    body = page(client, f"/events/{gala.slug}")
    assert "People you know who are going" not in body and "Ida Ottos" not in body and "private note" not in body
    auth.as_user(otto)
    assert "Ida Ottos" in page(client, f"/events/{gala.slug}")


def test_an_organizer_who_doesnt_attend_sees_their_contacts_going(app, client, auth):
    olga = make_user(app, role="organizer")
    gala = make_event(app, olga, "Spring Gala")
    ana = make_user(app, name="Ana Listed")
    register(app, gala, ana)
    know(app, olga, ana)
    auth.as_user(olga)
    assert "Ana Listed" in page(client, f"/events/{gala.slug}")


def test_past_and_cancelled_events_show_nothing(app, client, auth):
    olga = make_user(app, role="organizer")
    past = make_event(app, olga, "Old Meetup", days_from_now=-3)
    cancelled = make_event(app, olga, "Rained Off")
    vic, ana = make_user(app, name="Vic Viewer"), make_user(app, name="Ana Listed")
    for event in (past, cancelled):
        register(app, event, vic)
        register(app, event, ana)
    know(app, vic, ana)
    with app.app_context():
        events.cancel_event(db.session.get(Event, cancelled.id))
        db.session.commit()
    auth.as_user(vic)
    for event in (past, cancelled):
        body = page(client, f"/events/{event.slug}")
        assert "People you know who are going" not in body and "Ana Listed" not in body


def test_many_contacts_show_twelve_faces_and_a_count_of_the_rest(app, client, auth):
    olga = make_user(app, role="organizer")
    gala = make_event(app, olga, "Spring Gala")
    vic = make_user(app, name="Vic Viewer")
    register(app, gala, vic)
    for n in range(14):
        person = make_user(app, name=f"Friend {n:02d}")
        register(app, gala, person)
        know(app, vic, person)
    auth.as_user(vic)
    body = page(client, f"/events/{gala.slug}")
    assert body.count('href="/contacts/') == 12
    assert "Friend 11" in body and "Friend 12" not in body
    assert "and 2 more" in body and f'href="/events/{gala.slug}/people"' in body


def test_the_join_page_shows_who_i_know_before_i_join(app, client, auth):
    olga = make_user(app, role="organizer")
    gala = make_event(app, olga, "Spring Gala")
    vic, ana = make_user(app, name="Vic Viewer"), make_user(app, name="Ana Listed")
    register(app, gala, ana)
    know(app, vic, ana)
    assert "Ana Listed" not in page(client, f"/join/{gala.join_code}")  # signed out: nobody's contacts
    auth.as_user(vic)
    assert "Ana Listed" in page(client, f"/join/{gala.join_code}")


def test_right_after_joining_i_see_who_i_know_there(app, client, auth):
    olga = make_user(app, role="organizer")
    gala = make_event(app, olga, "Spring Gala")
    vic, ana, ben = make_user(app, name="Vic Viewer"), make_user(app, name="Ana Listed"), make_user(app, name="Ben Too")
    register(app, gala, ana)
    register(app, gala, ben)
    know(app, vic, ana)
    know(app, vic, ben)
    auth.as_user(vic)
    response = client.post(f"/join/{gala.join_code}", data={})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == f"/events/{gala.slug}/badge"  # the badge at once, who I know under it
    body = page(client, location.path)
    assert "in! 2 people you know are going too: see below your badge." in body
    assert "Ana Listed" in body and "Ben Too" in body and "How to connect" in body


def test_joining_with_nobody_i_know_there_lands_on_my_badge_as_before(app, client, auth):
    olga = make_user(app, role="organizer")
    gala = make_event(app, olga, "Spring Gala")
    vic = make_user(app, name="Vic Viewer")
    auth.as_user(vic)
    response = client.post(f"/join/{gala.join_code}", data={})
    assert urlsplit(response.headers["Location"]).path == f"/events/{gala.slug}/badge"


def test_accepting_an_invitation_shows_who_i_know_there(app, client):
    olga = make_user(app, role="organizer")
    gala = make_event(app, olga, "Spring Gala")
    vic, ana = make_user(app, "vic@example.com", name="Vic Viewer"), make_user(app, name="Ana Listed")
    register(app, gala, ana)
    know(app, vic, ana)
    with app.app_context():
        event, invitee = db.session.get(Event, gala.id), db.session.get(User, vic.id)
        link = joining.invitation_link(event, invitee, utcnow())
    path = urlsplit(link).path
    assert "Ana Listed" not in page(client, path)  # not signed in yet: nobody's contacts shown
    response = client.post(path, data={})
    location = urlsplit(response.headers["Location"])
    assert location.path == f"/events/{gala.slug}/badge"
    body = page(client, location.path)
    assert "1 person you know is going too" in body and "Ana Listed" in body
