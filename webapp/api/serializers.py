"""JSON in and out of the API: request bodies and query strings checked for
shape (rules stay in the services), and models turned into JSON.

What a person's contact shows of someone on MeetLoop is their card now
(``services.people.card``): email, phone and LinkedIn appear only if that
person chose to share them, and are left out (not null) otherwise.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from webapp.models import Contact, Event, Scan, User
from webapp.services import ValidationFailed, people
from webapp.services.connections import MAX_NOTE, ScanResult
from webapp.services.contact_sync import MAX_PAGE
from webapp.services.mail import external_url
from webapp.services.tags import MAX_LENGTH as MAX_TAG_LENGTH
from webapp.services.tags import MAX_TAGS

MAX_ID = 2**31 - 1  # integer columns: larger ids exist nowhere
MAX_BADGE = 300
MAX_EVENT_REF = 80
MAX_CURSOR = 200
MAX_DATE_TIME = 64
DEFAULT_PAGE = 100
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
# RFC 3339 date-time: a date, a time and a zone offset (Z or ±hh:mm), nothing looser.
_DATE_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?)"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)
_DIGITS = re.compile(r"[0-9]{1,4}")


# --- in ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanRequest:
    badge: str
    client_id: str
    scanned_at: datetime | None = None
    note: str = ""
    tags: list[str] = field(default_factory=list)
    event: str | None = None


@dataclass(frozen=True)
class ContactsQuery:
    since: datetime | None
    after: tuple[datetime, int] | None
    limit: int


def _invalid(message: str, name: str | None = None) -> ValidationFailed:
    return ValidationFailed(message, field=name)


def _text(value: object, name: str, max_length: int, *, min_length: int = 0) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string.", name)
    if not min_length <= len(value) <= max_length:
        raise _invalid(f"{name} must be {min_length} to {max_length} characters.", name)
    # NUL and lone surrogates can't be stored (PostgreSQL text, UTF-8).
    if "\x00" in value or _unencodable(value):
        raise _invalid(f"{name} contains characters that can't be stored.", name)
    return value


def _unencodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_datetime(value: str, name: str, *, clamp: bool = False) -> datetime:
    """An RFC 3339 date-time with its offset, as an aware UTC datetime.

    ``clamp``: a valid date-time that UTC can't hold (0001-01-01T00:00:00+01:00)
    becomes the earliest or latest instant instead of an error.
    """
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise _invalid(f"{name} must be an ISO 8601 date-time such as 2025-05-01T18:30:00+02:00.", name)
    if match["offset"] is None:
        raise _invalid(f"{name} needs a time zone offset, such as Z or +02:00.", name)
    try:
        local = datetime.fromisoformat(f"{match['date']}T{match['time'][:15]}")
        zone = _zone(match["offset"])
    except ValueError:
        raise _invalid(f"{name} is not a valid date-time.", name) from None
    try:
        return local.replace(tzinfo=zone).astimezone(UTC)
    except OverflowError:
        if not clamp:
            raise _invalid(f"{name} is out of range.", name) from None
        return (datetime.min if local.year == 1 else datetime.max).replace(tzinfo=UTC)


def _zone(offset: str) -> timezone:
    if offset in ("Z", "z"):
        return UTC
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError(offset)
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if offset[0] == "-" else delta)


def scan_request(body: object) -> ScanRequest:
    """The fields of ``POST /scans``; unknown fields are ignored."""
    if not isinstance(body, Mapping):
        raise _invalid("Send a JSON object (Content-Type: application/json).")
    for required in ("badge", "client_id"):
        if required not in body:
            raise _invalid(f"{required} is required.", required)
    badge = _text(body["badge"], "badge", MAX_BADGE, min_length=1)
    client_id = _text(body["client_id"], "client_id", 64, min_length=1)
    if not _CLIENT_ID.fullmatch(client_id):
        raise _invalid("client_id may use letters, digits and . _ : - (a UUID fits).", "client_id")
    scanned_at = body.get("scanned_at")
    if scanned_at is not None:
        scanned_at = parse_datetime(_text(scanned_at, "scanned_at", MAX_DATE_TIME), "scanned_at")
    event = body.get("event")
    if event is not None:
        event = _text(event, "event", MAX_EVENT_REF)
    tags = body.get("tags", [])
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise _invalid(f"tags must be a list of at most {MAX_TAGS} strings.", "tags")
    return ScanRequest(
        badge=badge,
        client_id=client_id,
        scanned_at=scanned_at,
        note=_text(body.get("note", ""), "note", MAX_NOTE),
        tags=[_text(tag, "tags", MAX_TAG_LENGTH) for tag in tags],
        event=event or None,
    )


@dataclass(frozen=True)
class ContactUpdate:
    note: str | None
    add_tags: list[str]


def contact_update(body: object) -> ContactUpdate:
    """The fields of ``PATCH /me/contacts/<id>``: a new note and/or tags to add."""
    if not isinstance(body, Mapping):
        raise _invalid("Send a JSON object (Content-Type: application/json).")
    note = _text(body["note"], "note", MAX_NOTE) if "note" in body else None
    tags = body.get("add_tags", [])
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise _invalid(f"add_tags must be a list of at most {MAX_TAGS} strings.", "add_tags")
    return ContactUpdate(note=note, add_tags=[_text(tag, "add_tags", MAX_TAG_LENGTH) for tag in tags])


def contacts_query(args: Mapping[str, str]) -> ContactsQuery:
    """``since``, ``cursor`` and ``limit`` of ``GET /me/contacts``."""
    raw_limit = args.get("limit")
    if raw_limit is None:
        limit = DEFAULT_PAGE
    elif _DIGITS.fullmatch(raw_limit) and 1 <= int(raw_limit) <= MAX_PAGE:
        limit = int(raw_limit)
    else:
        raise _invalid(f"limit must be a whole number from 1 to {MAX_PAGE}.", "limit")
    since = args.get("since")
    cursor = args.get("cursor")
    return ContactsQuery(
        since=parse_datetime(since, "since", clamp=True) if since is not None else None,
        after=decode_cursor(cursor) if cursor is not None else None,
        limit=limit,
    )


def encode_cursor(contact: Contact) -> str:
    raw = json.dumps([contact.updated_at.astimezone(UTC).isoformat(), contact.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        at, contact_id = json.loads(raw)
        if type(contact_id) is not int or not 0 <= contact_id <= MAX_ID or not isinstance(at, str):
            raise ValueError
        return parse_datetime(at, "cursor"), contact_id
    except (ValueError, TypeError, UnicodeError, binascii.Error, ValidationFailed):
        raise _invalid("cursor is not one this API gave out: start again without it.", "cursor") from None


# --- out ---------------------------------------------------------------------------------


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, with its offset."""
    return value.astimezone(UTC).isoformat() if value is not None else None


def event_ref(event: Event | None) -> dict | None:
    if event is None:
        return None
    return {"id": event.id, "slug": event.slug, "name": event.name}


def contact(entry: Contact) -> dict:
    """A contact as its owner sees it; a removed one is just ``{"id", "deleted": true}``."""
    if entry.deleted_at is not None:
        return {"id": entry.id, "deleted": True}
    if entry.user is not None:
        card = people.card(entry.user)
        who = {"name": card.name, "headline": card.headline, "company": card.company,
               "looking_for": card.looking_for}
        shared = {"email": card.email, "phone": card.phone, "linkedin_url": card.linkedin_url,
                  "photo_url": external_url("profile.photo", user_id=card.user_id, v=card.photo_version)
                  if card.has_photo else None}
    else:  # imported or typed in by the owner: their own notes on the person
        who = {"name": entry.name, "headline": entry.headline, "company": entry.company, "looking_for": ""}
        shared = {"email": entry.email, "phone": entry.phone, "linkedin_url": None, "photo_url": None}
    return {
        "id": entry.id,
        "user_id": entry.user_id,
        **who,
        **{key: value for key, value in shared.items() if value},
        "note": entry.note,
        "tags": [tag.name for tag in entry.tags],
        "state": entry.state,
        "source": entry.source,
        "scanned_me": entry.scanned_me,
        "event": event_ref(entry.event),
        "met_at": timestamp(entry.met_at),
        "last_touched_at": timestamp(entry.last_touched_at),
        "updated_at": timestamp(entry.updated_at),
        "deleted": False,
    }


def scan(entry: Scan) -> dict:
    return {
        "id": entry.id,
        "client_id": entry.client_id,
        "event": event_ref(entry.event),
        "scanned_user_id": entry.scanned_id,
        "scanned_at": timestamp(entry.scanned_at),
        "created_at": timestamp(entry.created_at),
        "note": entry.note,
    }


def scan_result(result: ScanResult) -> dict:
    return {
        "scan": scan(result.scan),
        # None only when the scanner has since removed (or blocked) this person.
        "contact": contact(result.contact) if result.contact is not None else None,
        "already_connected": result.already_connected,
    }


def contacts_page(contacts: list[Contact], next_cursor: str | None) -> dict:
    return {"contacts": [contact(entry) for entry in contacts], "next": next_cursor}


def me(user: User) -> dict:
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "headline": user.headline,
        "company": user.company,
        "looking_for": user.looking_for,
        "phone": user.phone,
        "linkedin_url": user.linkedin_url,
        "timezone": user.timezone,
        "role": user.role,
        "sharing": {"email": user.share_email, "phone": user.share_phone, "linkedin": user.share_linkedin},
    }
