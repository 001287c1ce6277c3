"""The home page's "Get back in touch": the same due list as the digest (top
five, most overdue first, a reason each) with Done / Snooze buttons that POST
with CSRF and a link to log a touch; an empty state that says what to do."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from tests.factories import attend, make_event, make_user, reload
from tests.test_digest import add_contact, csrf_token
from webapp.models import Contact, utcnow


def home(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def section(body: str) -> str:
    return body[body.index('id="get-back-title"'):body.index("Recent connections")]


def test_the_most_overdue_five_come_with_a_reason_and_a_link_to_the_rest(app, client, auth):
    ann = make_user(app, name="Ann Archer", headline="Head of Growth")
    now = utcnow()
    for n in range(7):  # Person 6 is the most overdue
        add_contact(app, ann, name=f"Person {n}", touched=now - timedelta(days=31 + n))
    add_contact(app, ann, name="Not Yet", touched=now - timedelta(days=3))
    seeker = make_user(app, name="Sol Seeker", looking_for="a designer")
    add_contact(app, ann, seeker, touched=now - timedelta(days=60))
    auth.as_user(ann)

    body = home(client)
    part = section(body)
    names = re.findall(r"<strong>(Person \d|Sol Seeker|Not Yet)</strong>", part)
    assert names == ["Sol Seeker", "Person 6", "Person 5", "Person 4", "Person 3"]
    assert "They&#39;re looking for a designer — know someone?" in part
    assert part.count("Share your news: you&#39;re now Head of Growth.") == 4
    assert 'href="/contacts/losing-touch">All 8 due</a>' in part
    assert part.count(">Done</button>") == 5 and part.count(">Snooze a week</button>") == 5
    assert part.count(">Log a touch</a>") == 5
    assert "Hi Ann" in body and "Recent connections" in body  # what the home page showed before stays


def test_an_event_we_both_go_to_is_on_the_home_page_too(app, client, auth):
    ann, bob = make_user(app, name="Ann Archer"), make_user(app, name="Bob Baker")
    organizer = make_user(app, role="organizer")
    event = make_event(app, organizer, "Harbour Mixer", days_from_now=9)
    attend(app, event, ann)
    attend(app, event, bob)
    add_contact(app, ann, bob, touched=utcnow() - timedelta(days=45))
    auth.as_user(ann)
    part = section(home(client))
    assert "You&#39;re both going to Harbour Mixer on" in part
    assert f'href="/events/{event.slug}">See the event</a>' in part


def test_done_and_snooze_are_posts_with_csrf_that_come_back_home(app, client, auth, csrf):
    ann = make_user(app)
    done = add_contact(app, ann, name="Dee Done", touched=utcnow() - timedelta(days=40))
    later = add_contact(app, ann, name="Sam Snooze", touched=utcnow() - timedelta(days=35))
    auth.as_user(ann)
    body = home(client)
    touch_url = f"/contacts/{done.id}/touch"
    snooze_url = f"/contacts/{later.id}/snooze"
    assert f'action="{touch_url}"' in body and f'action="{snooze_url}"' in body

    assert client.post(touch_url, data={"kind": "other", "next": "/"}).status_code in (400, 403)  # no token
    assert reload(app, Contact, done.id).next_reminder_at <= utcnow()

    token = csrf_token(client.get("/"))
    response = client.post(touch_url, data={"csrf_token": token, "kind": "other", "next": "/"})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/"
    assert reload(app, Contact, done.id).next_reminder_at > utcnow() + timedelta(days=29)
    response = client.post(snooze_url, data={"csrf_token": token, "next": "/"})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/"
    assert timedelta(days=6) < reload(app, Contact, later.id).next_reminder_at - utcnow() <= timedelta(days=7)

    assert "Nobody is due right now" in section(home(client))


def test_before_any_cadence_it_says_how_to_start(app, client, auth):
    ann = make_user(app)
    add_contact(app, ann, name="Old Friend", touched=utcnow() - timedelta(days=400), cadence=None)
    auth.as_user(ann)
    part = section(home(client))
    assert "give a tag a cadence" in part and 'href="/tags"' in part
    assert "Old Friend" not in part and "losing-touch" not in part


def test_only_ones_own_contacts_are_listed(app, client, auth):
    ann, other = make_user(app), make_user(app)
    add_contact(app, other, name="Their Friend", touched=utcnow() - timedelta(days=40))
    add_contact(app, ann, name="My Friend", touched=utcnow() - timedelta(days=1))
    auth.as_user(ann)
    part = section(home(client))
    assert "Their Friend" not in part and "My Friend" not in part and "Nobody is due right now" in part
