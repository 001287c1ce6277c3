"""The follow-up inbox: drafts, what is pending, the actions and their one-click links."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote

from tests.conftest import BASE_URL
from tests.factories import in_context, make_event, make_user, reload
from webapp.extensions import db
from webapp.models import Contact, utcnow
from webapp.services import cadences, followups, tokens
from webapp.services import tags as tags_service


def make_contact(app, owner, person=None, event=None, *, note="", tags=(), met_hours_ago=1, **fields) -> Contact:
    """A contact for ``owner``, met ``met_hours_ago`` (attached inside ``ctx``, detached otherwise)."""
    with in_context(app) as detach:
        when = utcnow() - timedelta(hours=met_hours_ago)
        contact = Contact(owner_id=owner.id, user_id=person.id if person else None,
                          event_id=event.id if event else None, met_at=when, last_touched_at=when, note=note, **fields)
        db.session.add(contact)
        db.session.flush()
        if tags:
            tags_service.add(contact, list(tags))
        db.session.commit()
        if detach:
            db.session.refresh(contact)
            db.session.expunge(contact)
        return contact


def test_draft_names_the_event_the_note_and_the_intents(ctx):
    owner = make_user(ctx, name="Olivia Owner")
    maya = make_user(ctx, name="Maya Lopez", looking_for="solar investors", share_email=True)
    event = make_event(ctx, owner, "Lisbon Climate Night")
    contact = make_contact(ctx, owner, maya, event, note="wants intros to solar investors",
                  tags=("Introduce someone", "Share an article"))
    d = followups.draft(owner, contact)
    assert d.subject == "Great to meet you at Lisbon Climate Night"
    assert d.body.startswith("Hi Maya,")
    assert "Great to meet you at Lisbon Climate Night" in d.body
    assert "wants intros to solar investors" in d.body
    assert "introduce you to someone who could help with solar investors" in d.body
    assert "article I mentioned" in d.body
    assert "client" not in d.body
    assert d.body.rstrip().endswith("Olivia Owner")
    assert d.to == maya.email
    assert d.mailto.startswith(f"mailto:{maya.email}?subject=")
    assert "Lisbon Climate Night" in unquote(d.mailto)


def test_draft_never_includes_an_email_or_phone_the_person_does_not_share(ctx):
    owner = make_user(ctx)
    shy = make_user(ctx, "shy.person@example.com", name="Sam Shy", phone="+351 912 345 678",
                    share_email=False, share_phone=False)
    contact = make_contact(ctx, owner, shy, None, note="likes kayaks", tags=("Refer a client",))
    d = followups.draft(owner, contact)
    assert d.to is None
    assert d.mailto.startswith("mailto:?subject=")
    for text in (d.body, d.subject, unquote(d.mailto)):
        assert "shy.person" not in text and "912" not in text
    assert "client who would be a good fit" in d.body
    assert "Great to meet you." in d.body  # no event: nothing invented


def test_pending_groups_by_event_most_recent_first_and_skips_handled_ones(ctx):
    owner, other_owner = make_user(ctx), make_user(ctx)
    old_event, new_event = make_event(ctx, owner, "Old Meetup"), make_event(ctx, owner, "New Meetup")
    a = make_contact(ctx, owner, make_user(ctx), old_event, met_hours_ago=50)
    b = make_contact(ctx, owner, make_user(ctx), new_event, met_hours_ago=5)
    c = make_contact(ctx, owner, make_user(ctx), new_event, met_hours_ago=2)
    d = make_contact(ctx, owner, make_user(ctx), old_event, met_hours_ago=40)
    loose = make_contact(ctx, owner, None, None, name="Imported Ivy", met_hours_ago=30)
    make_contact(ctx, owner, make_user(ctx), new_event, state="followed_up")
    make_contact(ctx, owner, make_user(ctx), new_event, deleted_at=utcnow())
    make_contact(ctx, other_owner, make_user(ctx), new_event)
    groups = followups.pending(owner)
    assert [(e.name if e else None, [x.id for x in cs]) for e, cs in groups] == [
        ("New Meetup", [c.id, b.id]), (None, [loose.id]), ("Old Meetup", [d.id, a.id]),
    ]
    assert followups.pending_count(owner) == 5


def test_mark_followed_up_and_keep_in_touch_set_state_and_dates(ctx):
    owner = make_user(ctx)
    now = utcnow()
    first, second = make_contact(ctx, owner, make_user(ctx)), make_contact(ctx, owner, make_user(ctx))
    followups.mark_followed_up(first, now=now)
    assert (first.state, first.followed_up_at, first.last_touched_at) == ("followed_up", now, now)
    assert [(i.kind, i.at) for i in cadences.history(first)] == [("followed_up", now)]
    followups.keep_in_touch(second, 30, now=now)
    # The clock runs from the last touch (meeting them, an hour ago), not from the click.
    assert (second.state, second.cadence_days) == ("done", 30)
    assert second.next_reminder_at == second.last_touched_at + timedelta(days=30)
    assert followups.pending_count(owner) == 0


def test_a_snoozed_contact_comes_back_when_the_snooze_ends(ctx):
    owner = make_user(ctx)
    contact = make_contact(ctx, owner, make_user(ctx))
    followups.snooze(contact)  # three days from now
    assert contact.state == "snoozed"
    assert followups.pending_count(owner) == 0 and followups.pending(owner) == []
    followups.snooze(contact, now=utcnow() - timedelta(days=4))  # snoozed four days ago: over
    assert followups.pending_count(owner) == 1
    assert followups.pending(owner)[0][1] == [contact]


def test_the_follow_ups_page_shows_drafts_and_the_nav_count(app, client, auth):
    owner = make_user(app, name="Olivia Owner")
    event = make_event(app, owner, "Porto Founders")
    make_contact(app, owner, make_user(app, name="Rita Ramos", headline="CTO", share_email=False), event,
                 note="hiring designers", tags=("Invite to an event",))
    make_contact(app, owner, make_user(app), event, state="followed_up")
    auth.as_user(owner)
    body = client.get("/follow-ups").get_data(as_text=True)
    assert "Rita Ramos" in body and "CTO" in body and "hiring designers" in body and "Porto Founders" in body
    assert "didn't share an email" in body and "js/draft.js" in body and "<script>" not in body
    assert 'data-followup-count="1"' in client.get("/contacts").get_data(as_text=True)


def test_action_buttons_change_the_contact(app, client, auth):
    owner = make_user(app)
    contact = make_contact(app, owner, make_user(app))
    auth.as_user(owner)
    response = client.post(f"/follow-ups/{contact.id}/keep-in-touch", data={"days": "90"})
    assert response.status_code == 302
    saved = reload(app, Contact, contact.id)
    assert (saved.state, saved.cadence_days) == ("done", 90)
    assert client.post(f"/follow-ups/{contact.id}/explode").status_code == 404


def test_action_buttons_need_the_csrf_token(app, client, auth, csrf):
    owner = make_user(app)
    contact = make_contact(app, owner, make_user(app))
    auth.as_user(owner)
    client.post(f"/follow-ups/{contact.id}/followed-up")
    assert reload(app, Contact, contact.id).state == "new"


def _link(app, contact_id, action, days=None) -> str:
    with app.app_context():
        url = followups.action_link(db.session.get(Contact, contact_id), action, days)
    assert url.startswith(f"{BASE_URL}/f/")
    return url.removeprefix(BASE_URL)


def test_a_one_click_link_confirms_on_get_and_acts_once_on_post_signed_out(app, client):
    owner = make_user(app)
    contact = make_contact(app, owner, make_user(app, name="Nina Novak"))
    path = _link(app, contact.id, "snooze")
    page = client.get(path)
    assert page.status_code == 200 and "Snooze Nina Novak?" in page.get_data(as_text=True)
    assert reload(app, Contact, contact.id).state == "new"  # GET changes nothing
    assert client.post(path).status_code == 200
    assert reload(app, Contact, contact.id).state == "snoozed"
    again = client.post(path)
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)
    assert client.get(path).status_code == 400


def test_a_keep_in_touch_link_carries_its_cadence(app, client):
    contact = make_contact(app, make_user(app), make_user(app))
    client.post(_link(app, contact.id, "keep-in-touch", days=14))
    assert reload(app, Contact, contact.id).cadence_days == 14


def test_a_tampered_link_is_refused(app, client):
    contact = make_contact(app, make_user(app), make_user(app))
    prefix, token, action = _link(app, contact.id, "followed-up").rsplit("/", 2)
    tampered = f"{prefix}/{token[:-3]}{'aaa' if not token.endswith('aaa') else 'bbb'}/{action}"
    for response in (client.get(tampered), client.post(tampered)):
        assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)
    assert reload(app, Contact, contact.id).state == "new"


def _entry_paths(app, contact_id) -> dict[str, str]:
    """The three action links of ``contact_id`` as its owner's recap lists them."""
    with app.app_context():
        contact = db.session.get(Contact, contact_id)
        entry = followups.email_entry(contact.owner, contact)
    urls = {"followed-up": entry.followed_up_url, "snooze": entry.snooze_url, "keep-in-touch": entry.keep_in_touch_url}
    return {action: url.removeprefix(BASE_URL) for action, url in urls.items()}


def test_an_emails_three_links_each_work_once_and_independently(app, client):
    contact = make_contact(app, make_user(app), make_user(app, name="Nina Novak"))
    paths = _entry_paths(app, contact.id)
    assert len({path.rsplit("/", 1)[0] for path in paths.values()}) == 1  # one signed token
    assert all(path.endswith("/" + action) for action, path in paths.items())
    assert client.post(paths["snooze"]).status_code == 200
    assert reload(app, Contact, contact.id).state == "snoozed"
    again = client.post(paths["snooze"])
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)
    assert client.post(paths["followed-up"]).status_code == 200  # the other actions still work
    assert reload(app, Contact, contact.id).state == "followed_up"


def test_a_link_naming_another_action_or_none_is_refused(app, client):
    contact = make_contact(app, make_user(app), make_user(app))
    base = _entry_paths(app, contact.id)["snooze"].rsplit("/", 1)[0]
    for path in (base + "/delete", base):
        for response in (client.get(path), client.post(path)):
            assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)
    assert reload(app, Contact, contact.id).state == "new"


def test_a_link_signed_with_its_action_inside_still_works_once(app, client):
    """Links in emails sent before the action moved into the URL."""
    contact = make_contact(app, make_user(app), make_user(app))
    with app.app_context():
        token = tokens.make(followups.PURPOSE, c=contact.id, o=contact.owner_id, a="snooze", d=5)
    assert client.post(f"/f/{token}/followed-up").status_code == 400  # its action can't be swapped
    assert client.post(f"/f/{token}").status_code == 200
    saved = reload(app, Contact, contact.id)
    assert saved.state == "snoozed" and saved.snoozed_until - utcnow() > timedelta(days=4)
    assert "already been used" in client.post(f"/f/{token}").get_data(as_text=True)
