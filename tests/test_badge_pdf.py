"""Badge sheet PDFs: every printed QR code decodes to exactly its badge URL, on every paper and
layout; names in any script fit their badge and are drawn as text, never markup; "printed" is
only ever an explicit POST.

QR codes are checked the way a phone sees them: each page is rendered to an image with
pdfium and every code on it decoded with zxing-cpp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pypdfium2 as pdfium
import pytest
import zxingcpp
from reportlab.pdfbase.pdfmetrics import stringWidth
from sqlalchemy import select

from tests.conftest import BASE_URL
from tests.factories import make_event, make_user
from webapp.extensions import db
from webapp.models import Attendance, Event, User, utcnow
from webapp.services import badge_pdf, badge_text, badges, events

LONG = "Maximiliane Alexandrina von Hohenzollern-Sigmaringen"
ENDLESS = ("Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaftschaferswessenschafewaren" * 2)[:120]
HTML_LIKE = "<b>&amp;"
# name, headline, company: long, non-Latin and markup-looking, as people type them.
PEOPLE = [
    ("Ana Attendee", "Product designer", "Acme"),
    (LONG, "Head of Partnerships, Europe, Middle East, Africa and Asia-Pacific", "Internationale Handels GmbH"),
    ("Анастасия Ковальчук", "Инженер-программист", "Яндекс"),
    ("Αλέξανδρος Παπαδόπουλος", "Σύμβουλος", "Ελληνικά Πετρέλαια"),
    ("王小明", "产品经理", "腾讯"),
    ("山田 花子", "エンジニア", "株式会社サンプル"),
    (HTML_LIKE, "O'Brien (Jr.) \\ <i>", ""),
    (ENDLESS, "", ""),
    ("Bo", "", ""),
]
PAPER_POINTS = {"a4": (595.28, 841.89), "letter": (612.0, 792.0)}
GRID = {1: (1, 1), 4: (2, 2), 8: (2, 4)}
PAGES = {1: [1] * 9, 4: [4, 4, 1], 8: [8, 1]}  # 9 badges: the last page holds what is left


@dataclass
class Sheet:
    slug: str
    organizer: User
    urls: dict[str, str]  # name -> badge URL
    ids: dict[str, int]  # name -> attendance id


@pytest.fixture
def sheet(app) -> Sheet:
    organizer = make_user(app, name="Olga Organizer", role="organizer", password=None)
    event = make_event(app, organizer, "Spring Mixer")
    with app.app_context():
        ev = db.session.get(Event, event.id)
        attendances = {}
        for name, headline, company in PEOPLE:
            user = make_user(app, name=name, headline=headline, company=company, password=None)
            attendances[name] = events.add_attendee(ev, db.session.get(User, user.id))
        db.session.commit()
        urls = {name: f"{BASE_URL}/b/{a.badge_token}" for name, a in attendances.items()}
        ids = {name: a.id for name, a in attendances.items()}
    return Sheet(event.slug, organizer, urls, ids)


def decode_pages(pdf: bytes, scale: float = 1.5) -> list[list[str]]:
    """The text of every QR code on each page, read from a ~108 dpi greyscale rendering."""
    document = pdfium.PdfDocument(pdf)
    pages = []
    for page in document:
        image = page.render(scale=scale, grayscale=True).to_pil()
        pages.append([code.text for code in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)])
    return pages


def page_texts(pdf: bytes) -> list[str]:
    return [page.get_textpage().get_text_bounded() for page in pdfium.PdfDocument(pdf)]


def squeeze(text: str) -> str:
    """Text without line breaks or spaces (pdfium reports a hyphen ending a line as \x02)."""
    return re.sub(r"\s+", "", text.replace("\x02", "-"))


def get_pdf(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    return response.data


def printed_at(app) -> dict[int, object]:
    with app.app_context():
        return dict(db.session.execute(select(Attendance.id, Attendance.badge_printed_at)).all())


def plain_badges(count: int, names=("Ana Attendee", "Анастасия Ковальчук")) -> list[badge_pdf.Badge]:
    return [badge_pdf.Badge(names[i % len(names)], f"{BASE_URL}/b/token-{i:05d}-abcdefghijklmnopqrstuvwxyz",
                            "7KQ2MX", "Spring Mixer", "Product designer", "Acme") for i in range(count)]


# --- every badge decodes, on every paper and layout -------------------------------------------


@pytest.mark.parametrize("paper", ["a4", "letter"])
@pytest.mark.parametrize("layout", [1, 4, 8])
def test_every_badge_decodes_to_exactly_its_url(app, client, auth, sheet, paper, layout):
    auth.as_user(sheet.organizer)
    pdf = get_pdf(client, f"/events/{sheet.slug}/badges.pdf?paper={paper}&layout={layout}")

    pages = decode_pages(pdf)
    assert [len(codes) for codes in pages] == PAGES[layout]
    decoded = [url for codes in pages for url in codes]
    assert sorted(decoded) == sorted(sheet.urls.values())
    for page in pdfium.PdfDocument(pdf):
        assert page.get_size() == pytest.approx(PAPER_POINTS[paper], abs=0.01)


@pytest.mark.parametrize(("count", "layout", "pages"), [(8, 8, [8]), (9, 8, [8, 1]), (4, 4, [4]), (5, 4, [4, 1])])
def test_the_last_page_holds_what_is_left_and_no_blank_page_follows(count, layout, pages):
    items = plain_badges(count)
    decoded = decode_pages(badge_pdf.render_sheet(items, paper="a4", layout=layout))
    assert [len(codes) for codes in decoded] == pages
    # Cells fill in list order, page after page.
    for number, codes in enumerate(decoded):
        assert set(codes) == {b.url for b in items[number * layout:(number + 1) * layout]}


# --- names: any script, drawn as text, shrunk to fit -------------------------------------------


@pytest.mark.parametrize("layout", [1, 4, 8])
def test_names_in_every_script_are_drawn_as_literal_text(layout):
    items = [badge_pdf.Badge(name, f"{BASE_URL}/b/t{i:030d}", "ABC234", "Spring Mixer", headline, company)
             for i, (name, headline, company) in enumerate(PEOPLE)]
    pdf = badge_pdf.render_sheet(items, paper="a4", layout=layout)
    text = squeeze("".join(page_texts(pdf)))

    for name in ("Ana Attendee", LONG, "Анастасия Ковальчук", "Αλέξανδρος Παπαδόπουλος", "王小明", "山田 花子"):
        assert squeeze(name) in text
    # Markup is shown as typed, not interpreted; PDF string delimiters are escaped.
    assert HTML_LIKE in text and squeeze("O'Brien (Jr.) \\ <i>") in text
    # A name too long for any size ends in an ellipsis instead of running off the badge.
    assert squeeze(ENDLESS)[:20] in text and squeeze(ENDLESS) not in text and "…" in text
    # DejaVu (embedded, subset) for Latin, Greek, Cyrillic; reportlab's CID fonts for CJK.
    assert pdf.count(b"/FontFile2") >= 1
    for cid_font in (b"/STSong-Light", b"/HeiseiKakuGo-W5"):
        assert cid_font in pdf


def test_each_script_goes_to_a_font_that_has_its_glyphs():
    dejavu = badge_text.BOLD
    for name in ("Анастасия Ковальчук", "Αλέξανδρος Παπαδόπουλος", "Zoë Østergaard-Łukasiewicz", HTML_LIKE):
        assert badge_text.text_runs(name) == [(dejavu, name)]
    assert badge_text.text_runs("王小明") == [("STSong-Light", "王小明")]
    # Kanji alone could be Chinese; kana anywhere on the badge makes it Japanese.
    assert badge_text.text_runs("山田 花子") == [("STSong-Light", "山田 花子")]
    japanese = badge_text.cjk_font_for("山田 花子", "エンジニア")
    assert badge_text.text_runs("山田 花子", cjk=japanese) == [("HeiseiKakuGo-W5", "山田 花子")]
    assert badge_text.text_runs("김민준") == [("HYGothic-Medium", "김민준")]
    assert badge_text.text_runs("Wang 王小明") == [(dejavu, "Wang "), ("STSong-Light", "王小明")]


@pytest.mark.parametrize("paper", ["a4", "letter"])
@pytest.mark.parametrize("layout", [1, 4, 8])
def test_every_character_stays_inside_its_badge(paper, layout):
    items = [badge_pdf.Badge(name, f"{BASE_URL}/b/t{i:030d}", "ABC234", "Spring Mixer " * 8, headline, company)
             for i, (name, headline, company) in enumerate(PEOPLE) if name in (LONG, ENDLESS, "Анастасия Ковальчук")]
    pdf = badge_pdf.render_sheet(items, paper=paper, layout=layout)
    page_w, page_h = PAPER_POINTS[paper]
    cols, rows = GRID[layout]
    cell_w, cell_h = page_w / cols, page_h / rows
    margin = 4.0  # printers don't print to the edge; cutting isn't exact
    for page in pdfium.PdfDocument(pdf):
        text = page.get_textpage()
        for i in range(text.count_chars()):
            if text.get_text_range(i, 1).isspace():
                continue
            left, bottom, right, top = text.get_charbox(i)
            col, row = int(left // cell_w), int(bottom // cell_h)
            assert col * cell_w + margin <= left and right <= (col + 1) * cell_w - margin
            assert row * cell_h + margin <= bottom and top <= (row + 1) * cell_h - margin


@pytest.mark.parametrize("layout", [1, 4, 8])
def test_a_long_name_shrinks_to_a_size_that_fits(layout):
    cell = badge_pdf.cells("a4", layout)[2]
    x0, x1, _, _ = cell.text_area
    lines, size = badge_text.fit_text(LONG, x1 - x0, 34 * cell.u, 9 * cell.u, max_lines=4)
    assert " ".join(lines).replace("- ", "-") == LONG  # wrapped, nothing lost
    assert all(stringWidth(line, badge_text.BOLD, size) <= x1 - x0 for line in lines)
    assert size < 34 * cell.u

    lines, size = badge_text.fit_text(ENDLESS, x1 - x0, 34 * cell.u, 9 * cell.u, max_lines=2)
    assert size == 9 * cell.u and lines[-1].endswith("…")
    assert all(stringWidth(line, badge_text.BOLD, size) <= x1 - x0 for line in lines)


def test_a_qr_path_fills_exactly_the_dark_modules():
    modules = badge_pdf.qr_modules(f"{BASE_URL}/b/{'x' * 32}")
    painted = [[False] * len(modules) for _ in modules]
    rects = re.findall(r"(\d+) (\d+) (\d+) (\d+) re", badge_pdf.qr_path(modules))
    for x, y, w, h in (map(int, rect) for rect in rects):
        for row in range(y, y + h):
            for col in range(x, x + w):
                assert not painted[row][col], "rectangles overlap"
                painted[row][col] = True
    assert painted == modules
    assert len(rects) < sum(map(sum, modules)) / 2  # merged runs, not one square per module


def test_badges_stay_small_and_share_what_they_can():
    few, many = (badge_pdf.render_sheet(plain_badges(n), paper="a4", layout=8) for n in (8, 160))
    assert len(many) / 160 <= 5 * 1024
    # Fonts are embedded once per document, not per badge; the shared band is one form.
    assert many.count(b"/FontFile2") == few.count(b"/FontFile2")
    assert many.count(b"/Subtype /Form") == 1
    assert b"/Subtype /Image" not in many  # codes are vector paths


# --- only unprinted, and marking printed -----------------------------------------------------


def test_only_unprinted_leaves_printed_badges_out_and_downloading_marks_nothing(app, client, auth, sheet):
    printed = [sheet.ids[name] for name in ("Ana Attendee", LONG, "王小明")]
    with app.app_context():
        for ident in printed:
            db.session.get(Attendance, ident).badge_printed_at = utcnow()
        db.session.commit()
    before = printed_at(app)
    auth.as_user(sheet.organizer)

    pdf = get_pdf(client, f"/events/{sheet.slug}/badges.pdf?paper=a4&layout=4&only=unprinted")
    expected = {url for name, url in sheet.urls.items() if sheet.ids[name] not in printed}
    decoded = [url for codes in decode_pages(pdf) for url in codes]
    assert sorted(decoded) == sorted(expected) and len(decoded) == 6

    get_pdf(client, f"/events/{sheet.slug}/badges.pdf")
    get_pdf(client, f"/events/{sheet.slug}/attendees/{sheet.ids['Bo']}/badge.pdf")
    assert printed_at(app) == before


def test_a_sheet_with_nothing_left_to_print_is_one_page_saying_so(app, client, auth, sheet):
    auth.as_user(sheet.organizer)
    client.post(f"/events/{sheet.slug}/badges/printed")
    pdf = get_pdf(client, f"/events/{sheet.slug}/badges.pdf?only=unprinted")
    assert decode_pages(pdf) == [[]]
    assert "No badges to print" in page_texts(pdf)[0]


def test_marking_printed_is_a_post_with_a_csrf_token(app, client, auth, sheet, csrf):
    auth.as_user(sheet.organizer)
    page = client.get(f"/events/{sheet.slug}/badges").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    selection = re.search(r'id="badges" name="badges" type="hidden" value="([^"]*)"', page).group(1)
    url = f"/events/{sheet.slug}/badges/printed"

    assert client.get(url).status_code == 405
    assert client.post(url, data={"badges": selection}).status_code == 403
    assert all(at is None for at in printed_at(app).values())

    response = client.post(url, data={"csrf_token": token, "badges": selection})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/events/{sheet.slug}/badges")
    assert all(at is not None for at in printed_at(app).values())
    assert "Marked 9 badges as printed." in client.get(f"/events/{sheet.slug}/badges").get_data(as_text=True)


def test_marking_printed_leaves_out_badges_added_or_replaced_since_the_page_loaded(app, client, auth, sheet):
    auth.as_user(sheet.organizer)
    page = client.get(f"/events/{sheet.slug}/badges").get_data(as_text=True)
    assert re.search(r'id="unprinted-count">\s*9\s*<', page)
    selection = re.search(r'name="badges" type="hidden" value="([^"]*)"', page).group(1)
    latecomer = make_user(app, name="Late Comer", password=None)
    with app.app_context():
        event = events.get_by_ref(sheet.slug)
        late = events.add_attendee(event, db.session.get(User, latecomer.id)).id
        badges.rotate(db.session.get(Attendance, sheet.ids["Bo"]))  # lost badge: new code and QR
        db.session.commit()

    assert client.post(f"/events/{sheet.slug}/badges/printed", data={"badges": selection}).status_code == 302

    states = printed_at(app)
    assert states[late] is None and states[sheet.ids["Bo"]] is None
    assert sum(at is not None for at in states.values()) == 8
    page = client.get(f"/events/{sheet.slug}/badges").get_data(as_text=True)
    assert re.search(r'id="unprinted-count">\s*2\s*<', page)


def test_a_malformed_list_of_badges_to_mark_is_refused(app, client, auth, sheet):
    auth.as_user(sheet.organizer)
    response = client.post(f"/events/{sheet.slug}/badges/printed", data={"badges": "1:ABC,drop table"})
    assert response.status_code == 400
    assert "malformed" in response.get_data(as_text=True)
    assert all(at is None for at in printed_at(app).values())


# --- query values and reprints --------------------------------------------------------------


@pytest.mark.parametrize(("query", "message"), [
    ("paper=a3", "Paper must be a4 or letter."),
    ("layout=3", "Layout must be 1, 4 or 8 badges per page."),
    ("layout=four", "Layout must be 1, 4 or 8 badges per page."),
    ("only=printed", "&#39;only&#39; may be left out or set to unprinted."),
])
def test_a_bad_option_gets_a_clear_400_page(client, auth, sheet, query, message):
    auth.as_user(sheet.organizer)
    for url in (f"/events/{sheet.slug}/badges.pdf?{query}",
                f"/events/{sheet.slug}/attendees/{sheet.ids['Bo']}/badge.pdf?{query}"):
        if "only=" in query and "attendees" in url:
            continue  # a reprint has no "only"
        response = client.get(url)
        assert response.status_code == 400 and response.mimetype == "text/html"
        assert message in response.get_data(as_text=True)


def test_a_reprint_holds_just_that_attendees_badge(client, auth, sheet):
    auth.as_user(sheet.organizer)
    pdf = get_pdf(client, f"/events/{sheet.slug}/attendees/{sheet.ids[LONG]}/badge.pdf?paper=letter&layout=8")
    assert decode_pages(pdf) == [[sheet.urls[LONG]]]
    assert squeeze(LONG) in squeeze(page_texts(pdf)[0])
