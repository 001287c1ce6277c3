"""Badge sheets: a 5,000-badge PDF against encoding the same 5,000 QR codes with ``qrcode``.

Target: the whole sheet (database load, layout, text, vector QR codes, fonts
embedded once) in at most 1.5 times what ``qrcode`` alone takes to compute
the same codes' module matrices, and at most 5 KB per badge. For scale, a
widely used ticketing system's badge plugin needs about 117 ms and 52 KB per
badge. The sheet is built the way the view builds it (``badge_sheets.sheet_pdf``)
with the QR cache emptied first; a second, cached request is printed for
information. Sampled pages are rendered and their codes decoded, so speed
cannot hide a sheet that no phone reads.

    .venv/bin/python -m bench.badge_sheets --size full --database both
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pypdfium2 as pdfium
import qrcode
import zxingcpp
from sqlalchemy import update

from bench.common import Result, arguments, build_event, databases, fresh_database, make_app, report, stopwatch

SIZES = {"tiny": 40, "full": 5000}
LAYOUTS = (4, 8)
PAPER = "a4"
MAX_RATIO, MAX_KB_PER_BADGE = 1.5, 5.0
SAMPLE_PAGES = 4  # first, last and evenly between: each is rendered and every code on it decoded

# People as they type themselves: accents, Cyrillic, Greek, a few CJK, some long.
LATIN_FIRST = ["Ana", "João", "Zoë", "François", "Søren", "Małgorzata", "Ingrid", "Mehmet", "Priya", "Chidi",
               "Lucía", "Jürgen", "Aoife", "Siobhán", "Björn", "Émilie", "Tomás", "Nuno", "Dragoș", "Kateřina"]
LATIN_LAST = ["Silva", "Østergaard", "Łukasiewicz", "Müller", "O'Brien", "García Márquez", "Nakamura", "Okafor",
              "Dubois-Lefèvre", "Van der Berg", "Papp", "Kovačević", "Rossi", "Ferreira da Costa", "Nguyễn",
              "von Hohenzollern-Sigmaringen", "Smith", "Åkesson", "Çelik", "Novák"]
CYRILLIC = ["Анастасия Ковальчук", "Дмитрий Иванов", "Ольга Смирнова", "Сергей Петров", "Наталья Волкова"]
GREEK = ["Αλέξανδρος Παπαδόπουλος", "Ελένη Γεωργίου", "Νίκος Δημητρίου", "Μαρία Κωνσταντίνου"]
CJK = ["王小明", "山田 花子", "김민준", "李华", "佐藤 健"]
HEADLINES = ["Product designer", "Head of Partnerships, Europe, Middle East and Africa", "Инженер-программист",
             "Σύμβουλος", "Founder", "Data engineer", "Community manager", "", "Chief Financial Officer",
             "Développeuse full-stack", "エンジニア", "Investor"]
COMPANIES = ["Acme", "Internationale Handels GmbH", "Яндекс", "Ελληνικά Πετρέλαια", "", "Øresund Labs",
             "株式会社サンプル", "Café São Bento", "Northwind Traders"]


@dataclass
class Sheet:
    layout: int
    pdf: bytes
    seconds: float
    urls: list[str]  # badge URLs in print order


def people(count: int, seed: int = 11) -> list[dict[str, str]]:
    """``count`` names, headlines and companies: mostly Latin (many accented), some
    Cyrillic and Greek, one in fifty CJK."""
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        pick = rng.random()
        if pick < 0.02:
            name = rng.choice(CJK)
        elif pick < 0.08:
            name = rng.choice(GREEK)
        elif pick < 0.16:
            name = rng.choice(CYRILLIC)
        else:
            name = f"{rng.choice(LATIN_FIRST)} {rng.choice(LATIN_LAST)}"
        rows.append({"name": name, "headline": HEADLINES[n % len(HEADLINES)],
                     "company": COMPANIES[(n * 7) % len(COMPANIES)]})
    return rows


def qrcode_only(urls: list[str]) -> float:
    """Seconds ``qrcode`` takes to compute the module matrix of every URL: what
    the sheet used to spend on its codes, with nothing drawn."""
    with stopwatch() as elapsed:
        for url in urls:
            code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
            code.add_data(url)
            code.make(fit=True)
    return elapsed()


def decode_pages(pdf: bytes, numbers: list[int]) -> list[list[str]]:
    """The text of every QR code on the given pages, from a ~108 dpi greyscale rendering."""
    document = pdfium.PdfDocument(pdf)
    found = []
    for number in numbers:
        image = document[number].render(scale=1.5, grayscale=True).to_pil()
        found.append([code.text for code in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)])
    return found


def sample(pages: int) -> list[int]:
    return sorted({round(i * (pages - 1) / max(SAMPLE_PAGES - 1, 1)) for i in range(SAMPLE_PAGES)})


def sheets_on(kind: str, attendees: int) -> tuple[Result, dict[int, Sheet]]:
    """Build the event on a fresh ``kind`` database, measure, check; the figures and each layout's sheet."""
    from webapp.extensions import db
    from webapp.models import Event, User
    from webapp.services import badge_pdf, badge_sheets

    result = Result("badge_sheets", "tiny" if attendees <= SIZES["tiny"] else "full", kind)
    sheets: dict[int, Sheet] = {}
    with fresh_database(kind) as url:
        app = make_app(url)
        with app.app_context():
            world = build_event(db.session, attendees, contacts=False)
            db.session.execute(update(User), [{"id": user_id, **person} for user_id, person
                                              in zip(world.user_ids, people(attendees), strict=True)])
            db.session.commit()
            event = db.session.get(Event, world.event_id)
            urls = [badge.url for badge in badge_sheets.sheet_badges(event)]
            db.session.remove()
        baseline = qrcode_only(urls)
        result.figure("badges", attendees)
        result.figure("qrcode only: encode every badge URL (s)", baseline)
        for layout in LAYOUTS:
            badge_pdf.clear_qr_cache()  # the first request for a sheet: nothing encoded yet
            with app.app_context(), stopwatch() as elapsed:
                event = db.session.get(Event, world.event_id)
                pdf = badge_sheets.sheet_pdf(event, badge_pdf.SheetOptions(PAPER, layout))
            sheets[layout] = Sheet(layout, pdf, elapsed(), urls)
            with app.app_context():
                db.session.remove()
        with app.app_context(), stopwatch() as again:  # the QR drawings of layout 8 are cached now
            badge_sheets.sheet_pdf(db.session.get(Event, world.event_id), badge_pdf.SheetOptions(PAPER, 4))
            db.session.remove()
    for layout, sheet in sheets.items():
        pages = len(pdfium.PdfDocument(sheet.pdf))
        numbers = sample(pages)
        decoded = decode_pages(sheet.pdf, numbers)
        expected = [sorted(urls[n * layout:(n + 1) * layout]) for n in numbers]
        right = sum(len(set(codes) & set(want)) for codes, want in zip(decoded, expected, strict=True))
        per_badge_kb = len(sheet.pdf) / attendees / 1024
        result.figure(f"layout {layout}: sheet PDF (s)", sheet.seconds)
        result.figure(f"layout {layout}: ms per badge (plugin for scale: ~117)", sheet.seconds * 1000 / attendees)
        result.figure(f"layout {layout}: PDF size (bytes)", len(sheet.pdf))
        result.figure(f"layout {layout}: pages", pages)
        result.figure(f"layout {layout}: sampled codes decoded right",
                      f"{right} of {sum(map(len, expected))} (pages {', '.join(str(n + 1) for n in numbers)})")
        result.target(f"layout {layout}: PDF time / qrcode only", sheet.seconds / baseline, MAX_RATIO)
        result.target(f"layout {layout}: KB per badge", per_badge_kb, MAX_KB_PER_BADGE)
        result.target(f"layout {layout}: sampled codes read right", right, sum(map(len, expected)),
                      higher_is_better=True)
    result.figure("layout 4 again, QR drawings cached (s)", again())
    return result, sheets


def run(size: str = "tiny", database: str = "sqlite") -> Result:
    return report(sheets_on(database, SIZES[size])[0])


def main() -> None:
    options = arguments(__doc__.splitlines()[0])
    results = [run(options.size, kind) for kind in databases(options.database)]
    raise SystemExit(0 if all(result.met for result in results) else 1)


if __name__ == "__main__":
    main()
