"""Deleting an account: everything of theirs goes, others keep their own notes
under the name only, owned events and the last admin are guarded."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.factories import attend, make_event, make_user, meet, reload
from webapp.extensions import db
from webapp.models import (
    ApiToken,
    Attendance,
    Base,
    Block,
    Contact,
    Event,
    EventOrganizer,
    Interaction,
    OutboxMessage,
    RegistrantImport,
    RegistrantOptOut,
    Scan,
    Tag,
    User,
    utcnow,
)
from webapp.services import (
    account_deletion,
    accounts,
    api_tokens,
    cadences,
    checkin,
    connections,
    contacts,
    profiles,
    stats,
    unsubscribe,
)
from webapp.services import events as events_service
from webapp.services import tags as tags_service

ACCESS_TABLE_RULES = {"/account/delete"}
ROLES = ("anonymous", "attendee", "organizer", "admin")
ALICE = "alice@example.com"


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 80, 40)).save(out, "PNG")
    return out.getvalue()


@dataclass
class Scene:
    alice: User
    bob: User
    carol: User
    olga: User
    party: Event  # Olga's past event: Alice, Bob and Carol met there
    summit: Event  # Olga's upcoming event; Alice co-organizes it and checked Bob in


def build_scene(app) -> Scene:
    """Alice with something in every table that can point at her."""
    alice = make_user(app, ALICE, name="Alice Archer", headline="Solar founder", company="Sunny Ltd",
                      phone="+351 900 000 000")
    bob, carol = make_user(app, name="Bob Baker"), make_user(app, name="Carol Chen")
    olga = make_user(app, name="Olga Organizer", role="organizer")
    party = make_event(app, olga, "Harbour Party", days_from_now=-3)
    summit = make_event(app, olga, "Winter Summit", days_from_now=10)
    for person in (alice, bob, carol):
        attend(app, party, person)
    attend(app, summit, alice)
    attend(app, summit, bob)
    with app.app_context():
        alice_, bob_, carol_ = (db.session.get(User, u.id) for u in (alice, bob, carol))
        party_, summit_ = db.session.get(Event, party.id), db.session.get(Event, summit.id)
        meet(party_, alice_, bob_, 10, note="Bob: wind farms", tags=["energy"])
        meet(party_, carol_, alice_, 20)
        meet(party_, bob_, carol_, 30)
        bobs = connections.contact_for(bob.id, alice.id)
        contacts.set_note(bobs, "Alice wants intros to solar investors")
        tags_service.add(bobs, ["investors"])
        cadences.log_touch(connections.contact_for(alice.id, bob.id), "call", note="called about wind")
        contacts.create(alice_, name="Imported Ivy", email="ivy@example.com", note="from my old phone")
        profiles.set_photo(alice_, tiny_png())
        api_tokens.create(alice_, "laptop")
        dave, erin = make_user(app, name="Dave"), make_user(app, name="Erin")
        db.session.add_all([Block(blocker_id=alice.id, blocked_id=dave.id),
                            Block(blocker_id=erin.id, blocked_id=alice.id)])
        db.session.add(EventOrganizer(event_id=summit.id, user_id=alice.id))
        checkin.check_in(alice_, events_service.attendance_of(bob_, summit_))
        db.session.add(RegistrantImport(event_id=summit.id, uploaded_by_id=alice.id, filename="people.csv",
                                        rows=[], bad_rows=[]))
        db.session.add(RegistrantOptOut(event_id=party.id, email=ALICE))
        accounts.request_signin_link(ALICE)  # a pending email to her
        sent = accounts.find_by_email(ALICE)
        db.session.add(OutboxMessage(dedupe_key="old-recap", kind="recap", user_id=sent.id, recipient=ALICE,
                                     subject="Your recap", text_body="x", html_body="x", status="sent",
                                     sent_at=utcnow()))
        db.session.commit()
    return Scene(alice, bob, carol, olga, party, summit)


def delete(app, user: User, confirmation: str = ALICE, **kwargs) -> str:
    with app.app_context():
        email = account_deletion.delete_account(db.session.get(User, user.id), confirmation=confirmation, **kwargs)
        db.session.commit()
        return email


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


# --- The service ---------------------------------------------------------------------


def test_everything_of_theirs_is_deleted(app):
    s = build_scene(app)
    uid = s.alice.id
    delete(app, s.alice)
    assert reload(app, User, uid) is None
    assert count(app, Contact, Contact.owner_id == uid) == 0
    assert count(app, Interaction, Interaction.note == "called about wind") == 0
    assert count(app, Tag, Tag.owner_id == uid) == 0
    assert count(app, Attendance, Attendance.user_id == uid) == 0
    assert count(app, Scan, (Scan.scanner_id == uid) | (Scan.scanned_id == uid)) == 0
    assert count(app, Block, (Block.blocker_id == uid) | (Block.blocked_id == uid)) == 0
    assert count(app, ApiToken, ApiToken.user_id == uid) == 0
    assert count(app, EventOrganizer, EventOrganizer.user_id == uid) == 0
    assert count(app, OutboxMessage, OutboxMessage.kind == "signin_link") == 0  # pending mail to her
    assert count(app, Contact, Contact.email == "ivy@example.com") == 0
    with app.app_context():
        assert accounts.find_by_email(ALICE) is None
        # Her photo lived in her row; nothing of her profile is left in any text column either.
        assert db.session.scalar(select(Contact.id).where(Contact.company == "Sunny Ltd")) is None


def test_no_row_anywhere_still_points_at_the_deleted_account(app):
    s = build_scene(app)
    delete(app, s.alice)
    with app.app_context():
        for table_name, column_name, _ in account_deletion.references("user"):
            column = Base.metadata.tables[table_name].c[column_name]
            left = db.session.scalar(select(func.count()).where(column == s.alice.id))
            assert left == 0, f"{table_name}.{column_name} still points at the deleted account"


def test_every_foreign_key_to_an_account_or_an_event_is_handled():
    """A new table pointing at ``user`` or ``event`` needs ON DELETE CASCADE or
    SET NULL (or a rule of its own in account_deletion, like these two)."""
    handled_by_hand = {("attendance", "checked_in_by_id"), ("event", "owner_id")}
    for target in ("user", "event"):
        for table_name, column_name, rule in account_deletion.references(target):
            if (table_name, column_name) not in handled_by_hand:
                assert rule in {"CASCADE", "SET NULL"}, f"{table_name}.{column_name} -> {target}"


def test_others_keep_their_note_and_tags_under_her_name_only(app):
    s = build_scene(app)
    with app.app_context():
        bobs_id = connections.contact_for(s.bob.id, s.alice.id).id
    delete(app, s.alice)
    with app.app_context():
        bobs = db.session.get(Contact, bobs_id)
        assert bobs.user_id is None and bobs.owner_id == s.bob.id and bobs.deleted_at is None
        assert bobs.name == "Alice Archer"
        assert (bobs.email, bobs.phone, bobs.company, bobs.headline) == ("", "", "", "")
        assert bobs.note == "Alice wants intros to solar investors"
        assert [t.name for t in bobs.tags] == ["investors"]
        assert contacts.display_name(bobs) == "Alice Archer"
        # Bob's other contact (Carol) is untouched.
        assert connections.contact_for(s.bob.id, s.carol.id) is not None


def test_a_name_the_other_person_gave_the_entry_is_theirs_and_stays(app):
    s = build_scene(app)
    with app.app_context():
        carols = connections.contact_for(s.carol.id, s.alice.id)
        carols.name, carols_id = "Alice from the harbour", carols.id
        db.session.commit()
    delete(app, s.alice)
    assert reload(app, Contact, carols_id).name == "Alice from the harbour"


def test_her_scans_either_way_are_deleted_and_the_event_statistics_shrink(app):
    s = build_scene(app)
    with app.app_context():
        before = stats.event_stats(db.session.get(Event, s.party.id))
    assert (before.scans, before.connections) == (3, 3)
    delete(app, s.alice)
    with app.app_context():
        after = stats.event_stats(db.session.get(Event, s.party.id))
    assert (after.scans, after.connections, after.registered) == (1, 1, 2)


def test_sent_mail_stays_on_the_log_unlinked_and_other_records_lose_only_the_link(app):
    s = build_scene(app)
    delete(app, s.alice)
    with app.app_context():
        sent = db.session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == "old-recap"))
        assert sent.status == "sent" and sent.user_id is None
        bob_at_summit = db.session.scalar(select(Attendance).where(
            Attendance.event_id == s.summit.id, Attendance.user_id == s.bob.id))
        assert bob_at_summit.checked_in_at is not None and bob_at_summit.checked_in_by_id is None
        assert db.session.scalar(select(RegistrantImport.uploaded_by_id)) is None
        # "Don't import me" stays, keyed by address: no organizer can add her again.
        assert db.session.get(RegistrantOptOut, (s.party.id, ALICE)) is not None


def test_a_confirmation_is_recorded_for_the_deleted_address_and_delivered(app, client, auth, outbox):
    s = build_scene(app)
    auth.as_user(s.alice)
    client.post("/account/delete", data={"email": ALICE})
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "account_deleted"))
        assert row.recipient == ALICE and row.user_id is None
        assert "Unsubscribe" not in row.extra_headers  # transactional
    message = outbox.last(ALICE)
    assert message["Subject"] == "Your MeetLoop account was deleted"
    assert "Hi Alice Archer" in outbox.text(message)
    assert message["List-Unsubscribe"] is None


def test_the_confirmation_ignores_case_and_spaces_but_nothing_else(ctx):
    alice = make_user(ctx, ALICE)
    with pytest.raises(account_deletion.ValidationFailed) as refused:
        account_deletion.delete_account(alice, confirmation="alice@example.org")
    assert refused.value.field == "email"
    account_deletion.delete_account(alice, confirmation="  Alice@Example.COM ")
    db.session.commit()
    assert accounts.find_by_email(ALICE) is None


def test_the_address_can_sign_up_again_afterwards(ctx):
    alice = make_user(ctx, ALICE)
    account_deletion.delete_account(alice, confirmation=ALICE)
    db.session.commit()
    again = make_user(ctx, ALICE, name="Alice Again")
    assert again.email == ALICE and contacts.recent(again) == []


# --- Events they own, and admins ----------------------------------------------------


def test_owning_an_upcoming_event_refuses_and_names_it(ctx):
    olga = make_user(ctx, "olga@example.com", role="organizer")
    make_event(ctx, olga, "Spring Gala", days_from_now=5)
    with pytest.raises(account_deletion.OwnsEvents) as refused:
        account_deletion.delete_account(olga, confirmation="olga@example.com")
    assert "Hand over or cancel" in refused.value.message and "Spring Gala" in refused.value.message
    db.session.rollback()
    assert accounts.find_by_email("olga@example.com") is not None


def test_owning_a_past_event_others_attended_refuses(ctx):
    olga = make_user(ctx, "olga@example.com", role="organizer")
    attend(ctx, make_event(ctx, olga, "Old Meetup", days_from_now=-5), make_user(ctx))
    summary = account_deletion.summary(olga)
    assert [b.event.name for b in summary.blockers] == ["Old Meetup"] and not summary.can_delete
    assert "1 attendee" in summary.blockers[0].reason
    with pytest.raises(account_deletion.OwnsEvents) as refused:
        account_deletion.delete_account(olga, confirmation="olga@example.com")
    assert refused.value.message == "Hand over Old Meetup first: it is part of 1 attendee's history."


def test_past_empty_and_cancelled_owned_events_are_deleted_with_the_account(ctx):
    olga = make_user(ctx, "olga@example.com", role="organizer")
    empty = make_event(ctx, olga, "Quiet Evening", days_from_now=-5)
    attend(ctx, empty, olga)  # only herself
    cancelled = make_event(ctx, olga, "Rained Off", days_from_now=3)
    attend(ctx, cancelled, make_user(ctx))
    events_service.cancel_event(cancelled)
    db.session.commit()
    summary = account_deletion.summary(olga)
    assert summary.can_delete and {e.name for e in summary.events_deleted} == {"Quiet Evening", "Rained Off"}
    ids = (empty.id, cancelled.id)
    account_deletion.delete_account(olga, confirmation="olga@example.com")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Event).where(Event.id.in_(ids))) == 0
    assert db.session.scalar(select(func.count()).select_from(Attendance).where(Attendance.event_id.in_(ids))) == 0


def test_the_last_active_admin_cannot_delete_their_account(ctx):
    ada = make_user(ctx, "ada@example.com", role="admin")
    make_user(ctx, "retired@example.com", role="admin").is_disabled = True
    assert account_deletion.summary(ada).last_admin
    with pytest.raises(account_deletion.LastAdmin):
        account_deletion.delete_account(ada, confirmation="ada@example.com")
    db.session.rollback()
    make_user(ctx, "grace@example.com", role="admin")
    account_deletion.delete_account(ada, confirmation="ada@example.com")
    db.session.commit()
    assert accounts.find_by_email("ada@example.com") is None


# --- The page ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_the_page_is_for_the_signed_in_person_about_their_own_account(app, client, auth, csrf, role):
    url = "/account/delete"
    if role != "anonymous":
        user = make_user(app, f"{role}@example.com", role=role)
        make_user(app, "colleague@example.com", role="admin")  # so an admin isn't the last one
        auth.as_user(user)
    response = client.get(url)
    if role == "anonymous":
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login" and parse_qs(location.query)["next"] == [url]
        return
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"{role}@example.com" in body and "colleague@example.com" not in body
    assert "Delete my account" in body and 'name="csrf_token"' in body


def test_the_page_says_what_goes_and_what_stays_without_showing_others_notes(app, client, auth):
    s = build_scene(app)
    auth.as_user(s.alice)
    body = client.get("/account/delete").get_data(as_text=True)
    assert "What will be deleted" in body and "What stays with others" in body
    assert "3 contacts" in body and "2 notes" in body and "1 tag" in body
    assert "Your registration and badge for 2 events" in body and "2 scans" in body
    assert "2 people keep their own notes about you" in body and "under your name only" in body
    assert "Alice wants intros" not in body and "investors" not in body


def test_the_account_page_links_to_it(app, client, auth):
    auth.as_user(make_user(app))
    assert 'href="/account/delete"' in client.get("/account").get_data(as_text=True)


def test_deleting_signs_out_and_lands_home_with_a_message(app, client, auth):
    s = build_scene(app)
    auth.as_user(s.alice)
    response = client.post("/account/delete", data={"email": ALICE}, follow_redirects=True)
    assert response.status_code == 200 and response.request.path == "/"
    assert "Your account was deleted." in response.get_data(as_text=True)
    assert reload(app, User, s.alice.id) is None
    after = client.get("/account")
    assert after.status_code == 302 and urlsplit(after.headers["Location"]).path == "/login"


def test_a_wrong_confirmation_is_an_error_on_the_field_and_deletes_nothing(app, client, auth):
    s = build_scene(app)
    auth.as_user(s.alice)
    response = client.post("/account/delete", data={"email": "bob@example.com"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and 'class="field-error"' in body and "exactly" in body
    assert reload(app, User, s.alice.id) is not None
    assert count(app, Contact, Contact.owner_id == s.alice.id) == 3
    assert count(app, OutboxMessage, OutboxMessage.kind == "account_deleted") == 0
    assert client.post("/account/delete", data={"email": ""}).status_code == 422
    assert reload(app, User, s.alice.id) is not None


def test_a_refusal_shows_the_events_and_deletes_nothing(app, client, auth):
    olga = make_user(app, "olga@example.com", role="organizer")
    make_event(app, olga, "Spring Gala", days_from_now=5)
    auth.as_user(olga)
    page = client.get("/account/delete").get_data(as_text=True)
    assert "Spring Gala" in page and "Delete for good" not in page
    response = client.post("/account/delete", data={"email": "olga@example.com"})
    assert response.status_code == 422 and "Hand over or cancel" in response.get_data(as_text=True)
    assert reload(app, User, olga.id) is not None


def test_the_form_needs_the_csrf_token(app, client, auth, csrf):
    alice = make_user(app, ALICE)
    auth.as_user(alice)
    assert client.post("/account/delete", data={"email": ALICE}).status_code in (400, 403)
    assert reload(app, User, alice.id) is not None


def test_a_time_is_passed_not_read_for_what_counts_as_upcoming(ctx):
    olga = make_user(ctx, "olga@example.com", role="organizer")
    gala = make_event(ctx, olga, "Spring Gala", days_from_now=5)
    later = gala.ends_at + timedelta(hours=1)
    assert account_deletion.summary(olga, now=later).can_delete
    account_deletion.delete_account(olga, confirmation="olga@example.com", now=later)
    db.session.commit()
    assert db.session.get(Event, gala.id) is None


def test_signed_out_posts_go_to_sign_in_and_delete_nothing(app, client):
    alice = make_user(app, ALICE)
    response = client.post("/account/delete", data={"email": ALICE})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    assert reload(app, User, alice.id) is not None


def test_a_session_or_link_left_behind_never_reaches_the_next_account(app, client, auth):
    """A device still signed in, and an unsubscribe link from an old email, name
    the deleted account by id; the next person to sign up never gets that id."""
    alice = make_user(app, ALICE, name="Alice Gone")
    auth.as_user(alice)  # the device that stays signed in
    with app.app_context():
        old_link = unsubscribe.link(db.session.get(User, alice.id), "all").removeprefix(app.config["BASE_URL"])
    delete(app, alice)
    newcomer = make_user(app, "newcomer@example.com", name="Newbie")

    assert newcomer.id != alice.id
    response = client.get("/profile")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    assert client.post(old_link).status_code == 400
    assert reload(app, User, newcomer.id).email_digests is True
