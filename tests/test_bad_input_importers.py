"""Importers and badge codes under arbitrary input (hypothesis).

Whatever bytes an organizer or attendee uploads, and whatever a phone sends as
a badge, the parsers either refuse the whole file with a clear message or
report each bad record with where it is and why, keep every good one, and
never raise anything else; the upload views and the scan API never answer 500.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.api_support import SCANS, bearer, error_of, new_client_id, token_for
from tests.conftest import BASE_URL
from tests.factories import attend, make_event, make_user
from webapp.extensions import db, limiter
from webapp.models import ContactImport, RegistrantImport, User
from webapp.services import (
    DomainError,
    ValidationFailed,
    badges,
    connections,
    contact_csv,
    contact_import,
    tags,
    vcard,
)
from webapp.services.contact_merge import Record
from webapp.services.events import BADGE_ALPHABET, BADGE_CODE_LENGTH
from webapp.services.registrant_csv import MAX_LENGTHS, BadRow, ImportFileError, Registrant, parse

# Pure parsers are fast: many examples. Database and HTTP ones: fewer, so each test stays short.
PURE = settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
WITH_DB = settings(deadline=None, max_examples=100,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")

# --- Strategies -------------------------------------------------------------------------------

# Characters files really contain, and the ones that break naive parsers.
TRICKY = ['"', "'", ",", ";", "\t", "\n", "\r", "\r\n", "\x00", "\ufeff", "\u2028", "\x85", "=", "@", "<", ">",
          "\\", ":", "=0D=0A", "é", "李", "😀", "\udcff"]
cell_text = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(TRICKY) | st.text(max_size=4), max_size=12).map("".join),
    st.sampled_from(["ana@example.com", "Ana <ana@example.com>", "not an email", "", " ", "=1+1", "@SUM(A1)"]),
)
huge_cell = st.integers(min_value=1_000, max_value=140_000).map(lambda n: "x" * n)  # past csv's field limit too
headers = st.lists(st.sampled_from(["name", "email", "E-mail", "First name", "Last name", "company", "headline",
                                    "title", "notes", "tags", "phone", "", "junk", "email"]), min_size=0, max_size=7)


@st.composite
def csv_files(draw) -> bytes:
    """Plausible CSV: a header (or not), rows of any width, any delimiter,
    line ends, BOM and encoding, with quotes, NULs, huge and broken cells."""
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    line_end = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    rows = [draw(headers), *draw(st.lists(st.lists(cell_text, max_size=8), max_size=8))]
    if draw(st.integers(min_value=0, max_value=9)) == 0:  # now and then one huge cell
        rows[-1].append(draw(huge_cell))
    if draw(st.booleans()):  # written properly (quoted) or glued together by hand
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter, lineterminator=line_end).writerows(rows)
        text = out.getvalue()
    else:
        text = line_end.join(delimiter.join(row) for row in rows)
    if draw(st.booleans()):
        text = "\ufeff" + text
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "cp1252", "latin-1"]))
    data = text.encode(encoding, errors="surrogatepass" if encoding.startswith("utf") else "replace")
    if draw(st.booleans()):  # corrupt it: invalid UTF-8 in the middle
        cut = draw(st.integers(min_value=0, max_value=len(data)))
        broken = draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x81\x8d", b"\x00"]))
        data = data[:cut] + broken + data[cut:]
    return data


VCARD_LINES = st.one_of(
    st.sampled_from(["FN:Ana Souza", "N:Souza;Ana;;;", "EMAIL;TYPE=INTERNET:ana@example.com", "TEL:+351 912",
                     "ORG:Acme\\, Inc;R&D", "TITLE:CTO", "NOTE:line\\nnext", "CATEGORIES:a,b\\,c",
                     "item1.EMAIL:x@y.org",
                     "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=utf-7:+2AA-", "NOTE;ENCODING=QUOTED-PRINTABLE:a=00b=",
                     "FN;CHARSET=nonesuch;ENCODING=QUOTED-PRINTABLE:=C3=A9", "EMAIL:mailto:", "N:;;;;", "BEGIN:VCARD",
                     "END:VCARD", "VERSION:4.0", ";;;", ":", "FN", " folded continuation", "\tx", "X-Y;Z=\"a:b\":c",
                     "PHOTO;ENCODING=b:!!!!", "BDAY:not-a-date", "FN:<script>alert(1)</script>"]),
    st.builds(lambda name, value: f"{name}:{value}", st.sampled_from(["FN", "EMAIL", "NOTE", "ORG", "TEL", "N",
                                                                       "CATEGORIES", "TITLE"]), st.text(max_size=40)),
    st.text(max_size=40),
)


@st.composite
def vcard_files(draw) -> bytes:
    line_end = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    cards = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        body = draw(st.lists(VCARD_LINES, max_size=8))
        end = ["END:VCARD"] if draw(st.booleans()) else []
        cards.append(line_end.join(["BEGIN:VCARD", "VERSION:3.0", *body, *end]))
    text = draw(st.sampled_from(["", "\ufeff"])) + line_end.join(cards) + draw(st.text(max_size=20))
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        cut = draw(st.integers(min_value=0, max_value=len(data)))
        data = data[:cut] + draw(st.sampled_from([b"\xff", b"\xc3(", b"\x00"])) + data[cut:]
    return data


any_file = st.one_of(st.binary(max_size=3000), csv_files(), vcard_files())

# --- Checks shared by the tests -------------------------------------------------------------------


def assert_one_line(value: str, limit: int) -> None:
    assert len(value) <= limit
    assert not CONTROL.search(value) and not SURROGATE.search(value), repr(value)
    assert value == value.strip()


def check_registrants(data: bytes):
    """``parse(data)``: a clear refusal, or checked rows and reported bad rows."""
    try:
        parsed = parse(data)
    except ImportFileError as exc:
        assert exc.message.strip() and exc.field == "file"
        return None
    lines = [r.line for r in parsed.rows] + [b.line for b in parsed.bad]
    assert len(lines) == len(set(lines)) and all(line >= 2 for line in lines)
    for row in parsed.rows:
        assert isinstance(row, Registrant) and "@" in row.email
        for name, limit in MAX_LENGTHS.items():
            assert_one_line(getattr(row, name), limit)
        assert row.name  # a nameless row is named after its address
    for bad in parsed.bad:
        assert isinstance(bad, BadRow) and bad.reason.strip()
        assert "\x00" not in bad.value and len(bad.value) <= 200
    return parsed


def check_contacts(kind: str, data: bytes):
    """``contact_import.read``: a clear refusal, or checked records and reported bad ones."""
    try:
        entries = contact_import.read(kind, data)
    except ValidationFailed as exc:
        assert exc.message.strip() and exc.field == "file"
        return None
    for entry in entries:
        if isinstance(entry, vcard.Unreadable):
            assert re.fullmatch(r"(card \d+ \(line \d+\)|line \d+)", entry.where), entry.where
            assert entry.reason.strip()
            assert_one_line(entry.label, 80)
            continue
        assert isinstance(entry, Record)
        for name, limit in contact_import.LIMITS.items():
            if name != "email":
                assert_one_line(getattr(entry, name), limit)
        assert entry.name or entry.emails
        assert all("@" in email and email == email.lower() for email in entry.emails)
        assert "\x00" not in entry.note and not SURROGATE.search(entry.note)
        assert all(tag and not CONTROL.search(tag) for tag in entry.tags)
    return entries


# --- Registrant CSV ------------------------------------------------------------------------------


@PURE
@given(any_file)
def test_registrant_csv_never_raises_anything_but_a_clear_refusal(data):
    check_registrants(data)


@pytest.mark.parametrize("data", [
    codecs.BOM_UTF16_LE + b"\x00\xd8",  # a lone surrogate in UTF-16
    codecs.BOM_UTF16_LE + b"n\x00a\x00m",  # an odd number of bytes
    codecs.BOM_UTF16_BE + "name,email\nA\x00,a@example.com\n".encode("utf-16-be"),  # NUL inside UTF-16
], ids=["lone surrogate", "odd length", "NUL"])
def test_broken_utf16_is_refused_with_a_message(data):
    with pytest.raises(ImportFileError, match="UTF-8"):
        parse(data)


junk = st.text(alphabet=st.characters(exclude_characters="@\x00", exclude_categories=("Cs",)), min_size=1,
               max_size=40)


@PURE
@given(st.lists(st.tuples(st.booleans(), junk), min_size=1, max_size=25), st.sampled_from(["\r\n", "\n", "\r"]),
       st.booleans())
def test_registrant_bad_rows_are_reported_by_line_and_good_ones_kept(rows, line_end, bom):
    out = io.StringIO()
    # A lone CR or LF in a cell needs quotes when the other one ends lines (Excel quotes every such cell).
    writer = csv.writer(out, lineterminator=line_end, quoting=csv.QUOTE_ALL if line_end != "\r\n" else
                        csv.QUOTE_MINIMAL)
    writer.writerow(["name", "email", "company"])
    expected_good, expected_bad = {}, set()
    for index, (good, text) in enumerate(rows):
        line = index + 2
        if good:  # (more than ten line breaks in one cell read as an unclosed quote)
            writer.writerow([f"Person {index}", f"person{index}@example.com", text.replace("\n", " ")])
            expected_good[line] = f"person{index}@example.com"
        else:
            writer.writerow([f"Person {index}", f"not an address {text}", "Acme"])
            expected_bad.add(line)
    data = out.getvalue().encode("utf-8")
    parsed = check_registrants(codecs.BOM_UTF8 + data if bom else data)
    assert parsed is not None
    assert {r.line: r.email for r in parsed.rows} == expected_good
    assert {b.line for b in parsed.bad} == expected_bad
    assert all(b.reason.startswith(("Not a valid email", 'A quote (")')) for b in parsed.bad)


def test_a_bad_email_cell_is_shown_on_one_line_and_shortened():
    cell = "=HYPERLINK(\n" + "x" * 5000
    parsed = parse(f'name,email\nAna,"{cell}"\nBo,bo@example.com\n'.encode())
    (bad,) = parsed.bad
    assert bad.line == 2 and len(bad.value) <= 200 and "\n" not in bad.value and bad.value.startswith("=HYPERLINK(")
    assert [r.email for r in parsed.rows] == ["bo@example.com"]


# --- Contact CSV and vCard ---------------------------------------------------------------------------


@PURE
@given(any_file, st.sampled_from(["csv", "vcard"]))
def test_contact_files_never_raise_anything_but_a_clear_refusal(data, kind):
    check_contacts(kind, data)


@PURE
@given(st.text(max_size=400))
def test_the_vcard_and_csv_readers_take_any_text(text):
    for reader in (vcard.parse, contact_csv.parse):
        try:
            entries = reader(text)
        except ValidationFailed as exc:
            assert exc.message.strip()
        else:
            assert all(isinstance(e, (vcard.RawContact, vcard.Unreadable)) for e in entries)


@PURE
@given(st.lists(st.tuples(st.booleans(), junk), min_size=1, max_size=12), st.sampled_from(["\r\n", "\n"]))
def test_bad_cards_are_reported_by_card_number_and_good_ones_kept(cards, line_end):
    text, good = [], {}
    for number, (is_good, words) in enumerate(cards, start=1):
        value = words.replace("\r", " ").replace("\n", " ")
        email = f"person{number}@example.com" if is_good else f"not-an-address {value}"
        lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:Person {number}", f"EMAIL:{email}", f"NOTE:{value}", "END:VCARD"]
        text += lines
        if is_good:
            good[number] = email
    entries = check_contacts("vcard", line_end.join(text).encode("utf-8", errors="surrogatepass"))
    assert entries is not None and len(entries) == len(cards)
    kept = {int(re.match(r"card (\d+)", e.where)[1]): e.email for e in entries if isinstance(e, Record)}
    assert kept == good
    bad = {int(re.match(r"card (\d+)", e.where)[1]) for e in entries if isinstance(e, vcard.Unreadable)}
    assert bad == set(range(1, len(cards) + 1)) - set(good)


@PURE
@given(st.lists(st.tuples(st.booleans(), junk), min_size=1, max_size=20))
def test_bad_csv_contacts_are_reported_by_line_and_good_ones_kept(rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "email", "notes"])
    good = {}
    for index, (is_good, text) in enumerate(rows):
        email = f"person{index}@example.com" if is_good else f"not-an-address {text}"
        writer.writerow([f"Person {index}", email, text])
        if is_good:
            good[f"line {index + 2}"] = email
    entries = check_contacts("csv", out.getvalue().encode())
    assert entries is not None
    assert {e.where: e.email for e in entries if isinstance(e, Record)} == good
    assert {e.where for e in entries if isinstance(e, vcard.Unreadable)} == {
        f"line {i + 2}" for i, (is_good, _) in enumerate(rows) if not is_good}


printable = st.characters(exclude_categories=("Cc", "Cs"))


@PURE
@given(name=st.text(printable, min_size=1, max_size=120), company=st.text(printable, max_size=120),
       note=st.text(st.one_of(printable, st.just("\n")), max_size=300),
       tag_names=st.lists(st.text(printable, min_size=1, max_size=20), max_size=3))
def test_an_exported_card_imports_back_as_the_same_person(name, company, note, tag_names):
    assume(name.strip())
    text = vcard.card(uid="urn:uuid:6f1d8a52-3c1e-4f8e-9a57-2f0c9b6f4e11", name=name, email="ana@example.com",
                      company=company, note=note, tags=tag_names)
    (record,) = contact_import.read("vcard", text.encode())
    assert isinstance(record, Record), record
    assert record.name == " ".join(name.split())
    assert record.company == " ".join(company.split())
    assert record.note == "\n".join(line.rstrip() for line in note.split("\n")).strip()
    assert record.email == "ana@example.com"
    assert set(record.tags) == {t for t in tags.clean(tag_names) if t.lower() not in contact_import.SYSTEM_GROUPS}


@pytest.mark.parametrize(("line", "field"), [
    ("FN;ENCODING=QUOTED-PRINTABLE;CHARSET=utf-7:Ana+2AA-", "name"),  # decodes to a lone surrogate
    ("FN;ENCODING=QUOTED-PRINTABLE:Ana=00Souza", "name"),  # NUL
    ("ORG;ENCODING=QUOTED-PRINTABLE:Acme=0D=0ABcc: victim@example.com", "company"),  # a line break in a name
    ("NOTE;ENCODING=QUOTED-PRINTABLE:one=00two", "note"),
])
def test_values_a_card_decodes_to_control_characters_are_cleaned(line, field):
    text = "\r\n".join(["BEGIN:VCARD", "VERSION:2.1", "FN:Ana Souza", "EMAIL:ana@example.com", line, "END:VCARD"])
    (record,) = contact_import.read("vcard", text.encode())
    value = getattr(record, field)
    assert "\x00" not in value and not SURROGATE.search(value) and "\r" not in value
    if field != "note":
        assert "\n" not in value and value.startswith(("Ana", "Acme"))


# --- Upload views ---------------------------------------------------------------------------------------


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def no_rate_limits(monkeypatch):
    """Hundreds of uploads in one test: the per-account upload limits are not what it is about."""
    monkeypatch.setattr(limiter, "enabled", False)


@pytest.fixture
def signed_in(app, auth, no_rate_limits):
    user = make_user(app, "ana@example.com", name="Ana Attendee")
    auth.as_user(user)
    return user


@pytest.fixture
def organizer_event(app, auth, no_rate_limits):
    organizer = make_user(app, "olga@example.com", name="Olga Organizer", role="organizer")
    event = make_event(app, organizer, "Spring Mixer")
    auth.as_user(organizer)
    return event


@WITH_DB
@given(data=any_file, filename=st.sampled_from(["list.csv", "list.txt", "photo.png", "x", "a\x00b.csv",
                                                "C:\\Users\\ana\\" + "n" * 300 + ".csv"]))
def test_registrant_upload_never_answers_500_and_saves_only_a_usable_file(app, client, organizer_event, data,
                                                                         filename):
    before = count(app, RegistrantImport)
    response = client.post(f"/events/{organizer_event.slug}/imports", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(data), filename)})
    assert response.status_code in (302, 422), response.status_code
    assert count(app, RegistrantImport) == before + (response.status_code == 302)
    if response.status_code == 422:  # the reason, on the file field
        assert b'class="field-error"' in response.data
    else:
        assert client.get(response.headers["Location"]).status_code == 200


@WITH_DB
@given(data=any_file, filename=st.sampled_from(["contacts.csv", "contacts.vcf", "cards.vcard", "photo.jpg",
                                                "a\x00.vcf", "x" * 400 + ".csv"]))
def test_contact_upload_never_answers_500_and_saves_only_a_usable_file(app, client, signed_in, data, filename):
    before = count(app, ContactImport)
    response = client.post("/contacts/import", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(data), filename)})
    assert response.status_code in (302, 422), response.status_code
    assert count(app, ContactImport) == before + (response.status_code == 302)
    if response.status_code == 422:
        assert b'class="field-error"' in response.data
    else:  # and its preview renders
        assert client.get(response.headers["Location"]).status_code == 200


# --- Badge codes and tokens ------------------------------------------------------------------------------

TOKEN_CHARS = string.ascii_letters + string.digits + "_-"
tokens = st.text(alphabet=TOKEN_CHARS, min_size=16, max_size=64)
codes = st.text(alphabet=BADGE_ALPHABET, min_size=BADGE_CODE_LENGTH, max_size=BADGE_CODE_LENGTH)


@PURE
@given(st.text(max_size=400))
def test_token_from_gives_a_well_formed_token_or_none(text):
    token = badges.token_from(text)
    assert token is None or re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token)


@PURE
@given(tokens, st.sampled_from(["", "/", "?utm=x", "#top", "/?a=b#c"]), st.sampled_from(["", " ", "\n", "\t "]))
def test_a_badge_url_or_bare_token_gives_its_token(token, suffix, space):
    assert badges.token_from(f"{space}{BASE_URL}/b/{token}{suffix}{space}") == token
    assert badges.token_from(f"{space}{token}{space}") == token


@PURE
@given(st.text(max_size=200))
def test_normalise_code_drops_spaces_and_dashes_and_is_stable(text):
    code = badges.normalise_code(text)
    assert not re.search(r"[\s-]", code)
    assert badges.normalise_code(code) == code


@PURE
@given(codes, st.lists(st.sampled_from([" ", "-", "  ", "\t", " - "]), min_size=BADGE_CODE_LENGTH,
                       max_size=BADGE_CODE_LENGTH), st.booleans())
def test_a_typed_code_matches_whatever_its_case_spaces_and_dashes(code, gaps, lower):
    typed = "".join(ch + gap for ch, gap in zip(code, gaps, strict=True))
    assert badges.normalise_code(typed.lower() if lower else typed) == code


@pytest.fixture
def scan_scene(app):
    organizer = make_user(app, "olga@example.com", name="Olga Organizer", password=None, role="organizer")
    scanner = make_user(app, "ana@example.com", name="Ana Attendee", password=None)
    peer = make_user(app, "pia@example.com", name="Pia Peer", password=None)
    event = make_event(app, organizer, "Spring Mixer")
    attend(app, event, scanner)
    badge = attend(app, event, peer)
    return {"scanner": scanner, "peer": peer, "event": event, "badge": badge.badge_token, "code": badge.badge_code}


@pytest.fixture
def scanner_token(app, scan_scene) -> str:
    return token_for(app, scan_scene["scanner"])


badge_text = st.one_of(
    st.text(max_size=300),
    st.builds(lambda pre, tok, post: f"{pre}/b/{tok}{post}", st.text(max_size=30), tokens, st.text(max_size=20)),
    st.builds(lambda c, junk: c[:3] + junk + c[3:], codes, st.text(max_size=4)),
    st.sampled_from(["\x00", "ABC\x00DEF", "\ud800", "ß" * 6, "٣٣٣٣٣", "ﬀﬀﬀ", " - - ", "A" * 13]),
)


@WITH_DB
@given(badge_text)
def test_resolving_any_badge_is_an_attendance_or_a_clear_refusal(ctx, scan_scene, badge):
    scanner = db.session.get(User, scan_scene["scanner"].id)
    assert isinstance(badges.by_code(badge), list)
    try:
        attendance = connections.resolve_badge(scanner, badge)
    except DomainError as exc:
        assert exc.message.strip()
    else:
        assert attendance.user_id == scan_scene["peer"].id  # only the real badge (or its code) resolves
    finally:
        db.session.rollback()


@WITH_DB
@given(badge=st.one_of(badge_text, st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=3),
                       st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)),
       event=st.one_of(st.none(), st.text(max_size=100)))
def test_scanning_any_badge_over_the_api_is_never_a_500(app, client, scan_scene, scanner_token, badge, event):
    token = scanner_token
    body = {"badge": badge, "client_id": new_client_id()}
    if event is not None:
        body["event"] = event
    response = client.post(SCANS, json=body, headers=bearer(token))
    status, code = error_of(response)
    if status in (200, 201):
        assert response.get_json()["scan"]["scanned_user_id"] == scan_scene["peer"].id
    else:
        assert status in (403, 404, 409, 422), response.get_data(as_text=True)
        assert code is not None


def test_every_way_of_writing_the_real_badge_scans_it(app, client, scan_scene, scanner_token):
    token, code = scanner_token, scan_scene["code"]
    for badge in (scan_scene["badge"], f"{BASE_URL}/b/{scan_scene['badge']}?src=qr",
                  f" {code[:3].lower()}-{code[3:].lower()} "):
        response = client.post(SCANS, json={"badge": badge, "client_id": new_client_id()}, headers=bearer(token))
        assert response.status_code in (200, 201), (badge, response.get_json())

