"""The phone-weight benchmark in a real browser, at its real size (it is cheap):
the first load of /scan comes compressed, the decoder it leaves out is the only
big download, and a reload without any network is served by the service worker.
Sizes are asserted, never times.
"""

from __future__ import annotations

import pytest

from bench import phone_weight as bench
from tests.factories import make_user


@pytest.fixture
def measured(app, live_server, browser):
    user = make_user(app, "pat@example.com", name="Pat Phone")
    return bench.measure(browser, live_server, app, user)


@pytest.mark.browser
def test_the_first_load_of_the_scanner_is_light_and_compressed(measured):
    result, first, _offline = measured
    counted = [d for d in first if d.counted]
    # The page, its styles and scripts, and the service worker's own script and copy of the page.
    paths = {d.path for d in counted}
    assert {"/scan", "/static/vendor/pico/pico.min.css", "/static/css/app.css", "/static/js/scanner.js",
            "/static/js/scan-queue.js", "/sw.js"} <= paths
    weight = next(t for t in result.targets if t.what == "first load HTML+CSS+JS transferred, KB")
    assert weight.measured == pytest.approx(sum(d.transferred for d in counted) / 1024)
    assert weight.limit == 100 and weight.met
    for d in counted:
        if d.raw >= 1024:  # the server compressed everything worth compressing
            assert d.encoding == "gzip" and d.transferred < d.raw, d.path


@pytest.mark.browser
def test_the_left_out_decoder_is_the_only_big_download(measured):
    _result, first, _offline = measured
    big = {d.path for d in first if d.transferred > 50 * 1024}
    assert big <= {"/static/vendor/zxing-wasm/zxing_reader.wasm"}
    assert all(d.kind == "wasm" for d in first if d.path.endswith(".wasm"))


@pytest.mark.browser
def test_a_reload_without_network_is_served_by_the_service_worker(measured):
    result, _first, offline = measured
    assert offline["from_worker"] and offline["scanner_shown"]
    assert offline["not_from_worker"] == []
    served = next(t for t in result.targets if t.what.startswith("offline reload"))
    assert served.met
