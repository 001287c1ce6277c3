"""Importing an address book (vCard or CSV): upload → preview → import.

The upload is checked as a whole (type, size, UTF-8, readable) and kept as a
:class:`ContactImport` until its owner imports or cancels it. Each record is
checked on its own: one with no name and no email, or an unusable email, is
listed and skipped, and the others still import. The preview and the import
run the same plan (:mod:`webapp.services.contact_merge`: merge by email, fill
only empty fields, never a member's profile), so what the preview promises is
what happens, and importing the same file again changes nothing. Imported
people are existing relationships: new contacts get source "import" and state
done, never follow-ups.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete

from webapp.extensions import db
from webapp.models import Contact, ContactImport, ContactSource, ImportKind, User, utcnow
from webapp.services import NotFound, ValidationFailed, contact_csv, contacts, tags, vcard
from webapp.services.contact_merge import Plan, Record, plan_records

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_RECORDS = 5000  # the import runs in the request: this many take seconds, not minutes
KEEP_FOR = timedelta(days=1)  # an upload nobody imported or cancelled is purged after this
KINDS = {".vcf": ImportKind.VCARD, ".vcard": ImportKind.VCARD, ".csv": ImportKind.CSV}
SYSTEM_GROUPS = {"mycontacts", "starred"}  # Google's, not the person's own tags
# Contact field -> its largest length; longer values are cut rather than refused.
LIMITS = {name: limit for name, (limit, _label) in contacts.FIELDS.items()}
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def create(owner: User, filename: str, data: bytes, now: datetime | None = None) -> ContactImport:
    """Check an upload and keep it for the preview; raises ValidationFailed on ``file``."""
    filename = _one_line(filename.replace("\\", "/").rsplit("/", 1)[-1], 255)
    kind = KINDS.get("." + filename.rsplit(".", 1)[-1].lower() if "." in filename else "")
    if kind is None:
        raise ValidationFailed("Upload a vCard (.vcf) or CSV (.csv) file.", field="file")
    if len(data) > MAX_FILE_BYTES:
        raise ValidationFailed(f"This file is over {MAX_FILE_BYTES // (1024 * 1024)} MB. "
                               "Split it and upload the parts.", field="file")
    if not read(kind, data):
        raise ValidationFailed("No contacts in this file.", field="file")
    purge(now)
    upload = ContactImport(owner_id=owner.id, filename=filename, kind=kind.value, content=data)
    db.session.add(upload)
    db.session.flush()
    return upload


def _text(data: bytes) -> str:
    if not data.strip():
        raise ValidationFailed("This file is empty.", field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("This file isn't UTF-8 text, so names with accents would come out wrong. "
                               "Export it again as UTF-8 (in Excel: “CSV UTF-8”) and upload that.",
                               field="file") from None
    if "\x00" in text:
        raise ValidationFailed("This doesn't look like a contacts file.", field="file")
    return text


def read(kind: ImportKind | str, data: bytes) -> list[Record | vcard.Unreadable]:
    """The file's records, each checked (good ones as :class:`Record`)."""
    text = _text(data)
    raw = vcard.parse(text) if kind == ImportKind.VCARD else contact_csv.parse(text)
    if len(raw) > MAX_RECORDS:
        raise ValidationFailed(f"This file has more than {MAX_RECORDS:,} contacts. Split it and upload the parts.",
                               field="file")
    return [vcard.Unreadable(entry.where, _one_line(entry.label, 80), entry.reason)
            if isinstance(entry, vcard.Unreadable) else _record(entry) for entry in raw]


def _storable(text: str) -> str:
    """``text`` without what a file may carry but the database can't keep or
    a page shouldn't show: NUL and other control characters, lone surrogates
    (a quoted-printable value in UTF-7 decodes to those)."""
    return _UNSTORABLE.sub(" ", text)


def _one_line(text: str, limit: int) -> str:
    """Flattened to one line: a name from a file goes into email subjects."""
    return " ".join(_storable(text).split())[:limit].strip()


def _record(raw: vcard.RawContact) -> Record | vcard.Unreadable:
    label = _one_line(raw.name or next(iter(raw.emails), "") or raw.phone, 80)
    email = ""
    for candidate in (_storable(e) for e in raw.emails):
        try:
            email = validate_email(candidate.strip(), check_deliverability=False).normalized.lower()
            break
        except EmailNotValidError:
            continue
    if raw.emails and not email:
        return vcard.Unreadable(raw.where, label, f"Not a valid email address: {_one_line(raw.emails[0], 80)}")
    if len(email) > LIMITS["email"]:
        return vcard.Unreadable(raw.where, label, "The email address is too long.")
    values = {"name": raw.name, "phone": raw.phone, "company": raw.company, "headline": raw.headline}
    values = {key: _one_line(value, LIMITS[key]) for key, value in values.items()}
    if not values["name"] and not email:
        return vcard.Unreadable(raw.where, label, "No name and no email.")
    note = raw.note.replace("\r\n", "\n").replace("\r", "\n")
    note = "\n".join(_storable(line).rstrip() for line in note.split("\n"))
    own_tags = tags.clean(_storable(t) for t in raw.tags if t.strip().lower() not in SYSTEM_GROUPS)
    return Record(raw.where, emails=(email,) if email else (), note=note.strip()[:contacts.MAX_NOTE],
                  tags=tuple(own_tags), **values)


def get(owner: User, import_id: int, now: datetime | None = None) -> ContactImport:
    """``owner``'s upload ``import_id``; anyone else's, or an expired one, is NotFound."""
    upload = db.session.get(ContactImport, import_id)
    if upload is None or upload.owner_id != owner.id or upload.created_at < (now or utcnow()) - KEEP_FOR:
        raise NotFound("This upload is gone: it was imported, cancelled or has expired.")
    return upload


def plan(owner: User, upload: ContactImport) -> Plan:
    """What importing ``upload`` would do now (reads only)."""
    return plan_records(owner, read(upload.kind, upload.content))


def apply(owner: User, upload: ContactImport) -> Plan:
    """Import ``upload`` as planned now, then delete it. Returns the plan carried out."""
    content, kind = upload.content, upload.kind
    # Deleting first makes a second "Import" (double click, two tabs) find nothing to do.
    gone = db.session.execute(delete(ContactImport).where(ContactImport.id == upload.id))
    if gone.rowcount != 1:
        raise NotFound("This upload was already imported.")
    db.session.expunge(upload)
    done = plan_records(owner, read(kind, content))
    made: dict[int, Contact] = {}
    tagging: dict[str, tuple[str, list[int]]] = {}  # tag (any case) -> (its name, the contacts gaining it)
    for step in done.steps:
        if step.action == "new":
            r = step.record
            contact = contacts.create(owner, source=ContactSource.IMPORT.value, note=r.note, name=r.name,
                                      email=r.email, phone=r.phone, company=r.company, headline=r.headline)
            made[id(step.target)] = contact
        elif step.action == "merge":
            contact = made.get(id(step.target)) or contacts.owned(owner, step.target.contact_id)
            for name, value in step.fills.items():
                setattr(contact, name, value)
            if step.note:
                contacts.set_note(contact, f"{contact.note}\n\n{step.note}" if contact.note else step.note)
            contact.updated_at = utcnow()
        for name in step.tags:
            tagging.setdefault(name.lower(), (name, []))[1].append(contact.id)
    db.session.flush()
    # One tag at a time for all its contacts: thousands of cards share a handful of tags.
    for name, ids in tagging.values():
        for start in range(0, len(ids), tags.MAX_BULK):
            tags.tag_many(owner, ids[start:start + tags.MAX_BULK], name)
    db.session.flush()
    return done


def cancel(upload: ContactImport) -> None:
    db.session.delete(upload)
    db.session.flush()


def purge(now: datetime | None = None) -> int:
    """Delete uploads older than :data:`KEEP_FOR` (everyone's); returns how many."""
    cutoff = (now or utcnow()) - KEEP_FOR
    return db.session.execute(delete(ContactImport).where(ContactImport.created_at < cutoff)).rowcount
