"""vCards in and out: text in, plain records out; plain values in, vCard 4.0 out.

Reading copes with what phones and mail programs really write: vCard 3.0 and
4.0 (and 2.1-style bare parameters), many cards per file, folded lines,
quoted-printable values with soft line breaks (Outlook), iPhone's grouped
``item1.EMAIL`` lines and ``tel:``/``mailto:`` URIs. vobject reads each line
(folding, parameters, quoted-printable and its charset); the values are
unescaped here because vobject's own text decoding keeps only what comes
before the first bare comma ("Met in Lisbon, liked..." would lose its end),
and Outlook and others write bare commas.

Each card is read on its own, so a broken card becomes an :class:`Unreadable`
entry and the cards around it still import. The text has been decoded from
bytes already (see :mod:`webapp.services.contact_import`).
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import vobject
from vobject.base import VObjectError, getLogicalLines, textLineToContentLine
from vobject.icalendar import stringToTextValues

from webapp.services import ValidationFailed

_NEWLINE = re.compile(r"\r\n|\r|\n")  # not str.splitlines: U+2028 in a note isn't a new line


@dataclass(frozen=True)
class RawContact:
    """One person as a file describes them, before any checks. Shared by the
    vCard and CSV readers. ``where`` says where in the file it was."""

    where: str
    name: str = ""
    emails: tuple[str, ...] = ()  # the preferred one first
    phone: str = ""
    company: str = ""
    headline: str = ""
    note: str = ""
    tags: tuple[str, ...] = ()

    @property
    def email(self) -> str:
        return self.emails[0] if self.emails else ""


@dataclass(frozen=True)
class Unreadable:
    """A part of the file that can't be read as a contact, and why."""

    where: str
    label: str
    reason: str


def parse(text: str) -> list[RawContact | Unreadable]:
    """Every card in ``text``, in file order. Raises ValidationFailed (on the
    ``file`` field) when there is no card at all."""
    found: list[RawContact | Unreadable] = []
    for number, first_line, lines, closed in _cards(text):
        where = f"card {number} (line {first_line})"
        if not closed:
            found.append(Unreadable(where, _peek_name(lines), "The card never ends (END:VCARD is missing)."))
            continue
        try:
            found.append(_read(where, lines))
        except VObjectError as exc:
            line = (exc.lineNumber or 1) + first_line - 1
            found.append(Unreadable(where, _peek_name(lines), f"Line {line} can't be read."))
        except (LookupError, UnicodeError, ValueError) as exc:  # a quoted-printable value in an unknown charset
            found.append(Unreadable(where, _peek_name(lines), f"A value can't be decoded ({exc.__class__.__name__})."))
    if not found:
        raise ValidationFailed("No contacts in this file: a vCard file has BEGIN:VCARD lines. "
                               "Export your contacts as vCard (.vcf) and upload that.", field="file")
    return found


def _cards(text: str) -> Iterator[tuple[int, int, list[str], bool]]:
    """(card number, its first line, its lines, whether it was closed) for each
    BEGIN:VCARD; text outside cards is ignored."""
    current: list[str] | None = None
    number = start = 0
    for line_no, line in enumerate(_NEWLINE.split(text), start=1):
        marker = line.rstrip().upper() if line[:1] not in (" ", "\t") else ""
        if marker == "BEGIN:VCARD":
            if current is not None:
                yield number, start, current, False
            number, start, current = number + 1, line_no, [line]
        elif current is not None:
            current.append(line)
            if marker == "END:VCARD":
                yield number, start, current, True
                current = None
    if current is not None:
        yield number, start, current, False


def _peek_name(lines: Sequence[str]) -> str:
    """The FN (or else an EMAIL) as written, to name a card we couldn't read."""
    for prefix in ("FN", "EMAIL"):
        for line in lines:
            match = re.match(rf"(?:[\w-]+\.)?{prefix}(?:;[^:]*)?:(.*)$", line, re.IGNORECASE)
            if match and match.group(1).strip():
                return match.group(1).strip()[:80]
    return ""


def _text(value: str) -> str:
    """A text value unescaped (``\\n``, ``\\,``, ``\\;``, ``\\\\``); bare commas kept."""
    return ",".join(stringToTextValues(value)).strip()


def _parts(value: str) -> list[str]:
    """A structured value (N, ORG) split on unescaped semicolons, each unescaped."""
    return [_text(part) for part in stringToTextValues(value, listSeparator=";", charList=";")]


def _types(line) -> set[str]:
    found = {p.upper() for p in line.singletonparams}
    for value in line.params.get("TYPE", []):
        found.update(t.strip().upper() for t in value.split(","))
    if "PREF" in line.params:  # vCard 4.0: PREF=1
        found.add("PREF")
    return found


def _read(where: str, lines: list[str]) -> RawContact:
    props: dict[str, list] = {}
    for logical, number in getLogicalLines(io.StringIO("\n".join(lines)), allowQP=True):
        line = textLineToContentLine(logical, number)
        if line.name not in ("BEGIN", "END", "VERSION"):
            props.setdefault(line.name, []).append(line)

    def ranked(name: str, *favourites: str) -> list[str]:
        entries = props.get(name, [])
        order = sorted(range(len(entries)), key=lambda i: (
            [fav not in _types(entries[i]) for fav in favourites], i))
        return [v for v in (re.sub(r"^(mailto|tel):", "", _text(entries[i].value), flags=re.I) for i in order) if v]

    name = next((v for v in (_text(line.value) for line in props.get("FN", [])) if v), "")
    if not name and props.get("N"):
        name = _name_from_parts(_parts(props["N"][0].value))
    org = _parts(props["ORG"][0].value) if props.get("ORG") else []
    tags = [tag.strip() for line in props.get("CATEGORIES", []) for tag in stringToTextValues(line.value)]
    return RawContact(
        where=where,
        name=name,
        emails=tuple(ranked("EMAIL", "PREF")),
        phone=next(iter(ranked("TEL", "PREF", "CELL")), ""),
        company=next((part for part in org if part), ""),
        headline=next(iter(ranked("TITLE") or ranked("ROLE")), ""),
        note="\n\n".join(v for v in (_text(line.value) for line in props.get("NOTE", [])) if v),
        tags=tuple(tag for tag in tags if tag),
    )


def _name_from_parts(parts: list[str]) -> str:
    """A display name from N (family; given; additional; prefix; suffix)."""
    family, given, additional = [*parts, "", "", ""][:3]
    if any(unicodedata.east_asian_width(c) == "W" for c in family + given):
        return f"{family}{given}".strip()  # 李 + 雷: family name first, no space
    return " ".join(part for part in (given, additional, family) if part)


# --- Writing -------------------------------------------------------------------------------


def card(*, uid: str, name: str, email: str = "", phone: str = "", company: str = "", headline: str = "",
         note: str = "", tags: Sequence[str] = (), url: str = "", event: str = "", met_at: datetime | None = None,
         updated_at: datetime | None = None) -> str:
    """One vCard 4.0 (CRLF line ends, folded at 75 octets) for these values;
    empty values are left out."""
    vc = vobject.vCard()
    vc.add("version").value = "4.0"
    vc.add("prodid").value = "-//MeetLoop//Contacts//EN"
    vc.add("uid").value = uid
    vc.add("fn").value = name
    given, _, family = name.rpartition(" ")  # a guess: N matters only to apps that sort by it
    vc.add("n").value = vobject.vcard.Name(family=family, given=given) if given else vobject.vcard.Name(given=name)
    for key, value in (("email", email), ("tel", phone), ("title", headline), ("note", note), ("url", url),
                       ("x-meetloop-event", event)):
        if value:
            vc.add(key).value = value
    if company:
        vc.add("org").value = [company]
    if tags:
        vc.add("categories").value = list(tags)
    if met_at is not None:
        vc.add("x-meetloop-met").value = met_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if updated_at is not None:
        vc.add("rev").value = updated_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return vc.serialize()
