"""Taking your data with you: the address book as vCard 4.0 or CSV, and
"download all my data" as a zip (a JSON file plus the vCards).

A contact on MeetLoop is written as that person shares themselves *now*
(``people.card``: their email and phone only if they share them); anyone else
with the fields the owner keeps. Only the owner's own words go out: their
notes, tags and logged touches — never what other people wrote about them.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Attendance, Block, Contact, Event, Scan, User, utcnow
from webapp.services import cadences, connections, contact_csv, contacts, people, vcard

DATA_FILE = "meetloop-data.json"
VCARD_FILE = "contacts.vcf"
_UID_SPACE = uuid.UUID("6f1d8a52-3c1e-4f8e-9a57-2f0c9b6f4e11")  # contact UIDs stay the same between exports


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def details(contact: Contact) -> dict[str, str]:
    """What the owner may see of a contact: name, email, phone, company, headline, url."""
    if contact.user is not None:
        card = people.card(contact.user)
        return {"name": card.name, "email": card.email or "", "phone": card.phone or "", "company": card.company,
                "headline": card.headline, "url": card.linkedin_url or ""}
    return {"name": contact.name, "email": contact.email, "phone": contact.phone, "company": contact.company,
            "headline": contact.headline, "url": ""}


def vcards(owner: User) -> str:
    """All of ``owner``'s live contacts, one vCard 4.0 each."""
    return "".join(_card(contact) for contact in contacts.recent(owner))


def _card(contact: Contact) -> str:
    values = details(contact)
    return vcard.card(
        uid=f"urn:uuid:{uuid.uuid5(_UID_SPACE, f'contact-{contact.id}')}",
        name=values["name"] or values["email"], email=values["email"], phone=values["phone"],
        company=values["company"], headline=values["headline"], url=values["url"], note=contact.note,
        tags=[tag.name for tag in contact.tags], event=contact.event.name if contact.event else "",
        met_at=contact.met_at, updated_at=contact.updated_at,
    )


def csv_chunks(owner: User) -> Iterator[str]:
    """All of ``owner``'s live contacts as spreadsheet-safe CSV (columns ``contact_csv.HEADER``)."""
    def rows():
        for contact in contacts.recent(owner):
            values = details(contact)
            yield [values["name"], values["email"], values["phone"], values["company"], values["headline"],
                   contact.note, "; ".join(tag.name for tag in contact.tags),
                   contact.event.name if contact.event else "", _iso(contact.met_at) or ""]
    return contact_csv.chunks(rows())


def data(owner: User, now: datetime | None = None) -> dict:
    """Everything MeetLoop keeps about ``owner`` that is theirs to see, as plain JSON values."""
    return {
        "exported_at": _iso(now or utcnow()),
        "profile": {"name": owner.name, "email": owner.email, "headline": owner.headline, "company": owner.company,
                    "looking_for": owner.looking_for, "linkedin_url": owner.linkedin_url, "phone": owner.phone,
                    "timezone": owner.timezone, "role": owner.role, "has_photo": owner.has_photo,
                    "created_at": _iso(owner.created_at)},
        "sharing": {"email": owner.share_email, "phone": owner.share_phone, "linkedin": owner.share_linkedin},
        "email_preferences": {"recaps": owner.email_recaps, "reminders": owner.email_nudges,
                              "digests": owner.email_digests, "digest_weekday": owner.digest_weekday},
        "events_attended": _events_attended(owner),
        "events_organized": [{"name": e.name, "slug": e.slug, "starts_at": _iso(e.starts_at)} for e in
                             db.session.scalars(select(Event).where(Event.owner_id == owner.id)
                                                .order_by(Event.starts_at))],
        "contacts": [_contact(contact) for contact in contacts.recent(owner)],
        "scanned_me": [_scanned_me(scan) for scan, _contact in connections.scanned_me(owner)],
        "my_scans": _my_scans(owner),
        "blocked": [name for name in db.session.scalars(
            select(User.name).join(Block, Block.blocked_id == User.id).where(Block.blocker_id == owner.id))],
    }


def _events_attended(owner: User) -> list[dict]:
    rows = db.session.execute(select(Attendance, Event).join(Event, Event.id == Attendance.event_id)
                              .where(Attendance.user_id == owner.id).order_by(Event.starts_at))
    return [{"name": event.name, "slug": event.slug, "venue": event.venue, "starts_at": _iso(event.starts_at),
             "ends_at": _iso(event.ends_at), "timezone": event.timezone, "registered_at": _iso(a.registered_at),
             "checked_in_at": _iso(a.checked_in_at), "badge_code": a.badge_code} for a, event in rows]


def _contact(contact: Contact) -> dict:
    return {
        **details(contact), "on_meetloop": contact.user_id is not None, "source": contact.source,
        "event": contact.event.name if contact.event else None, "met_at": _iso(contact.met_at),
        "note": contact.note, "tags": [tag.name for tag in contact.tags], "state": contact.state,
        "cadence_days": contact.cadence_days, "last_touched_at": _iso(contact.last_touched_at),
        "next_reminder_at": _iso(contact.next_reminder_at),
        "interactions": [{"kind": i.kind, "at": _iso(i.at), "note": i.note, "event": i.event.name if i.event else None}
                         for i in cadences.history(contact)],
    }


def _scanned_me(scan: Scan) -> dict:
    # Their card as they share it now; never the note they wrote about me.
    card = people.card(scan.scanner)
    return {"name": card.name, "headline": card.headline, "company": card.company, "email": card.email,
            "event": scan.event.name, "scanned_at": _iso(scan.scanned_at)}


def _my_scans(owner: User) -> list[dict]:
    scans = db.session.scalars(select(Scan).where(Scan.scanner_id == owner.id)
                               .options(selectinload(Scan.scanned), selectinload(Scan.event))
                               .order_by(Scan.scanned_at.desc(), Scan.id.desc()))
    return [{"name": scan.scanned.name, "event": scan.event.name, "scanned_at": _iso(scan.scanned_at),
             "note": scan.note} for scan in scans]


def data_zip(owner: User, now: datetime | None = None) -> bytes:
    """``meetloop-data.json``, ``contacts.vcf`` and the profile photo, if any, zipped."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(DATA_FILE, json.dumps(data(owner, now), ensure_ascii=False, indent=2))
        archive.writestr(VCARD_FILE, vcards(owner))
        if owner.has_photo and owner.photo:
            archive.writestr("photo.jpg", owner.photo)
    return out.getvalue()
