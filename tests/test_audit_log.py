"""The audit log: every organizer and admin action writes exactly one entry
(who, what, which event, from where) in the action's own transaction, a
refused or rolled-back action writes none, and only site admins read the
log, with every field escaped."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape
from sqlalchemy import select

from tests.conftest import EventWorld
from tests.factories import make_user
from webapp.extensions import db
from webapp.models import Attendance, AuditEntry, Event, User, utcnow
from webapp.services import account_deletion, audit, events

LOGIN = "→ /login"


@dataclass(frozen=True)
class Entry:
    actor_id: int | None
    actor_email: str
    action: str
    event_id: int | None
    subject: str
    ip: str | None


class AuditWatch:
    """The entries written since the last look."""

    def __init__(self, app) -> None:
        self.app = app
        self.seen = 0

    def new(self) -> list[Entry]:
        with self.app.app_context():
            rows = db.session.scalars(select(AuditEntry).where(AuditEntry.id > self.seen).order_by(AuditEntry.id)).all()
            if rows:
                self.seen = rows[-1].id
            return [Entry(r.actor_id, r.actor_email, r.action, r.event_id, r.subject, r.ip) for r in rows]


@pytest.fixture
def log(app):
    return AuditWatch(app)


def attendance_id(app, event: Event, user: User) -> int:
    with app.app_context():
        return db.session.scalar(select(Attendance.id).filter_by(event_id=event.id, user_id=user.id))


def ok(response) -> None:
    assert response.status_code in (200, 302), response.status_code


def past_event(app, owner: User) -> Event:
    """An event of ``owner``'s that ended two days ago (its recaps can be sent)."""
    with app.app_context():
        end = utcnow().replace(microsecond=0) - timedelta(days=2)
        event = events.create_event(db.session.get(User, owner.id), "Old Mixer", end - timedelta(hours=3), end,
                                    "Europe/Lisbon")
        db.session.commit()
        db.session.refresh(event)
        db.session.expunge(event)
        return event


def upload(client, event: Event) -> int:
    data = b"email,name\nnew.person@example.com,New Person\n"
    response = client.post(f"/events/{event.slug}/imports", data={"file": (io.BytesIO(data), "people.csv")})
    assert response.status_code == 302, response.status_code
    return int(urlsplit(response.headers["Location"]).path.rsplit("/", 1)[1])


# --- Each action: (who acts, what they do) -> the one entry expected --------------------------
# A case signs nobody in: the test signs in ``actor``. It may prepare things (and its
# preparations may write entries of their own); ``log.new()`` just before the request
# it is about leaves only that request's entries to check. It returns the event and
# subject the entry must name.


def check_in_at_the_door(w: EventWorld, client, log):
    aid = attendance_id(w.app, w.event, w.attendee)
    log.new()
    ok(client.post(f"/events/{w.event.slug}/door/{aid}/check-in"))
    return w.event.id, f"user {w.attendee.id}"


def check_in_from_the_badge_page(w: EventWorld, client, log):
    log.new()
    ok(client.post(f"/b/{w.attendee_badge}/check-in"))
    return w.event.id, f"user {w.attendee.id}"


def remove_a_registrant(w: EventWorld, client, log):
    aid = attendance_id(w.app, w.event, w.attendee)
    log.new()
    ok(client.post(f"/events/{w.event.slug}/attendees/{aid}/remove"))
    return w.event.id, f"user {w.attendee.id}"


def export_the_attendee_list(w: EventWorld, client, log):
    log.new()
    response = client.get(f"/events/{w.event.slug}/attendees.csv")
    assert response.status_code == 200 and b"attendee@example.com" in response.data
    return w.event.id, ""


def upload_registrants(w: EventWorld, client, log):
    log.new()
    import_id = upload(client, w.event)
    return w.event.id, f"import {import_id}"


def discard_an_upload(w: EventWorld, client, log):
    import_id = upload(client, w.event)
    log.new()
    ok(client.post(f"/events/{w.event.slug}/imports/{import_id}/discard"))
    return w.event.id, f"import {import_id}"


def send_recaps_now(w: EventWorld, client, log):
    ended = past_event(w.app, w.organizer)
    log.new()
    ok(client.post(f"/events/{ended.slug}/recaps/send"))
    return ended.id, ""


def create_an_event(w: EventWorld, client, log):
    log.new()
    response = client.post("/events/new", data={
        "name": "Audit Mixer", "venue": "Hall", "timezone": "Europe/Lisbon", "starts_at": "2027-07-02T18:30",
        "ends_at": "2027-07-02T22:00", "description": "", "followup_delay_minutes": ""})
    assert response.status_code == 302, response.status_code
    with w.app.app_context():
        return events.get_by_ref(urlsplit(response.headers["Location"]).path.rsplit("/", 1)[1]).id, ""


def edit_an_event(w: EventWorld, client, log):
    log.new()
    ok(client.post(f"/events/{w.event.slug}/edit", data={
        "name": "Spring Mixer, renamed", "venue": "", "timezone": "Europe/Lisbon", "starts_at": "2027-07-02T18:30",
        "ends_at": "2027-07-02T22:00", "description": "", "followup_delay_minutes": ""}))
    return w.event.id, ""


def cancel_an_event(w: EventWorld, client, log):
    log.new()
    ok(client.post(f"/events/{w.event.slug}/cancel"))
    return w.event.id, ""


def invite_someone(w: EventWorld, client, log):
    log.new()
    ok(client.post(f"/events/{w.event.slug}/invite", data={"invite-name": "Ivy", "invite-email": "ivy@example.com"}))
    with w.app.app_context():
        return w.event.id, f"user {db.session.scalar(select(User.id).filter_by(email='ivy@example.com'))}"


def add_a_co_organizer(w: EventWorld, client, log):
    log.new()
    ok(client.post(f"/events/{w.event.slug}/organizers", data={"organizer-email": w.other_organizer.email}))
    return w.event.id, f"user {w.other_organizer.id}"


def remove_a_co_organizer(w: EventWorld, client, log):
    with w.app.app_context():
        events.add_co_organizer(db.session.get(Event, w.event.id), db.session.get(User, w.organizer.id),
                                w.other_organizer.email)
        db.session.commit()
    log.new()
    ok(client.post(f"/events/{w.event.slug}/organizers/{w.other_organizer.id}/remove"))
    return w.event.id, f"user {w.other_organizer.id}"


def switch_the_join_link_off(w: EventWorld, client, log):
    log.new()
    ok(client.post(f"/events/{w.event.slug}/join-link", data={}))
    return w.event.id, ""


def make_a_new_join_link(w: EventWorld, client, log):
    log.new()
    ok(client.post(f"/events/{w.event.slug}/join-link/new"))
    return w.event.id, ""


def download_the_badge_sheet(w: EventWorld, client, log):
    log.new()
    response = client.get(f"/events/{w.event.slug}/badges.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    return w.event.id, ""


def download_one_badge(w: EventWorld, client, log):
    aid = attendance_id(w.app, w.event, w.attendee)
    log.new()
    response = client.get(f"/events/{w.event.slug}/attendees/{aid}/badge.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    return w.event.id, f"attendance {aid}"


def mark_badges_printed(w: EventWorld, client, log):
    log.new()
    ok(client.post(f"/events/{w.event.slug}/badges/printed"))
    return w.event.id, ""


def change_a_role(w: EventWorld, client, log):
    log.new()
    ok(client.post(f"/admin/users/{w.attendee.id}/role", data={"role": "organizer"}))
    return None, f"user {w.attendee.id}"


def disable_an_account(w: EventWorld, client, log):
    log.new()
    ok(client.post(f"/admin/users/{w.attendee.id}/disable"))
    return None, f"user {w.attendee.id}"


def enable_an_account(w: EventWorld, client, log):
    with w.app.app_context():
        db.session.get(User, w.attendee.id).is_disabled = True
        db.session.commit()
    log.new()
    ok(client.post(f"/admin/users/{w.attendee.id}/enable"))
    return None, f"user {w.attendee.id}"


def export_contacts(path: str) -> Callable:
    def case(w: EventWorld, client, log):
        log.new()
        assert client.get(path).status_code == 200
        return None, ""
    return case


CASES = [
    ("organizer", check_in_at_the_door, "attendees.check_in"),
    ("organizer", check_in_from_the_badge_page, "attendees.check_in"),
    ("organizer", remove_a_registrant, "attendees.remove"),
    ("organizer", export_the_attendee_list, "attendees.export"),
    ("organizer", upload_registrants, "registrants.upload"),
    ("organizer", discard_an_upload, "registrants.discard"),
    ("organizer", send_recaps_now, "recaps.send"),
    ("organizer", create_an_event, "event.create"),
    ("organizer", edit_an_event, "event.edit"),
    ("organizer", cancel_an_event, "event.cancel"),
    ("organizer", invite_someone, "event.invite"),
    ("organizer", add_a_co_organizer, "event.organizer_add"),
    ("organizer", remove_a_co_organizer, "event.organizer_remove"),
    ("organizer", switch_the_join_link_off, "event.join_link"),
    ("organizer", make_a_new_join_link, "event.join_link_reset"),
    ("organizer", download_the_badge_sheet, "badges.download"),
    ("organizer", download_one_badge, "badges.download"),
    ("organizer", mark_badges_printed, "badges.print"),
    ("admin", check_in_at_the_door, "attendees.check_in"),  # site admins may act on any event
    ("admin", change_a_role, "user.role"),
    ("admin", disable_an_account, "user.disable"),
    ("admin", enable_an_account, "user.enable"),
    ("attendee", export_contacts("/contacts.vcf"), "contacts.export"),
    ("attendee", export_contacts("/contacts.csv"), "contacts.export"),
    ("attendee", export_contacts("/account/data.zip"), "contacts.export"),
]


@pytest.mark.parametrize(("role", "case", "action"), CASES,
                         ids=[f"{role}:{case.__name__}:{action}" for role, case, action in CASES])
def test_each_audited_action_writes_one_entry_naming_actor_action_and_event(world, client, log, role, case, action):
    world.sign_in(role)
    actor = world.user(role)
    event_id, subject = case(world, client, log)
    assert log.new() == [Entry(actor.id, actor.email, action, event_id, subject, "127.0.0.1")]


def test_every_known_action_has_a_case_here():
    assert {action for _, _, action in CASES} | {"attendees.walk_in", "registrants.import"} == set(audit.ACTIONS)


def test_a_role_change_says_from_what_to_what(app, world, client):
    world.sign_in("admin")
    client.post(f"/admin/users/{world.attendee.id}/role", data={"role": "organizer"})
    with app.app_context():
        assert db.session.scalars(select(AuditEntry.detail)).all() == ["attendee → organizer"]


def test_a_walk_in_writes_its_registration_and_its_check_in(app, world, client, log):
    world.sign_in("organizer")
    log.new()
    ok(client.post(f"/events/{world.event.slug}/door/walk-in",
                   data={"name": "Wanda Walker", "email": "wanda@example.com", "company": ""}))
    with app.app_context():
        wanda = db.session.scalar(select(User.id).filter_by(email="wanda@example.com"))
    o = world.organizer
    assert log.new() == [Entry(o.id, o.email, "attendees.walk_in", world.event.id, f"user {wanda}", "127.0.0.1"),
                         Entry(o.id, o.email, "attendees.check_in", world.event.id, f"user {wanda}", "127.0.0.1")]


def test_confirming_an_import_writes_one_entry(app, world, client, log):
    world.sign_in("organizer")
    import_id = upload(client, world.event)
    log.new()
    ok(client.post(f"/events/{world.event.slug}/imports/{import_id}/start"))
    o = world.organizer
    assert log.new() == [Entry(o.id, o.email, "registrants.import", world.event.id, f"import {import_id}",
                               "127.0.0.1")]


def test_a_second_tap_on_check_in_changes_nothing_and_writes_nothing(world, client, log):
    world.sign_in("organizer")
    aid = attendance_id(world.app, world.event, world.attendee)
    client.post(f"/events/{world.event.slug}/door/{aid}/check-in")
    assert [e.action for e in log.new()] == ["attendees.check_in"]
    client.post(f"/events/{world.event.slug}/door/{aid}/check-in")
    assert log.new() == []


# --- Refused, failed and rolled back: no entry ------------------------------------------------


def refused_recaps_before_the_end(w: EventWorld, client):
    return client.post(f"/events/{w.event.slug}/recaps/send")  # the event hasn't happened yet


def refused_own_role(w: EventWorld, client):
    return client.post(f"/admin/users/{w.admin.id}/role", data={"role": "attendee"})


def refused_own_account(w: EventWorld, client):
    return client.post(f"/admin/users/{w.admin.id}/disable")


def refused_co_organizer_twice(w: EventWorld, client):
    return client.post(f"/events/{w.event.slug}/organizers", data={"organizer-email": w.organizer.email})


def refused_edit_ending_before_it_starts(w: EventWorld, client):
    return client.post(f"/events/{w.event.slug}/edit", data={
        "name": "Spring Mixer", "venue": "", "timezone": "Europe/Lisbon", "starts_at": "2027-07-02T18:30",
        "ends_at": "2027-07-02T17:00", "description": "", "followup_delay_minutes": ""})


def refused_walk_in_without_email(w: EventWorld, client):
    return client.post(f"/events/{w.event.slug}/door/walk-in", data={"name": "No Mail", "email": "nope"})


def refused_check_in_at_another_event(w: EventWorld, client):
    aid = attendance_id(w.app, w.other_event, w.other_attendee)
    return client.post(f"/events/{w.event.slug}/door/{aid}/check-in")


def refused_export_of_another_event(w: EventWorld, client):
    return client.get(f"/events/{w.other_event.slug}/attendees.csv")


def refused_upload_that_is_empty(w: EventWorld, client):
    return client.post(f"/events/{w.event.slug}/imports", data={"file": (io.BytesIO(b"email,name\n"), "e.csv")})


REFUSALS = [
    ("organizer", refused_recaps_before_the_end),
    ("admin", refused_own_role),
    ("admin", refused_own_account),
    ("organizer", refused_co_organizer_twice),
    ("organizer", refused_edit_ending_before_it_starts),
    ("organizer", refused_walk_in_without_email),
    ("organizer", refused_check_in_at_another_event),
    ("organizer", refused_export_of_another_event),
    ("organizer", refused_upload_that_is_empty),
    ("attendee", lambda w, client: client.post(f"/admin/users/{w.other_attendee.id}/disable")),
    ("anonymous", lambda w, client: client.get("/contacts.vcf")),
]


@pytest.mark.parametrize(("role", "attempt"), REFUSALS, ids=[f"{r}:{a.__name__}" for r, a in REFUSALS])
def test_a_refused_action_writes_no_entry(world, client, log, role, attempt):
    world.sign_in(role)
    log.new()
    response = attempt(world, client)
    assert response.status_code < 500
    assert log.new() == []


def test_an_entry_is_part_of_its_action_and_goes_when_the_action_is_rolled_back(app, ctx, log):
    admin = make_user(app, "ada@example.com", role="admin")
    target = make_user(app, "tim@example.com")
    from webapp.services import admin_users

    admin_users.disable(admin, target)
    db.session.rollback()
    assert log.new() == []

    admin_users.disable(admin, db.session.get(User, target.id))
    db.session.commit()
    assert [(e.action, e.subject, e.ip) for e in log.new()] == [("user.disable", f"user {target.id}", None)]


def test_an_unknown_action_is_a_programming_error(ctx):
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(None, "user.frobnicate")


def test_entries_outlive_the_actor_and_the_event_keeping_the_actors_email(app, world, client):
    """Deleting the account unlinks its entries (SET NULL) but keeps who it was;
    the page says the account is gone."""
    helper = make_user(app, "second.admin@example.com", role="admin", password=None)
    owner = make_user(app, "short.lived@example.com", role="organizer", password=None)
    gone = past_event(app, owner)
    with app.app_context():
        audit.record(db.session.get(User, helper.id), "user.role", subject=f"user {world.attendee.id}")
        audit.record(db.session.get(User, owner.id), "recaps.send", event=db.session.get(Event, gone.id))
        db.session.commit()
        for user in (helper, owner):
            account_deletion.delete_account(db.session.get(User, user.id), confirmation=user.email)
        db.session.commit()
        left = [(e.actor_id, e.actor_email, e.action, e.event_id)
                for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert db.session.get(Event, gone.id) is None  # an ended event nobody else attended goes with its owner
    assert left == [(None, "second.admin@example.com", "user.role", None),
                    (None, "short.lived@example.com", "recaps.send", None)]
    world.sign_in("admin")
    assert client.get("/admin/audit").get_data(as_text=True).count("(account deleted)") == 2


# --- The page -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ("anonymous", "attendee", "organizer", "other_organizer", "admin"))
def test_only_site_admins_read_the_audit_log(app, world, client, role):
    with app.app_context():
        organizer, event = db.session.get(User, world.organizer.id), db.session.get(Event, world.event.id)
        audit.record(organizer, "event.edit", event=event)
        db.session.commit()
    world.sign_in(role)
    response = client.get("/admin/audit")
    if role == "anonymous":
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login" and parse_qs(location.query)["next"] == ["/admin/audit"]
    else:
        assert response.status_code == (200 if role == "admin" else 403)
    assert ("organizer@example.com" in response.get_data(as_text=True)) is (role == "admin")


def test_the_admin_index_links_to_health_and_audit(world, client):
    world.sign_in("admin")
    body = client.get("/admin").get_data(as_text=True)
    assert 'href="/admin/health"' in body and 'href="/admin/audit"' in body


MARK = '<img src=x onerror="alert({})">'


def test_the_page_escapes_html_in_every_field(app, world, client):
    fields = ("email", "action", "subject", "detail", "ip", "event")
    with app.app_context():
        event = db.session.get(Event, world.event.id)
        event.name = MARK.format("event")
        db.session.add(AuditEntry(actor_email=MARK.format("email"), action=MARK.format("action"), event=event,
                                  subject=MARK.format("subject"), detail=MARK.format("detail"), ip=MARK.format("ip")))
        db.session.commit()
    world.sign_in("admin")
    body = client.get("/admin/audit").get_data(as_text=True)
    for field in fields:
        assert MARK.format(field) not in body
        assert str(escape(MARK.format(field))) in body, field


def listed(body: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="entry-(\d+)">', body)]


@pytest.fixture
def many(app):
    """60 entries: Ada (admin) disabling, Otto (organizer) exporting, alternately."""
    ada = make_user(app, "Ada.Admin@example.com", role="admin", password=None)
    otto = make_user(app, "otto_org@example.com", role="organizer", password=None)
    with app.app_context():
        people = db.session.get(User, ada.id), db.session.get(User, otto.id)
        for n in range(60):
            if n % 2:
                audit.record(people[1], "attendees.export", subject=f"n {n}")
            else:
                audit.record(people[0], "user.disable", subject=f"n {n}")
        db.session.commit()
        ids = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()
    return ada, ids


def test_the_log_lists_newest_first_fifty_a_page(client, auth, many):
    ada, ids = many
    auth.as_user(ada)
    first = listed(client.get("/admin/audit").get_data(as_text=True))
    second = listed(client.get("/admin/audit?page=2").get_data(as_text=True))
    assert first == sorted(ids, reverse=True)[:50]
    assert second == sorted(ids, reverse=True)[50:]
    assert listed(client.get("/admin/audit?page=99").get_data(as_text=True)) == []


def test_the_log_filters_by_action_and_by_part_of_the_actors_email_in_any_case(app, client, auth, many):
    ada, ids = many
    auth.as_user(ada)
    with app.app_context():
        exports = set(db.session.scalars(select(AuditEntry.id).where(AuditEntry.action == "attendees.export")))
    assert set(listed(client.get("/admin/audit?action=attendees.export").get_data(as_text=True))) == exports
    assert set(listed(client.get("/admin/audit?actor=OTTO_&page=1").get_data(as_text=True))) == exports
    by_ada = client.get("/admin/audit?actor=ada.admin&action=user.disable").get_data(as_text=True)
    assert set(listed(by_ada)) == set(ids) - exports
    assert listed(client.get("/admin/audit?actor=ada&action=attendees.export").get_data(as_text=True)) == []
    assert listed(client.get("/admin/audit?actor=%25").get_data(as_text=True)) == []  # "%" is literal


@pytest.mark.parametrize("query", ("action=nonsense", "action=%00", "actor=" + "x" * 5000, "page=abc", "page=-1",
                                   "actor=%00"))
def test_odd_filters_show_a_page_not_an_error(client, auth, many, query):
    ada, _ = many
    auth.as_user(ada)
    assert client.get(f"/admin/audit?{query}").status_code == 200
