"""HTML, JavaScript and template syntax typed into any text field come out as
text everywhere: escaped on every page and in every email's HTML part, plain
in the text part, drawn literally on the badge PDF, and never run as a formula
by a spreadsheet opening one of the CSV files the app writes.

Assertions are on the raw bytes that leave the app.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from types import SimpleNamespace

import pypdfium2
import pytest
from sqlalchemy import select

from tests.factories import make_user
from webapp.extensions import db
from webapp.models import Contact, Event, OutboxMessage, RegistrantImport, User, utcnow
from webapp.services import (
    attendees,
    cadences,
    connections,
    contact_csv,
    contact_import,
    contacts,
    digest,
    events,
    nudges,
    recaps,
    registrant_import,
    tags,
)
from webapp.services import outbox as delivery

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
TEMPLATE = "{{7*7}}"
PAYLOADS = [SCRIPT, ATTRIBUTE, TEMPLATE]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escaped(payload: str) -> bytes:
    """The payload as Jinja (markupsafe) writes it into HTML."""
    return (payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
            .replace("'", "&#39;").encode())


def dangerous(payload: str) -> bytes:
    """The part of the payload that would run if it reached the page raw."""
    return {SCRIPT: b"<script>alert(1)", ATTRIBUTE: b"<img src=x", TEMPLATE: b"{{7*7}}"}[payload]


def assert_only_escaped(body: bytes, payload: str, where: str) -> None:
    if payload == TEMPLATE:  # no HTML in it: it must come out as typed, not evaluated
        assert payload.encode() in body, f"{where}: the text is missing"
        return
    assert dangerous(payload) not in body, f"{where}: {payload!r} appears raw"
    assert escaped(payload) in body, f"{where}: {payload!r} doesn't appear escaped"


@pytest.fixture(params=PAYLOADS, ids=["script", "attribute", "template"])
def evil(request, app):
    """Every text field holds the payload: people, an event that ended 40 hours
    ago (its recap is due), a scan with a note and tags, a contact typed in, a
    touch, a tag with a cadence, imported contacts and imported registrants."""
    p = request.param
    with app.app_context():
        organizer = make_user(app, "olga@example.com", name=f"Olga {p}", role="organizer", headline=p, company=p)
        admin = make_user(app, "root@example.com", name=f"Ada {p}", role="admin")
        ana = make_user(app, "ana@example.com", name=f"Ana {p}", headline=p, company=p, looking_for=p,
                        timezone="Europe/Lisbon")
        eve = make_user(app, "eve@example.com", name=f"Eve {p}", headline=p, company=p, looking_for=p,
                        share_email=True, timezone="Europe/Lisbon")
        end = utcnow().replace(microsecond=0) - timedelta(hours=40)
        event = events.create_event(organizer, f"Mixer {p}", end - timedelta(hours=3), end, "Europe/Lisbon",
                                    venue=p, description=p)
        events.add_attendee(event, ana)
        eve_badge = events.add_attendee(event, eve, listed=True)
        start = utcnow() + timedelta(days=5)
        upcoming = events.create_event(organizer, f"Summit {p}", start, start + timedelta(hours=3), "Europe/Lisbon",
                                       venue=p, description=p)
        events.add_attendee(upcoming, ana, listed=True)
        events.add_attendee(upcoming, eve, listed=True)
        connections.record_scan(ana, eve_badge.badge_token, "scan-1", note=p, tags=[p[:60]],
                                scanned_at=event.starts_at + timedelta(minutes=30))
        manual = contacts.create(ana, name=f"Cal {p}", company=p, headline=p, note=p)
        tags.tag_many(ana, [manual.id], f"Old {p}"[:60])
        cadences.log_touch(manual, "call", at=utcnow() - timedelta(days=40), note=p)
        cadences.set_contact_cadence(manual, 30)
        upload = contact_import.create(ana, "cards.csv", _csv_bytes(
            ["name", "email", "company", "title", "notes", "tags"],
            [f"Imp {p}", "imp@example.com", p, p, p, p[:60]]))
        db.session.commit()
        preview_contacts = f"/contacts/import/{upload.id}"
        imp = registrant_import.create_import(upcoming, organizer, "list.csv", _csv_bytes(
            ["name", "email", "company", "headline"], [f"Reg {p}", "reg@example.com", p, p]))
        db.session.commit()
        preview_registrants = f"/events/{upcoming.slug}/imports/{imp.id}"
        ids = SimpleNamespace(organizer=organizer.id, admin=admin.id, ana=ana.id, eve=eve.id, event=event.id,
                              slug=event.slug, next=upcoming.slug, eve_token=eve_badge.badge_token, manual=manual.id,
                              eve_contact=connections.contact_for(ana.id, eve.id).id, import_id=imp.id)
    return SimpleNamespace(payload=p, preview_contacts=preview_contacts, preview_registrants=preview_registrants,
                           **vars(ids))


def _csv_bytes(*rows) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def sign_in(client, user_id: int) -> None:
    with client.application.app_context():
        ident = db.session.get(User, user_id).get_id()
    with client.session_transaction() as session:
        session["_user_id"] = ident
        session["_fresh"] = True


def pages(w) -> list[tuple[int, str]]:
    """(who, path) of every page the payload appears on."""
    return [
        (w.ana, "/"), (w.ana, "/profile"), (w.ana, "/profile/edit"), (w.eve, f"/events/{w.slug}/badge"),
        (w.ana, f"/b/{w.eve_token}"), (w.ana, "/contacts"), (w.ana, f"/contacts?q={w.payload[:20]}"),
        (w.ana, f"/contacts/{w.eve_contact}"), (w.ana, f"/contacts/{w.manual}"), (w.ana, "/follow-ups"),
        (w.ana, "/contacts/losing-touch"), (w.ana, "/tags"), (w.eve, "/contacts/scanned-me"), (w.ana, "/events"),
        (w.ana, f"/events/{w.slug}"), (w.ana, f"/events/{w.slug}/people"), (w.ana, w.preview_contacts),
        (w.eve, f"/events/{w.next}/badge"), (w.ana, f"/events/{w.next}"), (w.ana, f"/events/{w.next}/people"),
        (w.organizer, f"/events/{w.slug}"), (w.organizer, f"/events/{w.slug}/dashboard"),
        (w.organizer, f"/events/{w.slug}/attendees"), (w.organizer, f"/events/{w.next}/door?q=Eve"),
        (w.organizer, f"/events/{w.next}/edit"), (w.organizer, f"/events/{w.next}/badges"),
        (w.organizer, f"/events/{w.next}/attendees"), (w.organizer, f"/events/{w.next}/dashboard"),
        (w.organizer, f"/events/{w.slug}/recaps"), (w.organizer, f"/events/{w.slug}/recaps/preview/{w.ana}"),
        (w.organizer, f"/events/{w.slug}/recaps/preview/{w.ana}.html"), (w.organizer, w.preview_registrants),
        (w.organizer, f"/events/{w.next}/imports"), (w.admin, "/admin/users"), (w.admin, "/admin/users?q=Eve"),
    ]


def test_every_page_shows_the_payload_only_escaped(app, client, evil):
    for who, path in pages(evil):
        sign_in(client, who)
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert_only_escaped(response.data, evil.payload, path)


def test_imported_registrants_show_escaped_on_the_attendee_list(app, client, evil):
    with app.app_context():
        registrant_import.start(db.session.get(RegistrantImport, evil.import_id))
        db.session.commit()
        registrant_import.run_import(evil.import_id)
    sign_in(client, evil.organizer)
    body = client.get(f"/events/{evil.next}/attendees?q=Reg").data
    assert b"reg@example.com" in body
    assert_only_escaped(body, evil.payload, "attendee list with imported registrants")


def test_imported_contacts_show_escaped_in_the_address_book(app, client, evil):
    sign_in(client, evil.ana)
    assert client.post(evil.preview_contacts).status_code == 302
    with app.app_context():
        imported = db.session.scalars(select(Contact).where(Contact.email == "imp@example.com")).one().id
    for path in ("/contacts?q=Imp", f"/contacts/{imported}"):
        assert_only_escaped(client.get(path).data, evil.payload, path)


def test_the_mail_log_shows_subjects_and_bodies_escaped(app, client, outbox, evil):
    with app.app_context():
        recaps.run_due(utcnow())
        db.session.commit()
        delivery.deliver_due()
        message_id = db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == "recap")).first()
    sign_in(client, evil.admin)
    for path in ("/admin/mail", "/admin/mail?q=Mixer", f"/admin/mail/{message_id}",
                 f"/admin/mail/{message_id}/body.html"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_only_escaped(response.data, evil.payload, path)


def deliver_due_emails(app, evil) -> set[str]:
    """Queue the recap, the first reminder and a digest, deliver them (memory
    transport) and return the kinds Ana got."""
    with app.app_context():
        ana = db.session.get(User, evil.ana)
        event = db.session.get(Event, evil.event)
        assert recaps.run_due(utcnow()) >= 1
        db.session.commit()
        assert nudges.queue_due(nudges.due_times(event)[0]) >= 1
        db.session.commit()
        now = utcnow()
        ana.digest_weekday = now.astimezone(digest.zone(ana)).weekday()
        db.session.commit()
        assert digest.queue_due(digest.due_time(ana, now) + timedelta(minutes=1)) == 1
        db.session.commit()
        delivery.deliver_due()
        return set(db.session.scalars(select(OutboxMessage.kind).where(OutboxMessage.recipient == ana.email)))


def test_recap_nudge_and_digest_emails_escape_html_and_keep_text_plain(app, outbox, evil):
    assert deliver_due_emails(app, evil) == {"recap", "nudge", "digest"}
    mine = {m["Subject"]: m for m in outbox.to("ana@example.com")}
    assert len(mine) == 3
    for subject, message in mine.items():
        html = message.get_body(("html",)).get_content().encode()
        text = message.get_body(("plain",)).get_content()
        assert_only_escaped(html, evil.payload, f"HTML part of {subject!r}")
        assert evil.payload in text, f"text part of {subject!r} should carry the text as typed"
        assert "&lt;" not in text and "&#34;" not in text, f"text part of {subject!r} is HTML-escaped"


def test_the_registrant_invitation_escapes_the_event_name(app, outbox, evil):
    with app.app_context():
        registrant_import.start(db.session.get(RegistrantImport, evil.import_id))
        db.session.commit()
        registrant_import.run_import(evil.import_id)
        delivery.deliver_due()
    message = outbox.last("reg@example.com")
    assert_only_escaped(message.get_body(("html",)).get_content().encode(), evil.payload, "registrant invitation")
    assert f"Summit {evil.payload}" in message.get_body(("plain",)).get_content()


# --- The badge PDF --------------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(data)
    try:
        return "".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def test_the_badge_pdf_draws_the_text_literally(app, client, evil):
    sign_in(client, evil.organizer)
    response = client.get(f"/events/{evil.next}/badges.pdf?layout=1")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = re.sub(r"\s+", "", pdf_text(response.data))
    squeezed = re.sub(r"\s+", "", evil.payload)
    # The name is drawn whole (it may wrap); the event name, headline and company too, or cut with "…".
    assert "Eve" + squeezed in text, text[:500]
    assert text.count(squeezed) >= 3
    assert "&lt;" not in text and "&#34;" not in text


# --- CSV files: no formula injection ------------------------------------------------------------------

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A2)", "\tcmd", "\r=1"]


def cells(body: bytes) -> list[list[str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def assert_no_formula(rows: list[list[str]], *expected: str) -> None:
    flat = [cell for row in rows for cell in row]
    for cell in flat:
        assert not cell.startswith(FORMULA_START), f"a spreadsheet would run {cell!r}"
    for value in expected:  # each one is there, behind one apostrophe
        assert "'" + value in flat, f"{value!r} is missing from {flat}"


def test_contact_csv_writer_neutralises_every_formula_start():
    rows = [[value, "", "", value, value, value, value, value, ""] for value in FORMULAS]
    body = "".join(contact_csv.chunks(rows)).encode()
    assert_no_formula(cells(body), *FORMULAS)
    assert [row[0] for row in cells(body)[1:]] == ["'" + value for value in FORMULAS]


def test_attendee_csv_writer_neutralises_every_formula_start():
    body = "".join(attendees.csv_chunks([FORMULAS, [1, None, "plain"]])).encode()
    rows = cells(body)
    assert rows[0] == ["'" + value for value in FORMULAS] and rows[1] == ["1", "", "plain"]


@pytest.fixture
def formulas(app):
    """Ana, whose name, company and headline start with formula characters, attends
    Olga's event and keeps contacts whose every field does too."""
    organizer = make_user(app, "olga@example.com", name="Olga", role="organizer")
    ana = make_user(app, "=1+2@example.com", name="=HYPERLINK(\"http://evil.example\")", company="@SUM(A1)",
                    headline="-2+3", phone="+351 912 345 678")
    with app.app_context():
        event = events.create_event(db.session.get(User, organizer.id), "Spring Mixer",
                                    utcnow() + timedelta(days=3), utcnow() + timedelta(days=3, hours=2), "UTC")
        events.add_attendee(event, db.session.get(User, ana.id))
        owner = db.session.get(User, ana.id)
        contact = contacts.create(owner, name="=cmd|' /C calc'!A0", email="-x@example.com", company="+1",
                                  headline="@x", phone="+44 20 7946 0000", note="=1+1")
        tags.tag_many(owner, [contact.id], "=tag")
        db.session.commit()
        return SimpleNamespace(organizer=organizer.id, ana=ana.id, slug=event.slug)


def test_the_contacts_csv_download_is_safe_in_a_spreadsheet(client, formulas):
    sign_in(client, formulas.ana)
    response = client.get("/contacts.csv")
    assert response.status_code == 200
    assert_no_formula(cells(response.data), "=cmd|' /C calc'!A0", "-x@example.com", "+1", "@x", "+44 20 7946 0000",
                      "=1+1", "=tag")


def test_the_attendee_csv_download_is_safe_in_a_spreadsheet(client, formulas):
    sign_in(client, formulas.organizer)
    response = client.get(f"/events/{formulas.slug}/attendees.csv")
    assert response.status_code == 200
    assert_no_formula(cells(response.data), "=HYPERLINK(\"http://evil.example\")", "=1+2@example.com", "@SUM(A1)",
                      "-2+3")


def test_the_bad_rows_csv_is_safe_in_a_spreadsheet(app, client, formulas):
    with app.app_context():
        event = db.session.scalars(select(Event).where(Event.slug == formulas.slug)).one()
        imp = registrant_import.create_import(
            event, db.session.get(User, formulas.organizer), "list.csv",
            b"name,email\nA,=HYPERLINK(1)\nB,+1\nC,-1\nD,@x\nE,ok@example.com\n")
        db.session.commit()
        import_id = imp.id
    sign_in(client, formulas.organizer)
    response = client.get(f"/events/{formulas.slug}/imports/{import_id}/bad-rows.csv")
    assert response.status_code == 200
    assert_no_formula(cells(response.data), "=HYPERLINK(1)", "+1", "-1", "@x")
