"""Taking contacts out: vCard 4.0 (read back with vobject, and round-tripped
through the importer), CSV (spreadsheet-safe), and "download all my data"."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import vobject
from PIL import Image
from sqlalchemy import select

from tests.conftest import EVENT_ROLES
from tests.factories import event_at, make_user, meet
from tests.test_followups import make_contact
from webapp.extensions import db
from webapp.models import Contact, User, utcnow
from webapp.services import cadences, contact_export, contact_import, contacts, events, profiles, tags

ACCESS_TABLE_RULES = {"/contacts.vcf", "/contacts.csv", "/account/data.zip"}


def address_book(owner: User) -> dict[str, Contact]:
    """A few unlinked contacts with awkward text: non-ASCII, commas, semicolons, newlines."""
    made = {}
    for name, email, note, labels in [
        ("Zoë Ångström", "zoe@nordlys.example", "Met at Web Summit, stand B12; likes sprints.\nCall in May.",
         ["Design", "Stockholm"]),
        ("李雷", "lilei@xingguang.example", "", ["China"]),
        ("José Müller", "jose@fintech.example", "Intro to CTO \\ finance, please", ["Investors, Berlin"]),
        ("Nameless Cafe", "", "Good coffee", []),
    ]:
        contact = contacts.create(owner, source="manual", note=note, name=name, email=email, phone="+351 912",
                                  company="Acme; Sons", headline="Head of things")
        if labels:
            tags.add(contact, labels)
        made[name] = contact
    db.session.commit()
    return made


def people_in(owner: User) -> set[tuple]:
    return {(c.name, c.email, c.phone, c.company, c.headline, c.note, frozenset(t.name for t in c.tags))
            for c in db.session.scalars(select(Contact).where(Contact.owner_id == owner.id,
                                                              Contact.deleted_at.is_(None)))}


def test_the_vcard_export_is_vcard_4_with_notes_tags_and_how_we_met(ctx):
    owner = make_user(ctx)
    address_book(owner)
    member = make_user(ctx, "maya@example.com", name="Maya Lopez", headline="Solar", share_email=True)
    start = utcnow().replace(microsecond=0) - timedelta(days=2)
    event = event_at(owner.id, start, start + timedelta(hours=3), "Europe/Lisbon", name="Lisbon Climate Night")
    make_contact(ctx, owner, member, event, note="Wants solar intros", tags=("Climate",))
    cards = list(vobject.readComponents(contact_export.vcards(owner)))
    assert len(cards) == 5 and {c.version.value for c in cards} == {"4.0"}
    by_name = {c.fn.value: c for c in cards}
    zoe = by_name["Zoë Ångström"]
    assert (zoe.email.value, zoe.tel.value, zoe.org.value, zoe.title.value) == (
        "zoe@nordlys.example", "+351 912", ["Acme; Sons"], "Head of things")
    assert zoe.note.value == "Met at Web Summit, stand B12; likes sprints.\nCall in May."
    assert sorted(zoe.categories.value) == ["Design", "Stockholm"]
    assert by_name["José Müller"].categories.value == ["Investors, Berlin"]  # a comma inside a tag survives
    maya = by_name["Maya Lopez"]
    assert (maya.email.value, maya.note.value, maya.categories.value) == (
        "maya@example.com", "Wants solar intros", ["Climate"])
    assert maya.contents["x-meetloop-event"][0].value == "Lisbon Climate Night"
    assert len({c.uid.value for c in cards}) == 5


def test_a_member_is_exported_as_they_share_themselves_now(ctx):
    owner = make_user(ctx)
    member = make_user(ctx, "hidden@example.com", name="Old Name", share_email=False, share_phone=True,
                       phone="+44 7700 900123")
    make_contact(ctx, owner, member)
    member.name = "New Name"
    db.session.commit()
    (card,) = vobject.readComponents(contact_export.vcards(owner))
    assert card.fn.value == "New Name" and card.tel.value == "+44 7700 900123"
    assert "email" not in card.contents and "hidden@example.com" not in card.serialize()


def test_export_then_import_into_a_fresh_account_gives_the_same_contacts(ctx):
    owner = make_user(ctx)
    address_book(owner)
    fresh = make_user(ctx)
    exported = contact_export.vcards(owner).encode("utf-8")
    assert [c.fn.value for c in vobject.readComponents(exported.decode())]  # vobject reads it back
    done = contact_import.apply(fresh, contact_import.create(fresh, "meetloop-contacts.vcf", exported))
    db.session.commit()
    assert done.bad == [] and people_in(fresh) == people_in(owner)
    # And the same through CSV, where a tags cell is split on commas and semicolons alike.
    csv_fresh = make_user(ctx)
    body = "".join(contact_export.csv_chunks(owner)).encode("utf-8")
    contact_import.apply(csv_fresh, contact_import.create(csv_fresh, "meetloop-contacts.csv", body))
    db.session.commit()
    split = {(*p[:6], frozenset({"Investors", "Berlin"}) if p[0] == "José Müller" else p[6])
             for p in people_in(owner)}
    assert people_in(csv_fresh) == split


def test_removed_and_other_peoples_contacts_are_not_exported(ctx):
    owner, other = make_user(ctx), make_user(ctx)
    gone = contacts.create(owner, name="Removed Person", email="removed@example.com")
    gone.deleted_at = utcnow()
    contacts.create(other, name="Their Contact", email="theirs@example.com")
    contacts.create(owner, name="Kept Person", email="kept@example.com")
    db.session.commit()
    exported = contact_export.vcards(owner) + "".join(contact_export.csv_chunks(owner))
    assert "Kept Person" in exported
    assert "Removed Person" not in exported and "Their Contact" not in exported


def test_the_csv_export_has_a_header_and_is_safe_in_a_spreadsheet(ctx):
    owner = make_user(ctx)
    evil = contacts.create(owner, name="+Mallory", email="mallory@example.com", company="@SUM(A1:A9)",
                           headline="-2+3", note='=HYPERLINK("http://evil.example","click")')
    tags.add(evil, ["=cmd"])
    db.session.commit()
    text = "".join(contact_export.csv_chunks(owner))
    assert text.startswith("\ufeff")
    header, row = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert header[:7] == ["name", "email", "phone", "company", "title", "notes", "tags"]
    assert row[:7] == ["'+Mallory", "mallory@example.com", "", "'@SUM(A1:A9)", "'-2+3",
                       """'=HYPERLINK("http://evil.example","click")""", "'=cmd"]


@pytest.fixture
def met(ctx):
    """Ana scanned Bo at a past event (with a note), and Bo scanned Ana with a note of his own."""
    organizer = make_user(ctx, role="organizer")
    ana = make_user(ctx, "ana@example.com", name="Ana Souza", headline="Robotics", share_phone=True,
                    phone="+351 1")
    bo = make_user(ctx, "bo@example.com", name="Bo Berg", headline="Investor", share_email=False)
    start = utcnow().replace(microsecond=0) - timedelta(days=3)
    event = event_at(organizer.id, start, start + timedelta(hours=3), "Europe/Lisbon", name="Robot Night")
    for person in (ana, bo):
        events.add_attendee(event, person)
    meet(event, ana, bo, 10, note="Ana's note: invests in robots", tags=["Investors"])
    meet(event, bo, ana, 20, note="Bo's private note about Ana")
    mine = db.session.scalar(select(Contact).where(Contact.owner_id == ana.id, Contact.user_id == bo.id))
    cadences.log_touch(mine, "email", note="Sent the deck")
    db.session.commit()
    return {"ana": ana, "bo": bo, "event": event}


def test_all_my_data_has_my_profile_contacts_touches_and_who_scanned_me(ctx, met):
    ana = met["ana"]
    archive = zipfile.ZipFile(io.BytesIO(contact_export.data_zip(ana)))
    assert sorted(archive.namelist()) == ["contacts.vcf", "meetloop-data.json"]
    data = json.loads(archive.read("meetloop-data.json"))
    assert data["profile"]["email"] == "ana@example.com" and data["sharing"]["phone"] is True
    assert data["email_preferences"]["recaps"] is True
    assert [e["name"] for e in data["events_attended"]] == ["Robot Night"]
    assert [s["name"] for s in data["scanned_me"]] == ["Bo Berg"]
    assert data["scanned_me"][0]["event"] == "Robot Night" and data["scanned_me"][0]["email"] is None
    assert [(s["name"], s["note"]) for s in data["my_scans"]] == [("Bo Berg", "Ana's note: invests in robots")]
    (bo,) = data["contacts"]
    assert (bo["name"], bo["note"], bo["tags"], bo["email"]) == ("Bo Berg", "Ana's note: invests in robots",
                                                                 ["Investors"], "")
    assert "Sent the deck" in [i["note"] for i in bo["interactions"]]
    assert [c.fn.value for c in vobject.readComponents(archive.read("contacts.vcf").decode())] == ["Bo Berg"]


def test_all_my_data_includes_my_photo(ctx):
    owner = make_user(ctx)
    picture = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 30, 30)).save(picture, "PNG")
    profiles.set_photo(owner, picture.getvalue())
    db.session.commit()
    archive = zipfile.ZipFile(io.BytesIO(contact_export.data_zip(owner)))
    assert archive.read("photo.jpg") == owner.photo
    assert json.loads(archive.read("meetloop-data.json"))["profile"]["has_photo"] is True


def test_all_my_data_never_holds_what_others_wrote_about_me(ctx, met):
    for person, theirs in ((met["ana"], "Bo's private note about Ana"), (met["bo"], "Ana's note")):
        archive = zipfile.ZipFile(io.BytesIO(contact_export.data_zip(person)))
        everything = "".join(archive.read(name).decode() for name in archive.namelist())
        assert theirs not in everything
    bo_data = json.loads(zipfile.ZipFile(io.BytesIO(contact_export.data_zip(met["bo"]))).read("meetloop-data.json"))
    assert bo_data["scanned_me"][0]["name"] == "Ana Souza"


# --- The downloads over HTTP ------------------------------------------------------------------


def test_the_downloads_are_attachments_that_stay_out_of_caches(app, client, auth):
    owner = make_user(app)
    with app.app_context():
        contacts.create(db.session.get(User, owner.id), name="Zoë Ångström", email="zoe@nordlys.example")
        db.session.commit()
    auth.as_user(owner)
    for path, content_type, filename in [("/contacts.vcf", "text/vcard; charset=utf-8", "meetloop-contacts.vcf"),
                                         ("/contacts.csv", "text/csv; charset=utf-8", "meetloop-contacts.csv"),
                                         ("/account/data.zip", "application/zip", "meetloop-data-")]:
        response = client.get(path)
        assert response.status_code == 200 and response.headers["Content-Type"] == content_type
        assert f'attachment; filename="{filename}' in response.headers["Content-Disposition"]
        assert "no-store" in response.headers["Cache-Control"]
    assert "FN:Zoë Ångström" in client.get("/contacts.vcf").get_data(as_text=True)


def test_the_account_page_links_to_all_my_data(app, client, auth):
    auth.as_user(make_user(app))
    assert 'href="/account/data.zip"' in client.get("/account").get_data(as_text=True)


@pytest.mark.parametrize("role", EVENT_ROLES)
@pytest.mark.parametrize("path", sorted(ACCESS_TABLE_RULES))
def test_the_downloads_are_for_signed_in_people_and_their_own_data(app, client, world, role, path):
    with app.app_context():
        contacts.create(db.session.get(User, world.other_attendee.id), name="Secret Sam", email="sam@example.com")
        db.session.commit()
    world.sign_in(role)
    response = client.get(path)
    if role == "anonymous":
        assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
        return
    assert response.status_code == 200
    body = response.get_data()
    if path.endswith(".zip"):
        body = b"".join(zipfile.ZipFile(io.BytesIO(body)).read(name) for name in ("meetloop-data.json",
                                                                                  "contacts.vcf"))
    assert (b"Secret Sam" in body) is (role == "other_attendee")
