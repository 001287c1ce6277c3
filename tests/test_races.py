"""Two people (or two workers) doing the same thing at the same moment get
consistent results and never a 500: two organizers checking in one person,
one import run twice at once, a scan racing the removal of that connection.

Each side runs in its own thread with its own client (or app context) against
the suite's database, released together by a barrier; every race is run a
few times so that more than one interleaving gets tried.
"""

from __future__ import annotations

from sqlalchemy import func, select

from tests.api_support import CONTACTS, bearer, new_client_id, post_scan, token_for
from tests.conftest import at_once, released_together
from tests.factories import attend, make_event, make_user
from tests.test_registrant_import import PEOPLE, csv_bytes, upload
from tests.test_registrant_import import setup as setup  # the fixture, used by name
from webapp.extensions import db
from webapp.models import Attendance, Contact, Event, RegistrantImport, Scan, User
from webapp.services import events
from webapp.services import outbox as delivery
from webapp.services import registrant_import as importing

ROUNDS = 4


def signed_in(app, user):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
    return client


def test_two_organizers_checking_in_one_person_at_once_check_them_in_once(app):
    owner = make_user(app, "owner@example.com", name="Olga Owner", role="organizer")
    helper = make_user(app, "helper@example.com", name="Hugo Helper", role="organizer")
    event = make_event(app, owner, "Door Race")
    with app.app_context():
        events.add_co_organizer(db.session.get(Event, event.id), db.session.get(User, owner.id), helper.email)
        db.session.commit()
    doors = [signed_in(app, owner), signed_in(app, helper)]
    for n in range(ROUNDS):
        guest = make_user(app, f"guest{n}@example.com", name=f"Guest {n}")
        badge = attend(app, event, guest).badge_token
        answers = released_together(*(lambda door=door, path=f"/b/{badge}/check-in": door.post(path) for door in doors))
        assert [a.status_code for a in answers] == [302, 302]  # both sent back to the badge page, no error
        with app.app_context():
            attendance = db.session.scalar(select(Attendance).where(Attendance.badge_token == badge))
            assert attendance.checked_in_at is not None and attendance.checked_in_by_id in {owner.id, helper.id}
        told = [door.get(f"/b/{badge}").get_data(as_text=True) for door in doors]  # their flash messages
        checker = "Olga Owner" if attendance.checked_in_by_id == owner.id else "Hugo Helper"
        did = [page for page in told if f"Guest {n} is checked in." in page]
        warned = [page for page in told if "already checked in" in page]
        assert len(did) == 1 and len(warned) == 1 and f"by {checker}" in warned[0]


def test_one_import_run_twice_at_once_imports_everyone_once(app, setup, outbox):
    for n in range(ROUNDS):
        rows = PEOPLE.replace("new@example.com", f"new{n}@example.com")
        import_id = upload(app, setup, csv_bytes(rows))
        with app.app_context():
            importing.start(db.session.get(RegistrantImport, import_id))
            db.session.commit()
        reports = at_once(app, lambda import_id=import_id: importing.run_import(import_id))
        ran = [r for r in reports if r is not None]
        assert len(ran) >= 1 and all(r["status"] == "done" for r in ran)
        with app.app_context():
            imp = db.session.get(RegistrantImport, import_id)
            assert (imp.status, imp.processed, imp.created) == ("done", 3, 1)
            newcomer = db.session.scalar(select(User).where(User.email == f"new{n}@example.com"))
            attendances = db.session.scalar(select(func.count()).select_from(Attendance).where(
                Attendance.user_id == newcomer.id, Attendance.event_id == setup["event"].id))
            assert attendances == 1
            delivery.deliver_due()
        assert len(outbox.to(f"new{n}@example.com")) == 1  # one invitation, not two


def test_a_scan_racing_the_removal_of_that_connection_leaves_one_consistent_entry(app):
    organizer = make_user(app, "org@example.com", role="organizer")
    event = make_event(app, organizer, "Race Night")
    ana, pia = make_user(app, "ana@example.com", name="Ana"), make_user(app, "pia@example.com", name="Pia")
    attend(app, event, ana)
    badge = attend(app, event, pia).badge_token
    token = token_for(app, ana)
    first = post_scan(app.test_client(), token, badge)
    assert first.status_code == 201
    contact_id = first.get_json()["contact"]["id"]
    for _ in range(ROUNDS):
        scan_client, remove_client = app.test_client(), app.test_client()
        scanned, removed = released_together(
            lambda scanning=scan_client: post_scan(scanning, token, badge),
            lambda removing=remove_client: removing.delete(f"{CONTACTS}/{contact_id}", headers=bearer(token)),
        )
        assert scanned.status_code in (200, 201), scanned.get_data(as_text=True)
        assert removed.status_code in (204, 404), removed.get_data(as_text=True)
        with app.app_context():
            entries = db.session.scalars(select(Contact).where(Contact.owner_id == ana.id,
                                                               Contact.user_id == pia.id)).all()
            assert len(entries) == 1  # never a second entry for the same person
            # Either order is a consistent outcome: removed after the scan, or back again by it.
            assert entries[0].deleted_at is None or removed.status_code == 204
            scans = db.session.scalar(select(func.count()).select_from(Scan).where(Scan.scanner_id == ana.id))
        # Put the entry back for the next round (a scan brings a removed connection back).
        again = post_scan(app.test_client(), token, badge, client_id=new_client_id())
        assert again.status_code in (200, 201)
        assert scans >= 2
