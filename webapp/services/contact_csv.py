"""Contacts as CSV: a spreadsheet or another app's export in, the address book out.

Reading matches the header row tolerantly ("Full name", "First name" + "Last
name", "E-mail Address", "Mobile", "Organization", "Job title", "Labels",
and Google's and Outlook's export columns), finds the delimiter (Excel writes
``;`` in many locales) and gives the same plain records as the vCard reader.
Line numbers are the rows a spreadsheet shows (the header is line 1).

Writing goes through :func:`webapp.services.attendees.csv_chunks`, which
prefixes a UTF-8 byte order mark for Excel and neutralises cells a
spreadsheet would run as formulas.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence

from webapp.services import ValidationFailed
from webapp.services.attendees import csv_chunks
from webapp.services.registrant_csv import normalise_header, sniff_delimiter
from webapp.services.vcard import RawContact, Unreadable

#: The export's columns; the reader takes them back.
HEADER = ("name", "email", "phone", "company", "title", "notes", "tags", "event", "met_at")

# Field -> normalised header spellings, the most specific first: Outlook has both
# "Title" (Dr., Ms.) and "Job Title", and the job title is what we want.
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "fullname", "displayname", "contactname", "contact"),
    "first": ("firstname", "givenname", "first", "forename"),
    "middle": ("middlename", "additionalname"),
    "last": ("lastname", "familyname", "surname", "last"),
    "email": ("email", "emailaddress", "email1value", "primaryemail", "mail", "workemail", "businessemail",
              "homeemail", "email2value", "email2address", "secondemail"),
    "phone": ("mobile", "mobilephone", "cell", "cellphone", "phone", "phonenumber", "phone1value", "telephone",
              "tel", "primaryphone", "businessphone", "workphone", "homephone", "phone2value"),
    "company": ("company", "organization", "organisation", "organizationname", "org", "companyname", "employer"),
    "headline": ("headline", "jobtitle", "organizationtitle", "position", "title", "role"),
    "note": ("notes", "note", "comments", "description"),
    "tags": ("tags", "tag", "categories", "category", "labels", "label", "groups", "groupmembership"),
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TAG_SPLIT = re.compile(r"\s*(?::::|;|,)\s*")  # Google joins labels with " ::: "


def parse(text: str) -> list[RawContact | Unreadable]:
    """Every non-blank row after the header, in file order. Raises
    ValidationFailed (on ``file``) when the file has no usable header."""
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    if not first_line:
        raise ValidationFailed("This file is empty.", field="file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(first_line))
    columns: dict[str, int] | None = None
    found: list[RawContact | Unreadable] = []
    try:
        for line, cells in enumerate(reader, start=1):
            cells = [_unguard(cell.strip()) for cell in cells]
            if not any(cells):
                continue  # a blank row keeps its number, as in a spreadsheet
            if columns is None:
                columns = _columns(cells)
                continue
            found.append(_row(f"line {line}", {key: cells[i] for key, i in columns.items() if i < len(cells)}))
    except csv.Error as exc:
        raise ValidationFailed(f"Line {reader.line_num} can't be read as CSV ({exc}).", field="file") from None
    return found


def _unguard(cell: str) -> str:
    """Undo the apostrophe a spreadsheet-safe export put before '=', '+', ..."""
    return cell[1:] if cell.startswith("'") and cell[1:2].startswith(_FORMULA_START) else cell


def _columns(header: Sequence[str]) -> dict[str, int]:
    names = [normalise_header(title) for title in header]
    columns = {}
    for key, spellings in ALIASES.items():
        index = next((names.index(s) for s in spellings if s in names), None)
        if index is not None:
            columns[key] = index
    if not {"name", "first", "last", "email"} & columns.keys():
        written = ", ".join(f"“{title}”" for title in header if title) or "none"
        raise ValidationFailed(
            "No name or email column. The first row should name the columns (name, email, phone, company, "
            f"title, notes, tags); it has {written}.", field="file")
    return columns


def _row(where: str, values: dict[str, str]) -> RawContact:
    name = values.get("name") or " ".join(
        v for v in (values.get("first"), values.get("middle"), values.get("last")) if v)
    email = _first(values.get("email", ""))
    email = re.sub(r"^[^<>]*<([^<>]+)>$", r"\1", email)  # "Ana <ana@x.org>"
    return RawContact(
        where=where,
        name=" ".join(name.split()),
        emails=(email,) if email else (),
        phone=_first(values.get("phone", "")),
        company=values.get("company", ""),
        headline=values.get("headline", ""),
        note=values.get("note", ""),
        tags=tuple(tag.lstrip("* ") for tag in _TAG_SPLIT.split(values.get("tags", "")) if tag.strip("* ")),
    )


def _first(value: str) -> str:
    """The first of several values Google puts in one cell ("a@x.org ::: b@y.org")."""
    return value.split(":::")[0].strip()


def chunks(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The header and ``rows`` as spreadsheet-safe CSV text, in chunks."""
    return csv_chunks(itertools.chain([HEADER], rows))
