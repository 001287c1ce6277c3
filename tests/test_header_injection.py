"""Names can't add headers to email.

A person's or an event's name reaches email bodies and Subject lines
(invitations, recaps, reminders, digests). The rule, per field:

* typed in (forms, the services behind them, ``flask create-user``): a name
  with a line break, NUL or other control character is refused with a clear
  message on the field;
* read from a file (registrant CSV, contacts CSV and vCard): flattened to one
  line, so the rest of the file still imports.

Either way the messages that reach a real SMTP server (aiosmtpd) have exactly
their recipient and their own headers.
"""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from tests.factories import make_user
from webapp.extensions import db
from webapp.models import Contact, Event, OutboxMessage, User, utcnow
from webapp.services import (
    ValidationFailed,
    accounts,
    cadences,
    connections,
    contact_import,
    contacts,
    digest,
    events,
    joining,
    nudges,
    outbox,
    profiles,
    recaps,
    registrant_import,
)

VICTIM = "victim@example.com"
BREAKS = {
    "crlf": f"\r\nBcc: {VICTIM}",
    "crlf-folded": f"\r\n Bcc: {VICTIM}",
    "lf": f"\nBcc: {VICTIM}",
    "cr": f"\rBcc: {VICTIM}",
    "nul": f"\x00Bcc: {VICTIM}",
    "nel": f"\x85Bcc: {VICTIM}",
    "line-separator": f"\u2028Bcc: {VICTIM}",
    "vertical-tab": f"\x0bBcc: {VICTIM}",
}
# What every message the app sends carries, and nothing else (List-* only on bulk mail).
OWN_HEADERS = {"from", "to", "subject", "date", "message-id", "auto-submitted", "mime-version", "content-type",
               "list-unsubscribe", "list-unsubscribe-post"}


def assert_clean(received, recipient: str) -> None:
    """One message, to exactly ``recipient``, with only the app's own headers."""
    assert received.rcpt_tos == [recipient]
    names = {name.lower() for name in received.message}
    assert names <= OWN_HEADERS, names - OWN_HEADERS
    assert received.message["To"] == recipient
    # A flattened name may leave "Bcc: ..." as words inside the Subject, never as a header of its own.
    assert all(VICTIM not in value for name, value in received.message.items() if name.lower() != "subject")
    header_block = received.raw.split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith((b"bcc", b"cc")) for line in re.split(rb"\r\n|\r|\n", header_block))


# --- Refused where a person types a name ----------------------------------------------------------


@pytest.fixture
def scene(app):
    organizer = make_user(app, "olga@example.com", name="Olga Organizer", role="organizer")
    ana = make_user(app, "ana@example.com", name="Ana Attendee")
    event = make_event_for(app, organizer)
    with app.app_context():
        contact = contacts_create(db.session.get(User, ana.id))
    return SimpleNamespace(organizer=organizer, ana=ana, slug=event.slug, join_code=event.join_code,
                           contact=contact)


def make_event_for(app, organizer) -> SimpleNamespace:
    with app.app_context():
        event = events.create_event(db.session.get(User, organizer.id), "Spring Mixer",
                                    utcnow() + timedelta(days=3), utcnow() + timedelta(days=3, hours=3), "UTC")
        db.session.commit()
        return SimpleNamespace(id=event.id, slug=event.slug, join_code=event.join_code)


def contacts_create(owner: User) -> int:
    contact = contacts.create(owner, name="Cal Clark")
    db.session.commit()
    return contact.id


PROFILE = {"headline": "", "company": "", "looking_for": "", "linkedin_url": "", "phone": "", "timezone": "UTC"}
EVENT = {"venue": "", "timezone": "UTC", "starts_at": "2031-05-01T18:00", "ends_at": "2031-05-01T21:00",
         "description": "", "followup_delay_minutes": ""}
# (who, path, the rest of the form, the name field)
NAME_FORMS = [
    (None, "/signup", {"email": "new@example.com"}, "name"),
    (None, "/join/{join_code}/email", {"email": "new@example.com"}, "name"),
    ("ana", "/profile/edit", PROFILE, "name"),
    ("ana", "/profile/edit", {**PROFILE, "name": "Ana"}, "company"),
    ("ana", "/profile/edit", {**PROFILE, "name": "Ana"}, "headline"),
    ("organizer", "/events/new", EVENT, "name"),
    ("organizer", "/events/new", {**EVENT, "name": "Mixer"}, "venue"),
    ("organizer", "/events/{slug}/edit", EVENT, "name"),
    ("organizer", "/events/{slug}/invite", {"invite-email": "guest@example.com"}, "invite-name"),
    ("organizer", "/events/{slug}/door/walk-in", {"email": "walk@example.com"}, "name"),
    ("ana", "/contacts/new", {"email": "", "phone": "", "company": "", "headline": ""}, "name"),
    ("ana", "/contacts/{contact}/details", {"email": "", "phone": "", "company": "", "headline": ""}, "name"),
]


@pytest.mark.parametrize("variant", ["crlf", "lf", "cr", "nul", "line-separator"])
@pytest.mark.parametrize(("who", "path", "rest", "field"), NAME_FORMS,
                         ids=[f"{path} {field}" for _, path, _, field in NAME_FORMS])
def test_a_typed_name_with_a_line_break_is_refused_on_its_field(app, client, auth, outbox, scene, who, path, rest,
                                                                field, variant):
    if who:
        auth.as_user(getattr(scene, who))
    values = {**{k: v.format(**vars(scene)) for k, v in rest.items()}, field: "Ana" + BREAKS[variant]}
    with app.app_context():
        users_before = sorted(db.session.execute(select(User.id, User.name, User.company, User.headline)).all())
        events_before = sorted(db.session.execute(select(Event.id, Event.name, Event.venue)).all())
    response = client.post(path.format(**vars(scene)), data=values)
    assert response.status_code == (200 if path == "/signup" else 422)  # sign-up shows its form again with 200
    body = response.get_data(as_text=True).replace("&#39;", "'")
    assert 'class="field-error"' in body
    assert "single line of text" in body or "can't be stored" in body
    with app.app_context():
        assert sorted(db.session.execute(select(User.id, User.name, User.company, User.headline)).all()) == \
            users_before
        assert sorted(db.session.execute(select(Event.id, Event.name, Event.venue)).all()) == events_before
        assert db.session.scalars(select(OutboxMessage)).all() == []
        assert not db.session.scalars(select(Contact).where(Contact.name.contains(VICTIM))).all()


@pytest.mark.parametrize("variant", list(BREAKS))
def test_the_account_services_refuse_a_name_with_a_line_break(ctx, variant):
    with pytest.raises(ValidationFailed) as refused:
        accounts.create_user("new@example.com", "Ana" + BREAKS[variant])
    assert refused.value.field == "name"
    user = make_user(ctx, "ana@example.com", name="Ana")
    with pytest.raises(ValidationFailed) as refused:
        profiles.update_profile(user, name="Ana" + BREAKS[variant], timezone="UTC")
    assert refused.value.field == "name" and user.name == "Ana"


@pytest.mark.parametrize("variant", ["crlf", "lf", "cr"])
def test_create_user_on_the_command_line_refuses_a_name_with_a_line_break(app, runner, variant):
    result = runner.invoke(args=["create-user", "new@example.com", "--name", "Ana" + BREAKS[variant],
                                 "--password", "correct horse battery", "--role", "attendee"])
    assert result.exit_code != 0
    assert "single line of text" in result.output and "Traceback" not in result.output
    with app.app_context():
        assert accounts.find_by_email("new@example.com") is None


def test_signup_with_a_line_break_sends_nothing_and_a_clean_name_still_works(client, smtp, app):
    response = client.post("/signup", data={"name": "Ana\r\nBcc: " + VICTIM, "email": "ana@example.com"})
    assert response.status_code == 200 and b"single line of text" in response.data
    response = client.post("/signup", data={"name": "Ana Souza", "email": "ana@example.com"})
    assert response.status_code == 200
    with app.app_context():
        outbox.deliver_due()
    (received,) = smtp.received
    assert_clean(received, "ana@example.com")


# --- Flattened where a file brings a name ---------------------------------------------------------------


@pytest.mark.parametrize("variant", ["crlf", "crlf-folded", "lf", "cr", "nel", "line-separator", "vertical-tab"])
def test_imported_registrants_with_line_breaks_get_clean_invitations(app, smtp, variant):
    organizer = make_user(app, "olga@example.com", name="Olga Organizer", role="organizer")
    event = make_event_for(app, organizer)
    name = "Ana" + BREAKS[variant]
    data = ("name,email,company\r\n" + f'"{name}",ana@example.com,"Acme{BREAKS[variant]}"\r\n'
            + "Bo Baker,bo@example.com,\r\n").encode()
    with app.app_context():
        imp = registrant_import.create_import(db.session.get(Event, event.id), db.session.get(User, organizer.id),
                                              "list.csv", data)
        registrant_import.start(imp)
        db.session.commit()
        registrant_import.run_import(imp.id)
        ana = accounts.find_by_email("ana@example.com")
        assert "\r" not in ana.name and "\n" not in ana.name and ana.name.startswith("Ana")
        assert "\n" not in ana.company and "\r" not in ana.company
        report = outbox.deliver_due()
    assert report.sent == 2 and report.failed == 0
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["ana@example.com", "bo@example.com"]
    for received in smtp.received:
        assert_clean(received, received.rcpt_tos[0])


@pytest.mark.parametrize("variant", ["crlf", "lf", "cr", "nel", "line-separator"])
def test_imported_contacts_with_line_breaks_are_flattened(ctx, variant):
    owner = make_user(ctx, "ana@example.com", name="Ana")
    card = "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", "FN;ENCODING=QUOTED-PRINTABLE:Cal=0D=0ABcc: victim@example.com",
                        "EMAIL:cal@example.com", "END:VCARD", ""])
    rows = f'name,email,company\r\n"Dee{BREAKS[variant]}",dee@example.com,"Acme{BREAKS[variant]}"\r\n'
    for filename, data in (("cards.vcf", card.encode()), ("rows.csv", rows.encode())):
        upload = contact_import.create(owner, filename, data)
        contact_import.apply(owner, upload)
    db.session.commit()
    for contact in db.session.scalars(select(Contact).where(Contact.owner_id == owner.id)):
        for value in (contact.name, contact.company):
            assert not any(ch in value for ch in "\r\n\x00\x0b\x85\u2028"), repr(value)
        assert contact.name.startswith(("Cal", "Dee"))


# --- Names already stored with a line break still can't add headers -------------------------------------


@pytest.fixture
def legacy(app):
    """People and an event whose names hold a line break: stored before names
    were checked, or through a path that doesn't check them (an event made
    with ``flask create-event``). Ana met Bob at the event, which ended 40
    hours ago; Ana keeps in touch with Cal every 30 days and is overdue."""
    organizer = make_user(app, "olga@example.com", name="Olga Organizer", role="organizer")
    ana = make_user(app, "ana@example.com", name="Ana Attendee", timezone="UTC")
    bob = make_user(app, "bob@example.com", name="Bob Baker", timezone="UTC")
    with app.app_context():
        end = utcnow().replace(microsecond=0) - timedelta(hours=40)
        event = events.create_event(db.session.get(User, organizer.id), "Harbour Mixer", end - timedelta(hours=3),
                                    end, "UTC")
        users = {u.id: db.session.get(User, u.id) for u in (ana, bob)}
        badge = {uid: events.add_attendee(event, user) for uid, user in users.items()}
        connections.record_scan(users[ana.id], badge[bob.id].badge_token, "scan-1",
                                scanned_at=event.starts_at + timedelta(minutes=20))
        start = utcnow() + timedelta(days=5)
        upcoming = events.create_event(db.session.get(User, organizer.id), "Summit", start,
                                       start + timedelta(hours=3), "UTC")
        cal = contacts.create(users[ana.id], name="Cal Clark")
        cadences.log_touch(cal, "call", at=utcnow() - timedelta(days=40))
        cadences.set_contact_cadence(cal, 30)
        db.session.commit()
        return SimpleNamespace(event=event.id, upcoming=upcoming.id, organizer=organizer.id, ana=ana.id, bob=bob.id,
                               cal=cal.id)


def set_names(app, legacy, tail: str) -> None:
    with app.app_context():
        db.session.execute(update(User).values(name=User.name + tail))
        db.session.execute(update(Event).values(name=Event.name + tail))
        db.session.execute(update(Contact).where(Contact.id == legacy.cal).values(name="Cal Clark" + tail))
        db.session.commit()


def run_everything(app, legacy) -> tuple[int, outbox.DeliveryReport]:
    """A sign-in link, an event invitation, the recap, a reminder and a digest; delivered."""
    with app.app_context():
        event = db.session.get(Event, legacy.event)
        organizer, ana = db.session.get(User, legacy.organizer), db.session.get(User, legacy.ana)
        accounts.request_signin_link("bob@example.com")
        joining.invite(db.session.get(Event, legacy.upcoming), organizer, "guest@example.com", "Guest")
        db.session.commit()
        recaps.run_due(utcnow())
        db.session.commit()
        nudges.queue_due(nudges.due_times(event)[0])
        db.session.commit()
        now = utcnow()
        ana.digest_weekday = now.astimezone(digest.zone(ana)).weekday()
        db.session.commit()
        digest.queue_due(digest.due_time(ana, now) + timedelta(minutes=1))
        db.session.commit()
        queued = len(db.session.scalars(select(OutboxMessage)).all())
        return queued, outbox.deliver_due()


@pytest.mark.parametrize("variant", ["crlf", "crlf-folded", "lf", "nel", "line-separator", "vertical-tab"])
def test_stored_names_with_line_breaks_add_no_headers_to_any_email(app, smtp, legacy, variant):
    set_names(app, legacy, BREAKS[variant])
    queued, report = run_everything(app, legacy)
    kinds = {"signin_link", "event_invitation", "recap", "nudge", "digest"}
    with app.app_context():
        assert kinds <= set(db.session.scalars(select(OutboxMessage.kind)))
    assert report.sent == queued == len(smtp.received) and report.failed == 0
    for received in smtp.received:
        assert_clean(received, received.rcpt_tos[0])
    assert all(r.rcpt_tos[0] != VICTIM for r in smtp.received)


def test_stored_names_with_a_lone_carriage_return_still_get_their_email(app, smtp, legacy):
    set_names(app, legacy, BREAKS["cr"])
    queued, report = run_everything(app, legacy)
    assert report.failed == 0 and report.retrying == 0 and report.sent == queued == len(smtp.received)


def test_stored_names_with_a_lone_carriage_return_add_no_headers(app, smtp, legacy):
    set_names(app, legacy, BREAKS["cr"])
    run_everything(app, legacy)
    assert smtp.received  # the messages without the name in their subject at least
    for received in smtp.received:
        assert_clean(received, received.rcpt_tos[0])
