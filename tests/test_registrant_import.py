"""Registrant import: reading the organizer's CSV, importing it (once, however
often it is uploaded), the invitation each person gets, the "not me" link,
the progress JSON, and 10,000 rows through the worker task in bounded SQL.

Parser tests call :func:`parse` on bytes; import tests go through the service
and the real Huey task (immediate mode, or queued and executed as a consumer
would), and read the outbox the memory transport delivered.
"""

from __future__ import annotations

import base64
import codecs
import csv
import io
import re
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from tests.conftest import BASE_URL
from tests.factories import attend, make_event, make_user
from webapp.extensions import db
from webapp.jobs import huey, import_registrants
from webapp.models import Attendance, Event, OutboxMessage, RegistrantImport, RegistrantOptOut, User
from webapp.services import events as events_service
from webapp.services import registrant_import as service
from webapp.services.registrant_csv import MAX_ROWS, ImportFileError, parse, template_csv


def csv_bytes(text: str, *, bom: bool = False, encoding: str = "utf-8") -> bytes:
    data = text.replace("\n", "\r\n").encode(encoding)  # Excel writes CRLF
    return codecs.BOM_UTF8 + data if bom else data


def bad_lines(parsed) -> dict[int, str]:
    return {bad.line: bad.reason for bad in parsed.bad}


# --- Reading the file -----------------------------------------------------------------


@pytest.mark.parametrize("bom", [True, False], ids=["with BOM", "without BOM"])
def test_utf8_is_read_with_or_without_a_byte_order_mark(bom):
    parsed = parse(csv_bytes("name,email,company,headline\nJosé Ñúñez,jose@example.com,Café Ltd,Barista\n", bom=bom))
    assert [(r.line, r.name, r.email, r.company, r.headline) for r in parsed.rows] == [
        (2, "José Ñúñez", "jose@example.com", "Café Ltd", "Barista")]
    assert parsed.columns["name"] == "name"  # the BOM isn't glued to the first header
    assert parsed.notes == [] and parsed.bad == []


def test_semicolons_as_excel_writes_them_in_many_locales():
    parsed = parse(csv_bytes("Name;Email;Company;Headline\nAna Souza;ana@example.com;Acme, Inc;CTO\n", bom=True))
    assert [(r.name, r.email, r.company) for r in parsed.rows] == [("Ana Souza", "ana@example.com", "Acme, Inc")]


def test_excel_sep_line_names_the_delimiter_and_is_not_a_row():
    parsed = parse(csv_bytes("sep=;\nname;email\nAna;ana@example.com\n;broken\n"))
    assert [(r.line, r.email) for r in parsed.rows] == [(2, "ana@example.com")]
    assert list(bad_lines(parsed)) == [3]  # the header is line 1, as Excel shows it


def test_quoted_newlines_delimiters_and_quotes_stay_in_their_cell():
    text = ('name,email,company,headline\n'
            '"Souza, Ana",ana@example.com,"The ""Best"" Co","Line one\nline two"\n'
            'Bo,bo@example.com,,\n')
    parsed = parse(csv_bytes(text))
    ana, bo = parsed.rows
    assert (ana.name, ana.company, ana.headline) == ("Souza, Ana", 'The "Best" Co', "Line one line two")
    assert (ana.line, bo.line) == (2, 3)  # a newline inside quotes doesn't start a spreadsheet row


@pytest.mark.parametrize(("header", "row", "expected_name"), [
    ("E-mail,Full name", "ana@example.com,Ana Souza", "Ana Souza"),
    ("EMAIL ADDRESS;NAME", "ana@example.com;Ana Souza", "Ana Souza"),
    ("First name,Last name,Email", "Ana,Souza,ana@example.com", "Ana Souza"),
    ("Vorname;Nachname;E-Mail-Adresse", "Ana;Souza;ana@example.com", "Ana Souza"),
    ("email", "ana@example.com", "ana"),  # no name at all: the part before the @
], ids=["e-mail + full name", "upper case", "first + last", "German Excel", "email only"])
def test_header_names_are_matched_loosely(header, row, expected_name):
    parsed = parse(csv_bytes(f"{header}\n{row}\n"))
    assert [(r.email, r.name) for r in parsed.rows] == [("ana@example.com", expected_name)]


def test_other_header_spellings_for_company_and_headline_and_ignored_columns_are_named():
    parsed = parse(csv_bytes("Ticket type,Email Address,Organisation,Job Title\nVIP,ana@example.com,Acme,CTO\n"))
    assert [(r.company, r.headline) for r in parsed.rows] == [("Acme", "CTO")]
    assert "Ignored columns: Ticket type." in parsed.notes


def test_a_file_without_an_email_column_is_refused_with_the_columns_it_has():
    with pytest.raises(ImportFileError, match="No email column") as caught:
        parse(csv_bytes("Name,Company\nAna,Acme\n"))
    assert "“Name”, “Company”" in caught.value.message


def test_a_file_without_a_header_row_is_refused_with_a_hint():
    with pytest.raises(ImportFileError, match="Add a header row"):
        parse(csv_bytes("Ana,ana@example.com\n"))


def test_bad_rows_are_listed_with_spreadsheet_line_numbers_and_good_rows_kept():
    text = ("name,email\n"                   # 1
            '"Ana\nSouza",ana@example.com\n'  # 2 (two physical lines, one spreadsheet row)
            "Bo,\n"                           # 3 missing
            "\n"                              # 4 blank: ignored, still numbered
            "Cy,cy@@example.com\n"            # 5 malformed
            "Di,not-an-address\n"             # 6 malformed
            "Ana again,ANA@Example.com \n"    # 7 duplicate of line 2 (case and spaces don't matter)
            ",,\n"                            # 8 empty cells: ignored
            "Ed,ed@example.com\n")            # 9
    parsed = parse(csv_bytes(text))
    assert [(r.line, r.email) for r in parsed.rows] == [(2, "ana@example.com"), (9, "ed@example.com")]
    reasons = bad_lines(parsed)
    assert list(reasons) == [3, 5, 6, 7]
    assert reasons[3] == "The email is missing."
    assert reasons[5].startswith("Not a valid email address") and reasons[6].startswith("Not a valid email address")
    assert reasons[7] == "Same email as line 2."


def test_blank_lines_anywhere_are_ignored():
    parsed = parse(csv_bytes("\n\nname,email\n\nAna,ana@example.com\n\n\n"))
    assert [(r.line, r.email) for r in parsed.rows] == [(5, "ana@example.com")]
    assert parsed.bad == []


def test_an_unclosed_quote_is_reported_not_silently_swallowed():
    text = 'name,email\n"Ana,ana@example.com\n' + "".join(f"P{i},p{i}@example.com\n" for i in range(20))
    parsed = parse(csv_bytes(text))
    assert parsed.rows == []
    assert "never closed" in bad_lines(parsed)[2]


def test_windows_1252_is_read_with_a_note_to_check_it():
    parsed = parse("name;email\nJosé;jose@example.com\n".encode("cp1252"))
    assert parsed.rows[0].name == "José"
    assert any("Windows-1252" in note for note in parsed.notes)


def test_excel_unicode_text_utf16_is_read():
    parsed = parse("name\temail\nJosé\tjose@example.com\n".encode("utf-16"))
    assert [(r.name, r.email) for r in parsed.rows] == [("José", "jose@example.com")]


@pytest.mark.parametrize(("data", "message"), [
    (b"PK\x03\x04 an xlsx zip", "Excel workbook"),
    (b"", "empty"),
    (b"\r\n\r\n", "empty"),
    (b"\x81\x8d\x8f\x90", "couldn't read the characters"),
])
def test_files_that_cant_be_used_say_why(data, message):
    with pytest.raises(ImportFileError, match=message):
        parse(data)


def test_too_many_rows_is_refused():
    rows = "".join(f"p{i}@example.com\n" for i in range(MAX_ROWS + 1))
    with pytest.raises(ImportFileError, match="more than 20,000 rows"):
        parse(("email\n" + rows).encode())


def test_the_template_csv_reads_back_as_one_person():
    parsed = parse(template_csv().encode())
    assert [(r.name, r.email) for r in parsed.rows] == [("Ana Souza", "ana.souza@example.com")]


# --- Importing --------------------------------------------------------------------------

PEOPLE = (
    "name,email,company,headline\n"
    "New Person,new@example.com,Newco,Founder\n"
    "Existing Person Typed Differently,existing@example.com,Wrong Co,Wrong headline\n"
    "Already There,already@example.com,,\n"
    "Broken,broken@,,\n"
)


@pytest.fixture
def setup(app):
    organizer = make_user(app, "organizer@example.com", name="Olga Organizer", role="organizer")
    event = make_event(app, organizer, "Spring Mixer")
    existing = make_user(app, "existing@example.com", name="Eva Existing", company="Realco", headline="CTO")
    already = make_user(app, "already@example.com", name="Al Ready")
    attend(app, event, already)
    return {"organizer": organizer, "event": event, "existing": existing, "already": already}


def upload(app, setup, data: bytes) -> int:
    with app.app_context():
        imp = service.create_import(db.session.get(Event, setup["event"].id),
                                    db.session.get(User, setup["organizer"].id), "people.csv", data)
        db.session.commit()
        return imp.id


def import_file(app, setup, data: bytes) -> dict:
    """Upload, confirm and run through the task (inline: immediate mode), as the pages do."""
    import_id = upload(app, setup, data)
    with app.app_context():
        service.start(db.session.get(RegistrantImport, import_id))
        db.session.commit()
        import_registrants(import_id)
        return service.progress(db.session.get(RegistrantImport, import_id))


def outbox_rows(app) -> list[tuple[str, str]]:
    with app.app_context():
        return list(db.session.execute(select(OutboxMessage.recipient, OutboxMessage.kind)).all())


def attendance(app, event_id: int, email: str) -> Attendance | None:
    with app.app_context():
        found = db.session.scalar(select(Attendance).join(User, User.id == Attendance.user_id)
                                  .where(Attendance.event_id == event_id, User.email == email))
        if found is not None:
            db.session.expunge(found)
        return found


def test_import_creates_new_people_attaches_existing_ones_and_leaves_registered_ones_alone(app, setup, outbox):
    report = import_file(app, setup, csv_bytes(PEOPLE))
    assert {k: report[k] for k in ("status", "total", "processed", "created", "attached", "skipped", "bad")} == {
        "status": "done", "total": 3, "processed": 3, "created": 1, "attached": 1, "skipped": 1, "bad": 1}
    with app.app_context():
        new = db.session.scalar(select(User).filter_by(email="new@example.com"))
        assert (new.name, new.company, new.headline) == ("New Person", "Newco", "Founder")
        assert new.password_hash is None and new.email_verified is False and new.role == "attendee"
        existing = db.session.get(User, setup["existing"].id)
        assert (existing.name, existing.company, existing.headline) == ("Eva Existing", "Realco", "CTO")
        assert existing.password_hash is not None and existing.email_verified  # untouched
        assert db.session.scalar(select(func.count()).select_from(User).filter_by(email="broken@")) == 0
    via = {email: attendance(app, setup["event"].id, email).registered_via
           for email in ("new@example.com", "existing@example.com", "already@example.com")}
    assert via == {"new@example.com": "import", "existing@example.com": "import", "already@example.com": "join"}
    # One invitation each for the two people registered; nothing for who was registered already.
    assert sorted(m["To"] for m in outbox.messages) == ["existing@example.com", "new@example.com"]


def test_the_invitation_carries_a_personal_link_the_badge_link_and_a_not_me_link(app, setup, outbox, client):
    import_file(app, setup, csv_bytes(PEOPLE))
    message = outbox.last("new@example.com")
    assert message["Subject"] == "You're registered for Spring Mixer"
    badge = attendance(app, setup["event"].id, "new@example.com").badge_token
    text = outbox.text(message)
    assert f"{BASE_URL}/b/{badge}" in text.split()
    assert f"{BASE_URL}/b/{badge}" in message.get_body(("html",)).get_content()
    not_me = outbox.path(message, "/not-me/")
    assert message["List-Unsubscribe"] == f"<{BASE_URL}{not_me}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    payload = not_me.removeprefix("/not-me/").split(".")[0]
    assert b"example.com" not in base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))  # no address in URLs

    # The personal link is the events feature's invitation: it signs them in and proves the address.
    invite = outbox.path(message, "/invite/")
    assert client.get(invite).status_code == 200
    landed = client.post(invite)
    assert urlsplit(landed.headers["Location"]).path == "/events/spring-mixer/badge"
    with app.app_context():
        assert db.session.scalar(select(User.email_verified).filter_by(email="new@example.com")) is True
    own_badge = client.get(f"/b/{badge}")  # the badge link is theirs: it opens their own badge
    assert urlsplit(own_badge.headers["Location"]).path == "/events/spring-mixer/badge"


def test_importing_the_same_file_again_changes_nothing_and_sends_nothing(app, setup, outbox):
    data = csv_bytes(PEOPLE)
    import_file(app, setup, data)
    with app.app_context():
        before = (db.session.scalar(select(func.count()).select_from(User)),
                  db.session.scalar(select(func.count()).select_from(Attendance)),
                  sorted(db.session.execute(select(Attendance.user_id, Attendance.badge_token)).all()))
    sent, recorded = len(outbox), outbox_rows(app)
    assert sent == 2

    again = import_file(app, setup, data)
    assert (again["created"], again["attached"], again["skipped"]) == (0, 0, 3)
    with app.app_context():
        after = (db.session.scalar(select(func.count()).select_from(User)),
                 db.session.scalar(select(func.count()).select_from(Attendance)),
                 sorted(db.session.execute(select(Attendance.user_id, Attendance.badge_token)).all()))
    assert after == before
    assert len(outbox) == sent and outbox_rows(app) == recorded


def test_a_person_removed_by_the_organizer_and_imported_again_is_not_emailed_twice(app, setup, outbox):
    import_file(app, setup, csv_bytes(PEOPLE))
    with app.app_context():
        events_service.leave_event(db.session.scalar(select(Attendance).join(User, User.id == Attendance.user_id)
                                                     .filter(User.email == "new@example.com")))
        db.session.commit()
    again = import_file(app, setup, csv_bytes(PEOPLE))
    assert again["attached"] == 1  # registered again...
    assert len(outbox.to("new@example.com")) == 1  # ...but one invitation per person and event, ever


def not_me_path(outbox, email: str) -> str:
    return outbox.path(outbox.last(email), "/not-me/")


def test_not_me_removes_the_registration_and_the_unused_account_and_reimport_leaves_them_out(
        app, setup, outbox, client):
    import_file(app, setup, csv_bytes(PEOPLE))
    path = not_me_path(outbox, "new@example.com")

    page = client.get(path)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and "Remove me from Spring Mixer" in page.get_data(as_text=True)
    assert attendance(app, setup["event"].id, "new@example.com") is not None

    done = client.post(path)
    assert done.status_code == 200 and "we deleted it" in done.get_data(as_text=True)
    assert attendance(app, setup["event"].id, "new@example.com") is None
    with app.app_context():
        assert db.session.scalar(select(User).filter_by(email="new@example.com")) is None
        assert db.session.get(RegistrantOptOut, (setup["event"].id, "new@example.com")) is not None
        # Their invitation stays in the mail log, no longer tied to an account.
        assert db.session.scalar(select(OutboxMessage.user_id).filter_by(recipient="new@example.com")) is None
    assert client.get(outbox.path(outbox.last("new@example.com"), "/invite/")).status_code == 400

    sent = len(outbox)
    again = import_file(app, setup, csv_bytes(PEOPLE))
    assert (again["opted_out"], again["created"]) == (1, 0)
    assert attendance(app, setup["event"].id, "new@example.com") is None
    with app.app_context():
        assert db.session.scalar(select(User).filter_by(email="new@example.com")) is None
    assert len(outbox) == sent
    again_page = client.post(path)  # using the link again is harmless
    assert again_page.status_code == 200 and "Nothing more to do" in again_page.get_data(as_text=True)


def test_not_me_from_an_existing_account_removes_the_registration_and_keeps_the_account(
        app, setup, outbox, client, csrf):
    import_file(app, setup, csv_bytes(PEOPLE))
    # A mail client's RFC 8058 one-click POST: no form token, no session.
    done = client.post(not_me_path(outbox, "existing@example.com"), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert attendance(app, setup["event"].id, "existing@example.com") is None
    with app.app_context():
        assert db.session.get(User, setup["existing"].id).name == "Eva Existing"


def test_not_me_keeps_a_registration_already_checked_in_at_the_door(app, setup, outbox, client):
    import_file(app, setup, csv_bytes(PEOPLE))
    with app.app_context():
        found = db.session.scalar(select(Attendance).filter_by(user_id=setup["existing"].id))
        found.checked_in_at = found.registered_at
        db.session.commit()
    page = client.post(not_me_path(outbox, "existing@example.com")).get_data(as_text=True)
    assert "checked in at the door" in page
    assert attendance(app, setup["event"].id, "existing@example.com") is not None


@pytest.mark.parametrize("token", ["not-a-real-token", "eyJlaWQiOjF9.forged.signature"])
def test_a_made_up_not_me_link_is_refused(client, token):
    assert client.get(f"/not-me/{token}").status_code == 400
    assert client.post(f"/not-me/{token}").status_code == 400


def test_an_import_into_an_event_cancelled_before_it_ran_stops_with_a_reason(app, setup, outbox):
    import_id = upload(app, setup, csv_bytes(PEOPLE))
    with app.app_context():
        service.start(db.session.get(RegistrantImport, import_id))
        events_service.cancel_event(db.session.get(Event, setup["event"].id))
        db.session.commit()
        report = import_registrants(import_id).get()
    assert report["status"] == "failed" and "cancelled" in report["error"]
    assert report["processed"] == 0 and outbox.to("new@example.com") == []


def test_an_import_queued_twice_runs_once(app, setup, outbox):
    import_id = upload(app, setup, csv_bytes(PEOPLE))
    huey.immediate = False
    try:
        huey.flush()
        for _ in range(2):  # "Queue it again" on a pending import
            with app.app_context():
                service.start(db.session.get(RegistrantImport, import_id))
                db.session.commit()
            import_registrants(import_id)
        first, second = huey.dequeue(), huey.dequeue()
        with app.app_context():
            assert huey.execute(first)["created"] == 1
            assert huey.execute(second) is None  # already claimed and done: nothing happens
            imp = db.session.get(RegistrantImport, import_id)
            assert (imp.status, imp.processed, imp.created, imp.attached) == ("done", 3, 1, 1)
            with pytest.raises(service.ImportNotStartable):
                service.start(imp)
    finally:
        huey.flush()
        huey.immediate = True


# --- Through the pages: preview, progress ---------------------------------------------------


def test_upload_preview_lists_counts_and_bad_rows_then_imports_with_progress(app, setup, client, auth, outbox):
    auth.as_user(setup["organizer"])
    data = csv_bytes(PEOPLE + "Dup,NEW@example.com,,\n")
    uploaded = client.post("/events/spring-mixer/imports", data={"file": (io.BytesIO(data), "p.csv")})
    assert uploaded.status_code == 302
    page_url = urlsplit(uploaded.headers["Location"]).path
    import_id = int(page_url.rsplit("/", 1)[1])

    page = client.get(page_url).get_data(as_text=True)
    assert "Preview: nothing is imported yet" in page and "Import 2 people" in page
    assert re.search(r"<td>5</td><td>broken@</td><td>Not a valid email address", page)
    assert re.search(r"<td>6</td><td>NEW@example.com</td><td>Same email as line 2\.", page)
    assert client.get(f"{page_url}/progress").get_json()["status"] == "preview"
    assert outbox_rows(app) == []

    huey.immediate = False  # queue the task, as in production, and run it as a consumer would
    try:
        huey.flush()
        assert client.post(f"{page_url}/start").status_code == 302
        waiting = client.get(page_url).get_data(as_text=True)
        assert '<meta http-equiv="refresh"' in waiting and "js/import-progress.js" in waiting
        assert f'data-import-progress="{page_url}/progress"' in waiting and "<progress" in waiting
        assert client.get(f"{page_url}/progress").get_json() == {
            "status": "pending", "processed": 0, "total": 3, "created": 0, "attached": 0, "skipped": 0,
            "opted_out": 0, "bad": 2, "error": None}
        task = huey.dequeue()
        assert task.name.endswith("import_registrants") and task.args == (import_id,)
        with app.app_context():
            huey.execute(task)
        assert [t.name.rsplit(".", 1)[-1] for t in huey.pending()] == ["deliver_outbox"]
    finally:
        huey.flush()
        huey.immediate = True

    assert client.get(f"{page_url}/progress").get_json() == {
        "status": "done", "processed": 3, "total": 3, "created": 1, "attached": 1, "skipped": 1,
        "opted_out": 0, "bad": 2, "error": None}
    done = client.get(page_url).get_data(as_text=True)
    assert "Imported" in done and "refresh" not in done
    bad_csv = client.get(f"{page_url}/bad-rows.csv").get_data(as_text=True).lstrip("\ufeff")
    listed = [(line, value, reason.split(":")[0]) for line, value, reason in csv.reader(io.StringIO(bad_csv))]
    assert listed == [("line", "email", "problem"), ("5", "broken@", "Not a valid email address"),
                      ("6", "NEW@example.com", "Same email as line 2.")]


@pytest.mark.parametrize(("data", "message"), [
    (b"Name,Company\nAna,Acme\n", "No email column"),
    (b"email\n" + b"someone@example.com\n" * 300_000, "This file is over 5 MB"),
], ids=["no email column", "over the size limit"])
def test_a_bad_file_is_refused_on_the_upload_page_with_the_reason(app, setup, client, auth, data, message):
    auth.as_user(setup["organizer"])
    response = client.post("/events/spring-mixer/imports", data={"file": (io.BytesIO(data), "p.csv")})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RegistrantImport)) == 0


# --- 10,000 rows ----------------------------------------------------------------------------------


def test_ten_thousand_rows_import_through_the_task_in_a_bounded_number_of_statements(app, setup):
    rows = "".join(f"Person {i},person{i}@example.com,Company {i % 97},Role {i % 13}\n" for i in range(9_998))
    data = csv_bytes("Name,Email,Company,Headline\n" + rows + "Eva,existing@example.com,,\nAl,already@example.com,,\n")
    import_id = upload(app, setup, data)
    with app.app_context():
        service.start(db.session.get(RegistrantImport, import_id))
        db.session.commit()

    statements = []
    huey.immediate = False
    try:
        huey.flush()
        import_registrants(import_id)
        task = huey.dequeue()
        with app.app_context():
            listener = lambda *args: statements.append(args[2])  # noqa: E731
            sa_event.listen(db.engine, "before_cursor_execute", listener)
            started = time.perf_counter()
            try:
                huey.execute(task)
            finally:
                elapsed = time.perf_counter() - started
                sa_event.remove(db.engine, "before_cursor_execute", listener)
    finally:
        huey.flush()
        huey.immediate = True
    print(f"\n10,000 rows: {len(statements)} SQL statements, {elapsed:.1f} s")

    assert len(statements) < 500, "the import must not query per row"
    with app.app_context():
        imp = db.session.get(RegistrantImport, import_id)
        assert (imp.status, imp.processed, imp.created, imp.attached, imp.skipped) == ("done", 10_000, 9_998, 1, 1)
        event_id = setup["event"].id
        registered = db.session.scalar(select(func.count()).select_from(Attendance).filter_by(event_id=event_id))
        assert registered == 10_000
        invitations = db.session.scalar(select(func.count(func.distinct(OutboxMessage.recipient)))
                                        .filter_by(kind="registrant_invitation"))
        assert invitations == 9_999
        codes = db.session.scalar(select(func.count(func.distinct(Attendance.badge_code))).filter_by(event_id=event_id))
        assert codes == 10_000
        assert db.session.scalar(select(func.count()).select_from(User).where(
            User.email.like("person%"), User.password_hash.is_(None), User.email_verified.is_(False))) == 9_998
