"""Importing contacts from vCard (iPhone, Google, Outlook, 4.0) and CSV files:
what each sample brings in, merging by email, bad records, re-import, and the
upload → preview → import pages."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import vobject
from sqlalchemy import func, select

from tests.conftest import EVENT_ROLES
from tests.factories import make_user
from tests.test_followups import make_contact
from webapp.extensions import db
from webapp.models import Contact, ContactImport, User, utcnow
from webapp.services import NotFound, ValidationFailed, contact_import, contact_merge, contacts

ACCESS_TABLE_RULES = {"/contacts/import", "/contacts/import/<int:import_id>"}
DATA = Path(__file__).parent / "data"


def sample(name: str) -> bytes:
    return (DATA / ("contacts" if name.endswith(".csv") else "vcards") / name).read_bytes()


def do_import(owner: User, filename: str, data: bytes | None = None) -> contact_import.Plan:
    """Upload and import in one go, committed (inside ``ctx``)."""
    upload = contact_import.create(owner, filename, sample(filename) if data is None else data)
    done = contact_import.apply(owner, upload)
    db.session.commit()
    return done


def book(owner: User) -> dict[str, Contact]:
    """``owner``'s live contacts by name (or email when nameless)."""
    return {c.name or c.email: c for c in db.session.scalars(
        select(Contact).where(Contact.owner_id == owner.id, Contact.deleted_at.is_(None)))}


def snapshot(owner: User) -> list[tuple]:
    return [(c.id, c.name, c.email, c.phone, c.company, c.headline, c.note, sorted(t.name for t in c.tags),
             c.state, c.updated_at) for c in sorted(book(owner).values(), key=lambda c: c.id)]


def tag_names(contact: Contact) -> set[str]:
    return {t.name for t in contact.tags}


@pytest.mark.parametrize(("filename", "cards"), [("iphone.vcf", 4), ("google.vcf", 4), ("outlook.vcf", 3),
                                                 ("vcard4.vcf", 1)])
def test_the_samples_are_vcards_vobject_reads(filename, cards):
    read = list(vobject.readComponents(sample(filename).decode("utf-8"), allowQP=True))
    assert len(read) == cards and all(card.name == "VCARD" for card in read)


# --- What each sample brings in ---------------------------------------------------------------


def test_iphone_cards_bring_names_preferred_email_and_phone_folded_notes_and_non_ascii(ctx):
    owner = make_user(ctx)
    done = do_import(owner, "iphone.vcf")
    people = book(owner)
    assert set(people) == {"Zoë Ångström", "李雷", "Blue Bottle Coffee", "Dr. Marcus J. O'Brien PhD"}
    zoe = people["Zoë Ångström"]
    assert (zoe.email, zoe.phone, zoe.company, zoe.headline) == (
        "zoe@nordlys.example", "+46 70 123 45 67", "Nordlys Design AB", "Creative Director")
    assert zoe.note == "Met at Web Summit, stand B12. Interested in design sprints.\nFollow up in spring."
    assert (zoe.source, zoe.state) == ("import", "done")
    assert (people["李雷"].email, people["李雷"].company) == ("lilei@xingguang.example", "北京星光科技有限公司")
    assert (people["Blue Bottle Coffee"].email, people["Blue Bottle Coffee"].phone) == ("", "+1 415 555 0199")
    assert people["Dr. Marcus J. O'Brien PhD"].note == (
        "Introduced by Ana at the Dublin mixer. Wants to pilot our badge scanner at two university career "
        "fairs next autumn; ask about their budget cycle.")
    assert done.bad == []


def test_google_categories_become_tags_but_not_its_system_groups(ctx):
    owner = make_user(ctx)
    done = do_import(owner, "google.vcf")
    people = book(owner)
    assert set(people) == {"José Müller", "Priya Raman", "sam.lee@example.net"}
    jose = people["José Müller"]
    assert (jose.email, jose.phone, jose.headline) == (
        "jose.mueller@gmail.example", "+49 151 2345 6789", "Head of Partnerships")
    assert jose.note == "Met at the Lisbon mixer, wants an intro to our CTO."
    assert tag_names(jose) == {"Investors", "Berlin"}
    assert tag_names(people["Priya Raman"]) == {"Mentors"}
    assert tag_names(people["sam.lee@example.net"]) == set()
    assert [(b.where, b.reason) for b in done.bad] == [("card 4 (line 35)", "No name and no email.")]


def test_outlook_quoted_printable_notes_crlf_and_folded_lines(ctx):
    owner = make_user(ctx)
    do_import(owner, "outlook.vcf")
    people = book(owner)
    jane = people["Jane Doe"]
    assert jane.note == ("Met at Lisbon Tech Week, wants a pilot in Q3.\n"
                         "Budget owner is her manager, Dana. Prefers calls on Tuesdays.")
    assert (jane.email, jane.phone, jane.company, jane.headline) == (
        "jane.doe@contoso.example", "+1 (425) 555-0199", "Contoso Ltd", "Principal Scientist, Materials")
    assert tag_names(jane) == {"Clients", "Pilot"}
    francois = people["François Dubois"]
    assert (francois.company, francois.note) == (
        "Société Lumière", "Rencontré au salon VivaTech. Café après la keynote.")
    assert people["Kwame Mensah"].headline == (
        "Programme Manager for Startup Partnerships and Community Events across West Africa")


def test_a_vcard_4_takes_the_pref_email_and_the_number_out_of_a_tel_uri(ctx):
    owner = make_user(ctx)
    do_import(owner, "vcard4.vcf")
    ana = book(owner)["Ana Souza"]
    assert (ana.email, ana.phone, tag_names(ana)) == ("ana@lisbon-robotics.example", "+351-912-345-678",
                                                      {"Robotics", "Lisbon"})


def test_a_broken_card_between_good_ones_loses_none_of_them(ctx):
    owner = make_user(ctx)
    done = do_import(owner, "broken.vcf")
    assert set(book(owner)) == {"Alice Good", "Bob Good", "Dan Good", "Fay Good"}
    assert [(b.where, b.label, b.reason) for b in done.bad] == [
        ("card 2 (line 8)", "Brian Broken", "Line 11 can't be read."),
        ("card 4 (line 20)", "+1 555 0199", "No name and no email."),
        ("card 5 (line 25)", "Carol Lost", "The card never ends (END:VCARD is missing)."),
        ("card 7 (line 34)", "Eve Bad", "Not a valid email address: eve-at-example.com"),
    ]


def test_many_cards_in_one_file_all_arrive(ctx):
    owner = make_user(ctx)
    cards = "".join(f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person {n:03d}\r\nEMAIL:p{n}@example.com\r\n"
                    f"NOTE:A long note that is folded over two lines for person number {n:03d}, as ph\r\n"
                    f" ones do.\r\nEND:VCARD\r\n" for n in range(300))
    done = do_import(owner, "many.vcf", cards.encode())
    people = book(owner)
    assert len(done.steps) == len(people) == 300
    assert people["Person 299"].note == "A long note that is folded over two lines for person number 299, as phones do."


def test_csv_with_a_bom_quoted_newlines_and_semicolon_separated_tags(ctx):
    owner = make_user(ctx)
    done = do_import(owner, "simple_bom.csv")
    people = book(owner)
    assert set(people) == {"Zoë Ångström", "李雷", "José Müller"}
    assert tag_names(people["Zoë Ångström"]) == {"Design", "Stockholm"}
    assert people["Zoë Ångström"].note == "Met at Web Summit, stand B12"
    jose = people["José Müller"]
    assert (jose.email, jose.note, tag_names(jose)) == (
        "jose.mueller@gmail.example", "Two lines:\nwants an intro to our CTO", {"Investors", "Berlin"})
    assert [(b.where, b.reason) for b in done.bad] == [
        ("line 6", "No name and no email."), ("line 7", "Not a valid email address: not-an-email")]


def test_csv_with_first_and_last_name_columns_and_semicolons_between_cells(ctx):
    owner = make_user(ctx)
    do_import(owner, "first_last_semicolon.csv")
    people = book(owner)
    assert set(people) == {"Jane Doe", "François Dubois", "Kwame Mensah"}
    jane = people["Jane Doe"]
    assert (jane.email, jane.phone, jane.company, jane.headline, tag_names(jane)) == (
        "jane.doe@contoso.example", "+1 (425) 555-0199", "Contoso Ltd", "Principal Scientist", {"Clients", "Pilot"})
    assert (people["Kwame Mensah"].email, people["Kwame Mensah"].phone) == ("", "+233 24 123 4567")


def test_google_and_outlook_csv_exports(ctx):
    owner = make_user(ctx)
    do_import(owner, "google.csv")
    do_import(owner, "outlook.csv")
    people = book(owner)
    jose = people["José Müller"]
    assert (jose.email, jose.phone, tag_names(jose)) == (
        "jose.mueller@gmail.example", "+49 151 2345 6789", {"Investors", "Berlin"})
    assert tag_names(people["Priya Raman"]) == {"Mentors"}
    jane = people["Jane Doe"]  # Outlook's "Title" is "Dr.": the job title wins
    assert (jane.headline, jane.phone, tag_names(jane)) == (
        "Principal Scientist, Materials", "+1 (425) 555-0199", {"Clients", "Pilot"})
    assert jane.note == "Met at Lisbon Tech Week, wants a pilot in Q3.\nBudget owner is her manager, Dana."


# --- Merging ----------------------------------------------------------------------------------


def test_the_same_email_fills_only_empty_fields_of_an_unlinked_contact(ctx):
    owner = make_user(ctx)
    mine = contacts.create(owner, name="Zoe A.", email="ZOE@nordlys.example", headline="Designer I met",
                           note="My own words")
    db.session.commit()
    done = do_import(owner, "iphone.vcf")
    assert [s.action for s in done.steps if s.record.email == "zoe@nordlys.example"] == ["merge"]
    db.session.refresh(mine)
    assert db.session.scalar(select(func.count()).select_from(Contact).where(Contact.owner_id == owner.id)) == 4
    assert (mine.name, mine.headline) == ("Zoe A.", "Designer I met")  # what I typed stays
    assert (mine.company, mine.phone) == ("Nordlys Design AB", "+46 70 123 45 67")  # empty ones filled
    assert mine.note == ("My own words\n\nMet at Web Summit, stand B12. Interested in design sprints.\n"
                         "Follow up in spring.")


def test_the_same_email_merges_into_a_member_who_shares_it_without_touching_their_profile(ctx):
    owner = make_user(ctx)
    member = make_user(ctx, "jose.mueller@gmail.example", name="José on MeetLoop", headline="Partnerships",
                       company="Fintech Berlin", share_email=True)
    linked = make_contact(ctx, owner, member, note="Met at the fair")
    hidden = make_user(ctx, "priya.raman@example.org", name="Priya on MeetLoop", share_email=False)
    make_contact(ctx, owner, hidden)
    do_import(owner, "google.vcf")
    db.session.refresh(linked)
    db.session.refresh(member)
    assert linked.note == "Met at the fair\n\nMet at the Lisbon mixer, wants an intro to our CTO."
    assert tag_names(linked) == {"Investors", "Berlin"}
    assert (linked.name, linked.email, linked.phone) == ("", "", "")
    assert (member.name, member.headline, member.company, member.phone) == (
        "José on MeetLoop", "Partnerships", "Fintech Berlin", "")
    # Someone who doesn't share their email isn't found by it: the card becomes a contact of its own.
    assert book(owner)["Priya Raman"].user_id is None


def test_importing_the_same_files_again_changes_nothing(ctx):
    owner = make_user(ctx)
    for name in ("iphone.vcf", "google.vcf", "outlook.vcf", "simple_bom.csv"):
        do_import(owner, name)
    before = snapshot(owner)
    for name in ("iphone.vcf", "google.vcf", "outlook.vcf", "simple_bom.csv"):
        again = contact_import.plan(owner, contact_import.create(owner, name, sample(name)))
        assert {s.action for s in again.steps} == {"unchanged"}, name
        do_import(owner, name)
    assert snapshot(owner) == before


def test_a_card_without_email_joins_the_same_name_with_the_same_phone(ctx):
    owner = make_user(ctx)
    cafe = contacts.create(owner, name="blue bottle coffee", phone="+14155550199")
    other_marcus = contacts.create(owner, name="Dr. Marcus J. O'Brien PhD", phone="+1 000")
    db.session.commit()
    done = do_import(owner, "iphone.vcf")
    actions = {s.record.name: (s.action, s.target.contact_id) for s in done.steps}
    assert actions["Blue Bottle Coffee"] == ("merge", cafe.id)  # fills the company
    assert actions["Dr. Marcus J. O'Brien PhD"][0] == "new"  # has an email: matched by email only
    assert other_marcus.email == ""
    kwame = contacts.create(owner, name="Kwame Mensah", phone="+44 1")
    db.session.commit()
    done = do_import(owner, "first_last_semicolon.csv")
    assert [s.action for s in done.steps if s.record.name == "Kwame Mensah"] == ["new"]  # a different phone
    assert kwame.phone == "+44 1"


def test_the_same_email_twice_in_a_file_makes_one_contact(ctx):
    owner = make_user(ctx)
    text = ("name,email,phone,tags\nAna,ana@example.com,,one\nAna Souza,ANA@example.com,+351 1,two\n")
    done = do_import(owner, "twice.csv", text.encode())
    assert [s.action for s in done.steps] == ["new", "merge"]
    ana = book(owner)["Ana"]
    assert (ana.phone, tag_names(ana)) == ("+351 1", {"one", "two"})


def test_your_own_card_is_skipped(ctx):
    owner = make_user(ctx, "me@example.com")
    done = do_import(owner, "me.csv", b"name,email\nMe,ME@example.com\n")
    assert [(b.where, b.reason) for b in done.bad] == [("line 2", "That's your own email.")]
    assert book(owner) == {}


@pytest.mark.parametrize(("filename", "data", "message"), [
    ("contacts.txt", b"name,email\nAna,ana@example.com\n", "Upload a vCard (.vcf) or CSV (.csv) file."),
    ("empty.vcf", b"  \r\n", "This file is empty."),
    ("latin.csv", "name,email\nJosé,jose@example.com\n".encode("cp1252"), "isn't UTF-8"),
    ("notes.vcf", b"just some text\n", "No contacts in this file"),
    ("people.csv", b"foo,bar\n1,2\n", "No name or email column"),
    ("big.csv", b"name,email\n" + b"x" * contact_import.MAX_FILE_BYTES, "over 5 MB"),
    ("long.csv", b"name\n" + b"Someone\n" * (contact_import.MAX_RECORDS + 1), "more than 5,000 contacts"),
])
def test_an_unusable_file_is_refused_on_the_file_field(ctx, filename, data, message):
    owner = make_user(ctx)
    with pytest.raises(ValidationFailed) as refused:
        contact_import.create(owner, filename, data)
    assert refused.value.field == "file" and message in refused.value.message


def test_the_lookup_by_email_finds_whom_find_by_email_finds(ctx):
    owner, stranger = make_user(ctx), make_user(ctx)
    sharer = make_user(ctx, "sharer@example.com", share_email=True)
    hider = make_user(ctx, "hider@example.com", share_email=False)
    contacts.create(owner, name="Sharer's old card", email="Sharer@example.com")
    make_contact(ctx, owner, sharer)
    make_contact(ctx, owner, hider)
    contacts.create(owner, name="Plain", email="plain@example.com")
    gone = contacts.create(owner, name="Gone", email="gone@example.com")
    gone.deleted_at = utcnow()
    contacts.create(stranger, name="Theirs", email="theirs@example.com")
    db.session.commit()
    emails = {"sharer@example.com", "hider@example.com", "plain@example.com", "gone@example.com",
              "theirs@example.com", "nobody@example.com"}
    found = contact_merge.existing_by_email(owner, emails, {})
    for email in emails:
        single = contacts.find_by_email(owner, email)
        assert (found[email].contact_id if email in found else None) == (single.id if single else None), email
    assert set(found) == {"sharer@example.com", "plain@example.com"}


def test_stale_uploads_expire_and_are_purged(ctx):
    owner = make_user(ctx)
    old = contact_import.create(owner, "google.vcf", sample("google.vcf"))
    old.created_at = utcnow() - timedelta(days=2)
    db.session.commit()
    with pytest.raises(NotFound):
        contact_import.get(owner, old.id)
    contact_import.create(owner, "iphone.vcf", sample("iphone.vcf"))
    db.session.commit()
    assert db.session.scalars(select(ContactImport.filename)).all() == ["iphone.vcf"]


# --- The pages --------------------------------------------------------------------------------


def upload(client, filename: str, data: bytes | None = None, **extra):
    body = {"file": (io.BytesIO(sample(filename) if data is None else data), filename), **extra}
    return client.post("/contacts/import", data=body, content_type="multipart/form-data")


def count(app, model, **filters) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).filter_by(**filters))


def test_upload_preview_then_import(app, client, auth):
    owner = make_user(app)
    auth.as_user(owner)
    response = upload(client, "broken.vcf")
    assert response.status_code == 302
    preview_url = urlsplit(response.headers["Location"]).path
    page = client.get(preview_url).get_data(as_text=True)
    assert count(app, Contact, owner_id=owner.id) == 0  # a preview imports nothing
    for text in ("Alice Good", "Dan Good", "Brian Broken", "Card 2 (line 8): Line 11 can&#39;t be read.",
                 "Card 4 (line 20): No name and no email.", "Import 4"):
        assert text in page, text
    response = client.post(preview_url)
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/contacts"
    with client.session_transaction() as session:
        assert session["_flashes"] == [("success", "Imported: 4 new, 4 skipped.")]
    assert count(app, Contact, owner_id=owner.id, source="import") == 4
    assert count(app, ContactImport) == 0
    assert client.post(preview_url).status_code == 404  # imported once only


def test_the_second_preview_of_the_same_file_says_everything_is_unchanged(app, client, auth):
    owner = make_user(app)
    auth.as_user(owner)
    client.post(urlsplit(upload(client, "iphone.vcf").headers["Location"]).path)
    page = client.get(urlsplit(upload(client, "iphone.vcf").headers["Location"]).path).get_data(as_text=True)
    assert "<dt>4</dt><dd>unchanged" in page and "<dt>0</dt><dd>new" in page
    assert "Nothing to import" in page and "Import 0" not in page


def test_cancel_discards_the_upload(app, client, auth):
    owner = make_user(app)
    auth.as_user(owner)
    preview_url = urlsplit(upload(client, "google.vcf").headers["Location"]).path
    assert client.post(preview_url + "/cancel").status_code == 302
    assert count(app, ContactImport) == 0 and count(app, Contact) == 0
    assert client.get(preview_url).status_code == 404


@pytest.mark.parametrize(("filename", "data", "message"), [
    ("contacts.xlsx", b"PK\x03\x04 not really", "Upload a vCard (.vcf) or CSV (.csv) file."),
    ("empty.csv", b"", "This file is empty."),
    ("latin.vcf", "BEGIN:VCARD\nFN:José\nEND:VCARD\n".encode("latin-1"), "isn&#39;t UTF-8"),
    ("big.vcf", b"x" * (contact_import.MAX_FILE_BYTES + 1), "over 5 MB"),
])
def test_a_bad_file_is_an_error_on_the_field_and_imports_nothing(app, client, auth, filename, data, message):
    owner = make_user(app)
    auth.as_user(owner)
    response = upload(client, filename, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'class="field-error"' in page and message in page
    assert count(app, ContactImport) == 0 and count(app, Contact) == 0


def test_no_file_chosen_is_an_error_on_the_field(app, client, auth):
    auth.as_user(make_user(app))
    response = client.post("/contacts/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a .vcf or .csv file" in response.get_data(as_text=True)


def test_the_posts_need_the_csrf_token(app, client, auth, csrf):
    owner = make_user(app)
    auth.as_user(owner)
    assert upload(client, "google.vcf").status_code == 403
    assert count(app, ContactImport) == 0
    with app.app_context():
        kept = contact_import.create(db.session.get(User, owner.id), "google.vcf", sample("google.vcf"))
        db.session.commit()
        upload_id = kept.id
    for path in (f"/contacts/import/{upload_id}", f"/contacts/import/{upload_id}/cancel"):
        assert client.post(path).status_code == 403
    assert count(app, ContactImport) == 1 and count(app, Contact) == 0


def test_someone_elses_upload_is_not_found(app, client, auth):
    owner, other = make_user(app), make_user(app)
    with app.app_context():
        theirs = contact_import.create(db.session.get(User, other.id), "google.vcf", sample("google.vcf"))
        db.session.commit()
        upload_id = theirs.id
    auth.as_user(owner)
    assert client.get(f"/contacts/import/{upload_id}").status_code == 404
    assert client.post(f"/contacts/import/{upload_id}").status_code == 404
    assert client.post(f"/contacts/import/{upload_id}/cancel").status_code == 404
    assert count(app, ContactImport) == 1 and count(app, Contact) == 0


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_the_import_pages_are_for_signed_in_people(app, client, world, role):
    world.sign_in(role)
    uploads = {}
    with app.app_context():
        for key in ("attendee", "other_attendee"):
            person = db.session.get(User, world.attendee.id if key == "attendee" else world.other_attendee.id)
            uploads[key] = contact_import.create(person, "google.vcf", sample("google.vcf")).id
        db.session.commit()
    pages = {"/contacts/import": 200, f"/contacts/import/{uploads['attendee']}": 200}
    for path, ok in pages.items():
        response = client.get(path)
        if role == "anonymous":
            assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
        elif "/import/" in path and role != "attendee":
            assert response.status_code == 404  # someone else's upload
        else:
            assert response.status_code == ok
