"""Reading an organizer's registrant list: CSV bytes in, checked rows out.

Pure (no database, no app): :func:`parse` decodes the file (UTF-8 with or
without BOM, UTF-16 as Excel's "Unicode text", else Windows-1252 with a note),
finds the delimiter (Excel writes ``;`` in many locales), matches the header
row tolerantly ("E-mail", "Full name", "First name" + "Last name", ...) and
validates every row. Whole-file problems raise :class:`ImportFileError`; row
problems become :class:`BadRow` entries and the other rows still import.

Line numbers are the row numbers a spreadsheet shows: the header is line 1
(a leading ``sep=;`` line, which Excel hides, is not counted), a quoted
newline inside a cell does not start a new row, and blank rows keep their number.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email

from webapp.services import ValidationFailed

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
# Column sizes in the user table: longer values are cut (and the preview says so).
MAX_LENGTHS = {"name": 120, "company": 120, "headline": 160}
# A quoted cell spanning more lines than this is an unclosed quote, not an address.
MAX_CELL_LINES = 10
# How much of a bad email cell the preview and the bad-rows file repeat.
MAX_SHOWN = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Normalised header (letters and digits only, no accents, lower case) -> field.
ALIASES: dict[str, str] = {}
for _field, _names in {
    "email": "email emailaddress mail eml emails emailid workemail businessemail attendeeemail contactemail "
             "courriel adresseemail adressemail emailadresse correo correoelectronico",
    "name": "name fullname attendee attendeename registrantname participant participantname displayname "
            "yourname contactname nomcomplet nombrecompleto nomecompleto",
    "first": "firstname first givenname forename prenom vorname nombre voornaam",
    "last": "lastname last surname familyname nom nachname apellido apellidos achternaam sobrenome",
    "company": "company companyname organisation organization org employer affiliation institution "
               "entreprise societe firma unternehmen empresa bedrijf",
    "headline": "headline jobtitle title position role job tagline poste fonction cargo functie",
}.items():
    ALIASES.update(dict.fromkeys(_names.split(), _field))

TEMPLATE_HEADER = ("name", "email", "company", "headline")
TEMPLATE_EXAMPLE = ("Ana Souza", "ana.souza@example.com", "Lisbon Robotics", "Head of partnerships")


class ImportFileError(ValidationFailed):
    """The file as a whole can't be read (the message says what to do about it)."""

    code = "import_file_invalid"
    field = "file"


@dataclass(frozen=True)
class Registrant:
    line: int
    email: str  # normalised: the form accounts are stored under
    name: str
    company: str
    headline: str


@dataclass(frozen=True)
class BadRow:
    line: int
    value: str  # what the email cell said
    reason: str


@dataclass
class ParsedFile:
    rows: list[Registrant] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # field -> header as written in the file


def normalise_header(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.replace("\ufeff", "")).casefold()
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in text if not unicodedata.combining(c)))


def decode(data: bytes) -> tuple[str, str | None]:
    """The file's text, and a note when it wasn't UTF-8."""
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ImportFileError(
            "This is an Excel workbook, not a CSV file. In Excel choose File > Save As > "
            "“CSV UTF-8 (Comma delimited)”, then upload that file."
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise ImportFileError(
                "This file says it is UTF-16 (Excel's “Unicode text”) but isn't readable as such. "
                "Save it as “CSV UTF-8” and upload it again."
            ) from None
        return _no_nul(text), None
    try:
        text, note = data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise ImportFileError(
                "We couldn't read the characters in this file. Save it as “CSV UTF-8” and upload it again."
            ) from None
        note = ("This file isn't UTF-8, so we read it as Windows-1252 (Western European). Check that names "
                "with accents look right below; if not, save it as “CSV UTF-8” and upload it again.")
    return _no_nul(text), note


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ImportFileError("This doesn't look like a CSV file. Export your list as “CSV UTF-8” and upload that.")
    return text


def sniff_delimiter(header_line: str) -> str:
    """The delimiter the header row uses most outside quotes (``,`` if none)."""
    counts = dict.fromkeys(",;\t", 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda c: counts[c])
    return best if counts[best] else ","


def _split_sep_line(text: str) -> tuple[str, str | None]:
    """Excel's ``sep=;`` first line names the delimiter (and isn't a row)."""
    first, newline, rest = text.partition("\n")
    match = re.fullmatch(r'"?sep=(.)"?\r?', first.strip(" "))
    return (rest, match.group(1)) if match and newline else (text, None)


def _clean(value: str) -> str:
    """One line: newlines, control characters and runs of spaces inside a cell
    become one space (a name goes into email subjects)."""
    return " ".join(_CONTROL.sub(" ", value).split())


def _email(raw: str) -> str:
    """The normalised address, or EmailNotValidError. "Ana <ana@x.org>" is accepted."""
    angle = re.fullmatch(r"[^<>]*<([^<>]+)>\s*", raw)
    if angle:
        raw = angle.group(1)
    return validate_email(raw.strip(), check_deliverability=False).normalized.lower()


def _map_columns(header: list[str]) -> tuple[dict[str, int], dict[str, str], list[str]]:
    index: dict[str, int] = {}
    written: dict[str, str] = {}
    ignored: list[str] = []
    for i, title in enumerate(header):
        key = ALIASES.get(normalise_header(title))
        if key is None or key in index:
            if title.strip():
                ignored.append(title.strip())
            continue
        index[key], written[key] = i, title.strip()
    return index, written, ignored


def parse(data: bytes) -> ParsedFile:
    """Check an uploaded registrant list. Raises :class:`ImportFileError` when
    the file can't be used at all; otherwise every non-blank row is either a
    :class:`Registrant` or a :class:`BadRow` (missing or malformed email, or an
    address that already appeared on an earlier line)."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(f"This file is over {MAX_FILE_BYTES // (1024 * 1024)} MB. Split it and upload the parts.")
    text, encoding_note = decode(data)
    text, delimiter = _split_sep_line(text)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    if not first_line:
        raise ImportFileError("This file is empty.")
    result = ParsedFile(notes=[encoding_note] if encoding_note else [])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter or sniff_delimiter(first_line))
    columns: dict[str, int] | None = None
    seen: dict[str, int] = {}  # address -> the line it first appeared on
    fixes: Counter[str] = Counter()
    try:
        for line, record in enumerate(reader, start=1):
            cells = [cell.strip() for cell in record]
            if not any(cells):
                continue  # a blank row (it still counts for the numbering, as in a spreadsheet)
            if columns is None:
                columns, result.columns, ignored = _map_columns(cells)
                _check_header(cells, columns)
                if ignored:
                    result.notes.append("Ignored columns: " + ", ".join(ignored) + ".")
            elif len(result.rows) + len(result.bad) >= MAX_ROWS:
                raise ImportFileError(f"This file has more than {MAX_ROWS:,} rows. Split it and upload the parts.")
            else:
                row = _read_row(line, {key: cells[i] for key, i in columns.items() if i < len(cells)}, cells, seen,
                                fixes)
                (result.rows if isinstance(row, Registrant) else result.bad).append(row)
    except csv.Error as exc:
        raise ImportFileError(f"Line {reader.line_num} can't be read as CSV ({exc}).") from None
    if columns is None:
        raise ImportFileError("This file is empty.")
    if fixes["unnamed"]:
        result.notes.append(f"{fixes['unnamed']:,} rows have no name: we'll use the part of the email before the @.")
    if fixes["shortened"]:
        result.notes.append(f"{fixes['shortened']:,} values were too long and were shortened.")
    return result


def _read_row(line: int, values: dict[str, str], cells: list[str], seen: dict[str, int],
              fixes: Counter[str]) -> Registrant | BadRow:
    raw = values.get("email", "")
    shown = _shown(raw)
    if max(cell.count("\n") for cell in cells) > MAX_CELL_LINES:
        return BadRow(line, _shown(raw[:80]), 'A quote (") opened in this row is never closed, so the rest of the '
                                              "file was read as one cell.")
    if not raw:
        return BadRow(line, "", "The email is missing.")
    try:
        email = _email(raw)
    except EmailNotValidError as exc:
        return BadRow(line, shown, f"Not a valid email address: {exc}")
    if email in seen:
        return BadRow(line, shown, f"Same email as line {seen[email]}.")
    seen[email] = line
    fields = {
        "name": _clean(values.get("name", "")) or _clean(f"{values.get('first', '')} {values.get('last', '')}"),
        "company": _clean(values.get("company", "")),
        "headline": _clean(values.get("headline", "")),
    }
    if not fields["name"]:
        fields["name"] = email.split("@")[0]
        fixes["unnamed"] += 1
    for key, limit in MAX_LENGTHS.items():
        if len(fields[key]) > limit:
            fields[key] = fields[key][:limit].rstrip()
            fixes["shortened"] += 1
    return Registrant(line, email, **fields)


def _shown(value: str) -> str:
    """A bad cell as the preview repeats it: one line, and not all of a huge one."""
    value = _clean(value)
    return value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN - 1] + "…"


def _check_header(header: list[str], columns: dict[str, int]) -> None:
    if "email" in columns:
        return
    if any("@" in cell for cell in header):
        raise ImportFileError(
            "The first row looks like a person, not column names. "
            "Add a header row first: name, email, company, headline."
        )
    found = ", ".join(f"“{cell}”" for cell in header if cell) or "none"
    raise ImportFileError(
        f"No email column. The first row should name the columns (name, email, company, headline); it has {found}."
    )


def template_csv() -> str:
    """A CSV to fill in: the header row and one example row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TEMPLATE_HEADER)
    writer.writerow(TEMPLATE_EXAMPLE)
    return out.getvalue()
