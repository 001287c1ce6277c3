"""The badge-sheet benchmark at a tiny size (structure and counts, never time), and the
fast QR path it measures: cached drawings change nothing, the phone's SVG reads the same.

On PostgreSQL when the suite is (``TEST_DATABASE_URL``): the benchmark makes its own
fresh database on that server.
"""

from __future__ import annotations

import re

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image, ImageDraw

from bench import badge_sheets as bench
from tests.conftest import BASE_URL, bench_smoke
from webapp.services import badge_pdf, badges

ATTENDEES = 40


@pytest.fixture(scope="module")
def measured():
    return bench_smoke(lambda kind: bench.sheets_on(kind, ATTENDEES))


def test_the_benchmark_reports_time_size_and_pages_against_its_targets(measured):
    result, sheets = measured
    assert result.figures["badges"] == str(ATTENDEES)
    assert sorted(sheets) == [4, 8]
    targets = {target.what: target for target in result.targets}
    for layout, sheet in sheets.items():
        ratio = targets[f"layout {layout}: PDF time / qrcode only"]
        assert ratio.limit == 1.5 and ratio.measured > 0
        size = targets[f"layout {layout}: KB per badge"]
        assert size.limit == 5.0 and size.measured == pytest.approx(len(sheet.pdf) / ATTENDEES / 1024)
        assert result.figures[f"layout {layout}: pages"] == str(-(-ATTENDEES // layout))
        # Every code on the sampled pages read back as its own badge's URL.
        read = targets[f"layout {layout}: sampled codes read right"]
        assert read.met and read.measured >= 2 * layout


@pytest.mark.parametrize("layout", [4, 8])
def test_each_sheet_parses_and_its_first_page_decodes_to_the_first_badges(measured, layout):
    sheet = measured[1][layout]
    document = pdfium.PdfDocument(sheet.pdf)
    assert len(document) == -(-ATTENDEES // layout)

    image = document[0].render(scale=1.5, grayscale=True).to_pil()
    codes = {code.text for code in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)}
    assert codes == set(sheet.urls[:layout])
    assert all(url.startswith("http://127.0.0.1:5000/b/") for url in sheet.urls)
    assert len(set(sheet.urls)) == ATTENDEES


def test_a_sheet_drawn_from_cached_codes_is_the_same_pdf():
    items = [badge_pdf.Badge(f"Zoë Østergaard {i}", f"{BASE_URL}/b/cache-{i:03d}-abcdefghijklmnopqrstuvwxyz", "7KQ2MX",
                             "Spring Mixer") for i in range(9)]
    badge_pdf.clear_qr_cache()
    first = badge_pdf.render_sheet(items, layout=8)
    again = badge_pdf.render_sheet(items, layout=8)
    assert first == again


def test_the_phone_badge_svg_decodes_to_exactly_the_badge_url():
    url = f"{BASE_URL}/b/{'Ab3_-x' * 6}"
    svg = str(badges.qr_svg(url, "QR code of <Ana>'s badge"))
    assert "<title>QR code of &lt;Ana&gt;&#39;s badge</title>" in svg
    assert 'class="qr"' in svg and "width=" not in svg.split(">", 1)[0].replace('viewBox="', "")

    side = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    scale = 8
    image = Image.new("L", (side * scale, side * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w, h in re.findall(r"M(\d+) (\d+)h(\d+)v(\d+)h-\3z", svg):
        x, y, w, h = int(x), int(y), int(w), int(h)
        draw.rectangle((x * scale, y * scale, (x + w) * scale - 1, (y + h) * scale - 1), fill=0)
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [code.text for code in codes] == [url]
    assert codes[0].ec_level == "M"
    # The same symbol as on the printed badge, quiet zone included.
    assert side == len(badge_pdf.qr_modules(url)) + 2 * badges.QUIET
