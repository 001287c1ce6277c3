"""The scan-burst benchmark at a tiny size: the real server (gunicorn with
production settings) under wrk for about a second per endpoint. Structure and
counts, never time: every scan answered 2xx is exactly one Scan row, every
request got an answer, and the report has both endpoints' figures.

On PostgreSQL when the suite is (``TEST_DATABASE_URL``): the benchmark makes
its own fresh database on that server.
"""

from __future__ import annotations

import pytest

from bench import scan_burst
from tests.conftest import bench_smoke

ENDPOINTS = ("baseline (one-row insert)", "scans")


@pytest.fixture(scope="module")
def result():
    return bench_smoke(lambda kind: scan_burst.run("tiny", kind))


def targets(result) -> dict:
    return {target.what: target for target in result.targets}


def test_every_scan_answered_2xx_is_exactly_one_scan_row(result):
    added = int(result.figures["Scan rows added"].replace(",", ""))
    answered = int(result.figures["2xx answers to scans (in-process ones included)"].replace(",", ""))
    assert added == answered > 2  # two in-process scans, and the burst's
    assert targets(result)["|Scan rows added - 2xx scan answers|"].measured == 0


def test_every_request_of_the_burst_got_a_2xx_answer(result):
    assert targets(result)["requests left without an answer"].measured == 0
    assert targets(result)["answers that weren't 2xx (429s included)"].measured == 0
    for endpoint in ENDPOINTS:
        assert int(result.figures[f"{endpoint}: requests answered"].replace(",", "")) > 0
        assert result.figures[f"{endpoint}: non-2xx answers"] == "none"


def test_the_report_has_both_endpoints_figures_and_the_ratio_targets(result):
    for endpoint in ENDPOINTS:
        assert float(result.figures[f"{endpoint}: throughput, 2xx/s"].replace(",", "")) > 0
        p50, p99 = (float(ms) for ms in result.figures[f"{endpoint}: p50 / p99 latency, ms"].split(" / "))
        assert 0 < p50 <= p99
    found = targets(result)
    throughput, tail = found["scan throughput / baseline throughput"], found["scan p99 / baseline p99"]
    assert (throughput.limit, throughput.higher_is_better, tail.limit) == (0.5, True, 2.0)
    assert throughput.measured > 0 and tail.measured > 0


def test_a_scan_takes_a_handful_of_statements_more_than_the_one_row_baseline(result):
    scan = int(result.figures["SQL statements per scan request (a first meeting)"])
    baseline = int(result.figures["SQL statements per baseline request"])
    # Authentication, the badge with everything the rules need, the scan, both contacts.
    assert baseline < scan <= baseline + 3
