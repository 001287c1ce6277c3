"""The address book pages: search, filters and sorting, ticking people to tag
them, adding and editing someone, logging touches, cadences, tags and the
losing-touch list — each over HTTP, with CSRF, and only ever one's own."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from tests.conftest import EVENT_ROLES, csrf_token_of
from tests.factories import count_statements, make_event, make_user, reload
from webapp.extensions import db
from webapp.models import Contact, Interaction, Tag, User, utcnow
from webapp.services import cadences, tags

ACCESS_TABLE_RULES = {"/contacts/new", "/contacts/losing-touch", "/tags"}


def add_contact(app, owner, name, *, touched_days_ago=None, **fields) -> int:
    with app.app_context():
        touched = utcnow() - timedelta(days=touched_days_ago) if touched_days_ago is not None else None
        entry = Contact(owner_id=owner.id, name=name, source="manual", state="done", last_touched_at=touched,
                        **fields)
        db.session.add(entry)
        db.session.commit()
        return entry.id


def tag_contact(app, contact_id, *names, cadence=None):
    with app.app_context():
        entry = db.session.get(Contact, contact_id)
        tags.add(entry, names)
        if cadence:
            for name in names:
                cadences.set_tag_cadence(tags.find(entry.owner_id, name), cadence)
        db.session.commit()


def names_on(page: str) -> list[str]:
    return [html.unescape(name) for name in re.findall(r'class="person-row">.*?<strong>([^<]+)</strong>', page, re.S)]


@pytest.fixture
def book(app, auth):
    """Olive's address book: a MeetLoop member and three people she added; she is signed in."""
    olive = make_user(app, "olive@example.com", name="Olive Owner")
    member = make_user(app, "mia@example.com", name="Mia Member", headline="Data engineer", company="Northwind",
                       share_email=False)
    with app.app_context():
        linked = Contact(owner_id=olive.id, user_id=member.id, source="scan", state="new",
                         last_touched_at=utcnow() - timedelta(days=2), note="Talked about Kafka")
        db.session.add(linked)
        db.session.commit()
        ids = {"mia": linked.id}
    ids["zed"] = add_contact(app, olive, "Zed Zulu", company="Acme", touched_days_ago=300)
    ids["amy"] = add_contact(app, olive, "Amy Adams", email="amy@old-job.example", touched_days_ago=10)
    ids["bo"] = add_contact(app, olive, "Bo Brown", headline="Recruiter", touched_days_ago=40)
    tag_contact(app, ids["zed"], "Former colleagues")
    tag_contact(app, ids["amy"], "Former colleagues", "Clients")
    auth.as_user(olive)
    return {"olive": olive, "member": member, **ids}


# --- The list -------------------------------------------------------------------------------------


def test_the_list_is_sorted_by_last_touch_and_shows_current_profiles(client, book):
    page = client.get("/contacts").get_data(as_text=True)
    assert names_on(page) == ["Mia Member", "Amy Adams", "Bo Brown", "Zed Zulu"]
    assert "Data engineer" in page and "Northwind" in page


@pytest.mark.parametrize(("query", "expected"), [
    ("?q=northwind", ["Mia Member"]),  # the member's current company
    ("?q=KAFKA", ["Mia Member"]),  # my own note
    ("?q=old-job", ["Amy Adams"]),  # an added contact's email
    ("?q=mia%40example.com", []),  # an email the member doesn't share
    ("?q=100%25", []),  # % is matched literally
    ("?sort=name", ["Amy Adams", "Bo Brown", "Mia Member", "Zed Zulu"]),
    ("?state=new", ["Mia Member"]),
    ("?tag={tag}", ["Amy Adams", "Zed Zulu"]),
    ("?tag={tag}&q=zed", ["Zed Zulu"]),
    ("?tag=999999", []),  # a deleted tag: nobody, and a link to everyone
    ("?sort=bogus&state=nope&event=x", ["Mia Member", "Amy Adams", "Bo Brown", "Zed Zulu"]),
])
def test_search_filters_and_sorting(app, client, book, query, expected):
    with app.app_context():
        tag_id = tags.find(book["olive"].id, "Former colleagues").id
    response = client.get("/contacts" + query.format(tag=tag_id))
    assert response.status_code == 200
    assert sorted(names_on(response.get_data(as_text=True))) == sorted(expected)
    if "sort=name" in query:
        assert names_on(response.get_data(as_text=True)) == expected


def test_a_tag_of_someone_else_filters_to_nobody(app, client, book):
    stranger = make_user(app)
    with app.app_context():
        theirs = tags.get_or_create(db.session.get(User, stranger.id), "Former colleagues")
        db.session.commit()
        tag_id = theirs.id
    assert names_on(client.get(f"/contacts?tag={tag_id}").get_data(as_text=True)) == []


def test_the_list_pages_by_twenty_five(app, client, auth):
    owner = make_user(app)
    with app.app_context():
        db.session.add_all(Contact(owner_id=owner.id, name=f"Person {n:03}", source="manual", state="done")
                           for n in range(55))
        db.session.commit()
    auth.as_user(owner)
    first = client.get("/contacts?sort=name").get_data(as_text=True)
    third = client.get("/contacts?sort=name&page=3").get_data(as_text=True)
    assert len(names_on(first)) == 25 and names_on(third) == [f"Person {n:03}" for n in range(50, 55)]
    assert "Page 1 of 3" in first and "sort=name" in re.search(r'rel="next"[^>]*|href="[^"]*page=2[^"]*"', first)[0]


def test_an_empty_book_points_to_the_scanner(client, auth, app):
    auth.as_user(make_user(app))
    page = client.get("/contacts").get_data(as_text=True)
    assert "No contacts yet" in page and 'href="/scan"' in page


# --- Ticking people to tag them ---------------------------------------------------------------------


def test_bulk_tag_and_untag_the_ticked_people_with_csrf(app, client, csrf, book):
    token = csrf_token_of(client, "/contacts")
    others = make_user(app)
    foreign = add_contact(app, others, "Not Mine")
    response = client.post("/contacts/bulk", data={
        "csrf_token": token, "action": "tag", "tag": "Reactivate", "back": "/contacts?sort=name",
        "contact": [book["bo"], book["zed"], foreign],
    })
    assert response.status_code == 302 and response.headers["Location"].endswith("/contacts?sort=name")
    with app.app_context():
        tag = tags.find(book["olive"].id, "reactivate")
        assert {c.id for c in db.session.scalars(db.select(Contact).where(Contact.tags.contains(tag)))} == {
            book["bo"], book["zed"]}
        assert db.session.get(Contact, foreign).tags == []

    client.post("/contacts/bulk", data={"csrf_token": token, "action": "untag", "tag": "REACTIVATE",
                                        "contact": [book["zed"]]})
    with app.app_context():
        assert [t.name for t in db.session.get(Contact, book["zed"]).tags] == ["Former colleagues"]


def test_bulk_without_csrf_or_ticks_changes_nothing(app, client, csrf, book):
    assert client.post("/contacts/bulk", data={"action": "tag", "tag": "X", "contact": [book["bo"]]}
                       ).status_code == 403
    page = client.post("/contacts/bulk", data={"csrf_token": csrf_token_of(client, "/contacts"), "action": "tag",
                                               "tag": "X"}, follow_redirects=True).get_data(as_text=True)
    assert "Tick the people first" in page
    with app.app_context():
        assert tags.find(book["olive"].id, "X") is None or db.session.get(Contact, book["bo"]).tags == []


# --- One contact's page -----------------------------------------------------------------------------


def test_the_contact_page_shows_how_we_met_history_and_reminder(app, client, book):
    with app.app_context():
        entry = db.session.get(Contact, book["amy"])
        cadences.log_touch(entry, "article", note="Sent the pricing piece")
        db.session.commit()
    page = client.get(f"/contacts/{book['amy']}").get_data(as_text=True)
    assert "Shared an article" in page and "Sent the pricing piece" in page
    assert "Former colleagues, Clients" in page or ("Former colleagues" in page and "Clients" in page)
    assert "Reminder" in page and "set a cadence below" in page


def test_logging_a_touch_from_the_page(app, client, csrf, book):
    path = f"/contacts/{book['bo']}"
    response = client.post(f"{path}/touch", data={"csrf_token": csrf_token_of(client, path), "kind": "call",
                                                   "note": "Caught up on <b>hiring</b>"})
    assert response.status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert "Caught up on &lt;b&gt;hiring&lt;/b&gt;" in page
    with app.app_context():
        (touch,) = db.session.scalars(db.select(Interaction).where(Interaction.contact_id == book["bo"])).all()
        assert touch.kind == "call" and utcnow() - touch.at < timedelta(minutes=5)


@pytest.mark.parametrize(("data", "field_error"), [
    ({"kind": "dance"}, "Not a valid choice"),
    ({"kind": "call", "on": "2999-01-01"}, "in the future"),
    ({"kind": "call", "on": "yesterday-ish"}, "Not a valid date"),
])
def test_a_bad_touch_shows_the_error_on_its_field_and_logs_nothing(app, client, csrf, book, data, field_error):
    path = f"/contacts/{book['bo']}"
    response = client.post(f"{path}/touch", data={"csrf_token": csrf_token_of(client, path), **data})
    assert response.status_code == 422 and field_error in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Interaction.id))) == 0


def test_a_cadence_and_tags_from_the_page(app, client, csrf, book):
    path = f"/contacts/{book['bo']}"
    token = csrf_token_of(client, path)
    assert client.post(f"{path}/cadence", data={"csrf_token": token, "cadence": "90"}).status_code == 302
    assert client.post(f"{path}/tags", data={"csrf_token": token, "tags": "Recruiters,  vip , VIP"}
                       ).status_code == 302
    with app.app_context():
        entry = db.session.get(Contact, book["bo"])
        assert entry.cadence_days == 90 and sorted(t.name for t in entry.tags) == ["Recruiters", "vip"]
        assert entry.next_reminder_at == entry.last_touched_at + timedelta(days=90)
    assert re.search(r'<option[^>]*selected[^>]*value="90"|<option[^>]*value="90"[^>]*selected',
                     client.get(path).get_data(as_text=True))
    refused = client.post(f"{path}/cadence", data={"csrf_token": token, "cadence": "5000"})
    assert refused.status_code == 422 and "between 1 and 730" in refused.get_data(as_text=True)
    many = ",".join(f"t{n}" for n in range(11))
    refused = client.post(f"{path}/tags", data={"csrf_token": token, "tags": many})
    assert refused.status_code == 422 and "at most 10 tags" in refused.get_data(as_text=True)


def test_adding_someone_and_editing_their_details(app, client, csrf, book):
    token = csrf_token_of(client, "/contacts/new")
    response = client.post("/contacts/new", data={
        "csrf_token": token, "name": "Eve Example", "email": "EVE@Example.com", "company": "Initech",
        "tags": "Clients, Mentors", "note": "Met at the 2019 offsite",
    })
    assert response.status_code == 302
    new_id = int(urlsplit(response.headers["Location"]).path.rsplit("/", 1)[1])
    with app.app_context():
        entry = db.session.get(Contact, new_id)
        assert (entry.owner_id, entry.email, entry.source, entry.state) == (book["olive"].id, "eve@example.com",
                                                                            "manual", "done")
        assert sorted(t.name for t in entry.tags) == ["Clients", "Mentors"]

    twice = client.post("/contacts/new", data={"csrf_token": token, "name": "Eve Again", "email": "eve@example.com"})
    assert twice.status_code == 422 and "already have a contact with this email" in twice.get_data(as_text=True)
    blank = client.post("/contacts/new", data={"csrf_token": token, "name": " "})
    assert blank.status_code == 422 and "at least a name or an email" in blank.get_data(as_text=True)

    edited = client.post(f"/contacts/{new_id}/details", data={"csrf_token": token, "name": "Eve Examplar",
                                                              "email": "amy@old-job.example"})
    assert edited.status_code == 422 and "Another of your contacts has this email" in edited.get_data(as_text=True)
    client.post(f"/contacts/{new_id}/details", data={"csrf_token": token, "name": "Eve Examplar", "phone": "+351 1"})
    assert reload(app, Contact, new_id).name == "Eve Examplar"


def test_a_members_details_are_not_editable(app, client, csrf, book):
    path = f"/contacts/{book['mia']}"
    token = csrf_token_of(client, path)
    assert client.post(f"{path}/details", data={"csrf_token": token, "name": "X"}).status_code == 404
    assert "Edit details" not in client.get(path).get_data(as_text=True)


# --- Losing touch and tags pages ------------------------------------------------------------------------


def test_losing_touch_lists_due_first_and_its_buttons_work(app, client, csrf, book):
    tag_contact(app, book["zed"], "Former colleagues", cadence=90)  # Zed: 300 days → overdue; Amy: 10 days → not
    page = client.get("/contacts/losing-touch").get_data(as_text=True)
    assert names_on(page) == ["Zed Zulu", "Amy Adams"]
    assert re.search(r"Due <time [^>]*>(6|7) months ago</time>", page)
    token = csrf_token_of(client, "/contacts/losing-touch")
    client.post(f"/contacts/{book['zed']}/touch", data={"csrf_token": token, "kind": "other",
                                                         "next": "/contacts/losing-touch"})
    assert names_on(client.get("/contacts/losing-touch").get_data(as_text=True)) == ["Amy Adams", "Zed Zulu"]
    response = client.post(f"/contacts/{book['amy']}/snooze", data={"csrf_token": token,
                                                                    "next": "https://evil.example/"})
    assert urlsplit(response.headers["Location"]).netloc in ("", "localhost")  # never off-site


def test_the_reactivate_suggestion_tags_long_untouched_people(app, client, csrf, book):
    page = client.get("/contacts/losing-touch").get_data(as_text=True)
    assert "<strong>1 person</strong>" in page  # Zed, 300 days
    client.post("/contacts/reactivate", data={"csrf_token": csrf_token_of(client, "/contacts/losing-touch")})
    with app.app_context():
        assert [t.name for t in db.session.get(Contact, book["zed"]).tags] == ["Former colleagues", "Reactivate"]
    assert "Zed Zulu" in names_on(client.get("/contacts/losing-touch").get_data(as_text=True))


def test_the_tags_page_sets_a_cadence_renames_and_deletes(app, client, csrf, book):
    with app.app_context():
        tag_id = tags.find(book["olive"].id, "Former colleagues").id
    page = client.get("/tags").get_data(as_text=True)
    assert "Former colleagues" in page and "2 people" in page
    token = csrf_token_of(client, "/tags")
    client.post(f"/tags/{tag_id}/cadence", data={"csrf_token": token, f"t{tag_id}-cadence": "90"})
    assert reload(app, Tag, tag_id).cadence_days == 90
    assert reload(app, Contact, book["zed"]).next_reminder_at is not None
    assert re.search(r'<option[^>]*selected[^>]*value="90"|<option[^>]*value="90"[^>]*selected',
                     client.get("/tags").get_data(as_text=True))
    clash = client.post(f"/tags/{tag_id}/rename", data={"csrf_token": token, f"r{tag_id}-name": "clients"})
    assert clash.status_code == 422 and "already have a tag called Clients" in clash.get_data(as_text=True)
    client.post(f"/tags/{tag_id}/rename", data={"csrf_token": token, f"r{tag_id}-name": "Ex-colleagues"})
    assert reload(app, Tag, tag_id).name == "Ex-colleagues"
    client.post(f"/tags/{tag_id}/delete", data={"csrf_token": token})
    assert reload(app, Tag, tag_id) is None
    assert reload(app, Contact, book["zed"]).next_reminder_at is None


# --- Nobody else's --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", EVENT_ROLES)
@pytest.mark.parametrize("path", ["/contacts/new", "/contacts/losing-touch", "/tags"])
def test_address_book_pages_are_for_signed_in_people(client, world, role, path):
    world.sign_in(role)
    response = client.get(path)
    if role == "anonymous":
        assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    else:
        assert response.status_code == 200


@pytest.mark.parametrize(("suffix", "data"), [
    ("touch", {"kind": "call"}), ("snooze", {}), ("cadence", {"cadence": "30"}), ("tags", {"tags": "x"}),
    ("details", {"name": "Hacked"}), ("note", {"note": "Hacked"}), ("remove", {}),
])
def test_someone_elses_contact_is_not_found_for_every_action(app, client, book, suffix, data):
    stranger = make_user(app)
    theirs = add_contact(app, stranger, "Private Person", touched_days_ago=3)
    assert client.get(f"/contacts/{theirs}").status_code == 404
    assert client.post(f"/contacts/{theirs}/{suffix}", data=data).status_code == 404
    entry = reload(app, Contact, theirs)
    assert (entry.name, entry.note, entry.deleted_at, entry.cadence_days) == ("Private Person", "", None, None)


def test_someone_elses_tag_is_not_found(app, client, book):
    stranger = make_user(app)
    with app.app_context():
        tag = tags.get_or_create(db.session.get(User, stranger.id), "Secret")
        db.session.commit()
        tag_id = tag.id
    for action, data in (("cadence", {f"t{tag_id}-cadence": "30"}), ("rename", {f"r{tag_id}-name": "Mine"}),
                         ("delete", {})):
        assert client.post(f"/tags/{tag_id}/{action}", data=data).status_code == 404
    assert reload(app, Tag, tag_id).name == "Secret"


def test_losing_touch_pages_too(app, client, auth):
    owner = make_user(app)
    with app.app_context():
        for n in range(55):
            entry = Contact(owner_id=owner.id, name=f"Person {n:03}", source="manual", state="done",
                            last_touched_at=utcnow() - timedelta(days=100 + n))
            db.session.add(entry)
            db.session.flush()
            cadences.set_contact_cadence(entry, 30)
        db.session.commit()
    auth.as_user(owner)
    first = client.get("/contacts/losing-touch").get_data(as_text=True)
    last = client.get("/contacts/losing-touch?page=3").get_data(as_text=True)
    assert names_on(first)[:2] == ["Person 054", "Person 053"] and len(names_on(first)) == 25
    assert names_on(last) == [f"Person {n:03}" for n in range(4, -1, -1)]


# --- Searching and paging a large book --------------------------------------------------------------


@pytest.fixture
def varied_book(app, auth):
    """A book with accents, other alphabets, quotes and LIKE's wildcard characters in it."""
    owner = make_user(app, "vera@example.com", name="Vera Varied")
    add_contact(app, owner, "Zoë Ångström", company="Øresund Labs", touched_days_ago=1)
    add_contact(app, owner, "Зоя Иванова", headline="инженер", touched_days_ago=2)
    add_contact(app, owner, "Seán O'Brien", note='Said "hello" at the 100% event', touched_days_ago=3)
    add_contact(app, owner, "Ann Underscore", email="a_b@example.com", touched_days_ago=4)
    add_contact(app, owner, "Axb Person", email="axb@example.com", touched_days_ago=5)
    add_contact(app, owner, "Slash Person", company="AC/DC", touched_days_ago=6)
    auth.as_user(owner)
    return owner


@pytest.mark.parametrize(("q", "expected"), [
    ("zoë", ["Zoë Ångström"]),
    ("ZOË", ["Zoë Ångström"]),  # any case (ë itself is the same letter)
    ("zo", ["Zoë Ångström"]),  # shorter than a trigram: still found
    ("resund", ["Zoë Ångström"]),  # the company
    ("ванова", ["Зоя Иванова"]),  # another alphabet
    ("инжен", ["Зоя Иванова"]),  # the headline
    ("o'brien", ["Seán O'Brien"]),  # a quote
    ('"hello"', ["Seán O'Brien"]),  # the note, quotes and all
    ('"', ["Seán O'Brien"]),
    ("100%", ["Seán O'Brien"]),  # % is a character, not "anything"
    ("%", ["Seán O'Brien"]),
    ("a_b", ["Ann Underscore"]),  # _ is a character: not Axb Person
    ("_", ["Ann Underscore"]),
    ("ac/dc", ["Slash Person"]),  # the escape character itself
    ("*", []),
    ("near", []),
    ("zoë NEAR ångström", []),  # a phrase, not a query language
    ("  person  ", ["Axb Person", "Slash Person"]),  # whitespace collapsed
    ("x" * 300, []),  # far too long: no match, no error
])
def test_search_finds_any_text_literally_in_any_field(client, varied_book, q, expected):
    response = client.get("/contacts", query_string={"q": q})
    assert response.status_code == 200
    assert sorted(names_on(response.get_data(as_text=True))) == sorted(expected)


def test_a_search_pages_on_with_next_and_tells_more_than_it_shows_until_the_end(app, client, auth):
    owner = make_user(app)
    for n in range(30):
        add_contact(app, owner, f"Match {n:02}", touched_days_ago=n + 1)
    add_contact(app, owner, "Someone Else", touched_days_ago=1)
    auth.as_user(owner)

    first = client.get("/contacts?q=match").get_data(as_text=True)
    second = client.get("/contacts?q=match&page=2").get_data(as_text=True)
    beyond = client.get("/contacts?q=match&page=3")

    assert names_on(first) == [f"Match {n:02}" for n in range(25)]
    assert "More than 25 people match" in first and "Page 1" in first
    assert 'href="/contacts?q=match&amp;page=2" rel="next"' in first and 'rel="prev"' not in first
    assert names_on(second) == [f"Match {n:02}" for n in range(25, 30)]
    assert "30 people match" in second and 'rel="next"' not in second
    assert 'href="/contacts?q=match&amp;page=1" rel="prev"' in second
    assert beyond.status_code == 200 and "Nobody matches" in beyond.get_data(as_text=True)
    # Without a search the list counts everyone and says how many pages there are.
    assert "31 people" in client.get("/contacts").get_data(as_text=True)


@pytest.mark.parametrize("page", ["abc", "0", "-3", "2.5", "99999999999999999999999999", "٣"])
def test_a_page_number_that_makes_no_sense_is_the_first_or_an_empty_page(client, book, page):
    response = client.get("/contacts", query_string={"page": page, "sort": "name"})
    assert response.status_code == 200
    assert names_on(response.get_data(as_text=True)) in (["Amy Adams", "Bo Brown", "Mia Member", "Zed Zulu"], [])


def test_the_met_at_filter_offers_the_events_where_people_were_met_newest_first(app, client, auth):
    owner = make_user(app, role="organizer")
    older = make_event(app, owner, "Older Meetup", days_from_now=-30)
    newer = make_event(app, owner, "Newer Summit", days_from_now=-3)
    unmet = make_event(app, owner, "Nobody Met Here", days_from_now=-1)
    gone = make_event(app, owner, "Only A Removed Contact", days_from_now=-2)
    add_contact(app, owner, "Met Older", event_id=older.id, touched_days_ago=5)
    add_contact(app, owner, "Met Newer", event_id=newer.id, touched_days_ago=2)
    add_contact(app, owner, "Also Newer", event_id=newer.id, touched_days_ago=3)
    add_contact(app, owner, "Imported", touched_days_ago=1)
    removed = add_contact(app, owner, "Removed", event_id=gone.id, touched_days_ago=1)
    with app.app_context():
        db.session.get(Contact, removed).deleted_at = utcnow()
        db.session.commit()
    auth.as_user(owner)

    page = client.get("/contacts").get_data(as_text=True)
    menu = re.search(r'<select id="event" name="event">(.*?)</select>', page, re.S)[1]
    assert re.findall(r">([^<]+)</option>", menu) == ["Any event", "Newer Summit", "Older Meetup"]
    assert unmet.name not in menu and gone.name not in menu
    assert "4 people" in page
    filtered = client.get(f"/contacts?event={newer.id}").get_data(as_text=True)
    assert sorted(names_on(filtered)) == ["Also Newer", "Met Newer"] and "2 people match" in filtered
    assert f'<option selected value="{newer.id}">Newer Summit</option>' in filtered


def test_a_tag_filter_pages_and_every_row_lists_its_tags_by_name(app, client, auth):
    owner = make_user(app)
    ids = [add_contact(app, owner, f"Tagged {n:02}", touched_days_ago=n + 1) for n in range(27)]
    add_contact(app, owner, "Untagged", touched_days_ago=1)
    for contact_id in ids:
        tag_contact(app, contact_id, "zeta", "Alpha")
    auth.as_user(owner)
    with app.app_context():
        tag_id = tags.find(owner.id, "zeta").id

    first = client.get(f"/contacts?tag={tag_id}").get_data(as_text=True)
    second = client.get(f"/contacts?tag={tag_id}&page=2").get_data(as_text=True)

    assert names_on(first) == [f"Tagged {n:02}" for n in range(25)] and "27 people match" in first
    assert "Page 1 of 2" in first and names_on(second) == ["Tagged 25", "Tagged 26"]
    assert re.search(r"Tagged 00</strong>.*?in touch <time [^>]*>yesterday</time> · Alpha · zeta\s*</small>",
                     first, re.S)


def test_the_list_takes_the_same_statements_for_12_or_80_contacts(app, client, auth):
    owner = make_user(app, role="organizer")
    event = make_event(app, owner, days_from_now=-2)

    def grow(total: int) -> int:
        with app.app_context():
            have = db.session.scalar(db.select(db.func.count(Contact.id)).where(Contact.owner_id == owner.id))
        for n in range(have, total):
            member = make_user(app, f"member{n}@example.com", name=f"Member {n:03}") if n % 4 == 0 else None
            with app.app_context():
                entry = Contact(owner_id=owner.id, user_id=member.id if member else None, name=f"Person {n:03}",
                                source="scan" if member else "manual", state="new" if n % 5 == 0 else "done",
                                event_id=event.id if member else None, last_touched_at=utcnow() - timedelta(days=n))
                db.session.add(entry)
                db.session.commit()
                contact_id = entry.id
            tag_contact(app, contact_id, "every", f"own {n}")
        with app.app_context():
            return tags.find(owner.id, "every").id

    auth.as_user(owner)
    tag_id = grow(12)
    urls = ["/contacts", "/contacts?q=person", f"/contacts?tag={tag_id}", "/contacts?sort=name&state=new",
            f"/contacts?event={event.id}&q=member"]
    small = [count_statements(app, client, url) for url in urls]
    grow(80)
    large = [count_statements(app, client, url) for url in urls]
    assert large == small, f"statements at 12 contacts {small}, at 80 {large}"


def test_a_member_with_a_photo_shows_it_and_everyone_else_their_initial(app, client, book):
    with app.app_context():
        db.session.get(User, book["member"].id).photo_version = 3
        db.session.commit()
    page = client.get("/contacts").get_data(as_text=True)
    assert re.search(rf'<img class="avatar avatar-sm" src="[^"]*/{book["member"].id}/photo\.jpg\?v=3"', page)
    assert '<span class="avatar avatar-sm avatar-initials" aria-hidden="true">Z</span>' in page  # Zed Zulu
