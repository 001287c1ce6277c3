"""The pages-at-scale benchmark at a tiny size: every page answers (in process
and from a real gunicorn worker over HTTP), statement counts are the same at two
sizes, and every figure and target is reported. Never a timing assertion.

On PostgreSQL when the suite is (``TEST_DATABASE_URL``): the benchmark makes its
own fresh database on that server.
"""

from __future__ import annotations

import re

import pytest

from bench import pages as bench
from bench.pages_data import pages
from tests.conftest import bench_smoke

TARGETED = [label for label, _who, _path, targeted in pages(bench.Site("1:1", "e", "2:1", 1), "tiny") if targeted]
EVERY = [label for label, _who, _path, _targeted in pages(bench.Site("1:1", "e", "2:1", 1), "tiny")]


@pytest.fixture(scope="module")
def result():
    return bench_smoke(lambda kind: bench.run("tiny", kind))


def test_every_page_answered_a_real_web_worker_over_http(result):
    answered, asked = re.fullmatch(r"(\d+) of (\d+)", result.figures["HTTP requests answered 200"]).groups()
    assert answered == asked and int(asked) == len(EVERY) * bench.HTTP_REQUESTS["tiny"]


def test_statement_counts_are_the_same_at_two_sizes_for_the_targeted_pages(result):
    for label in TARGETED:
        small, full = re.fullmatch(r"(\d+) / (\d+)", result.figures[f"{label}: statements small / full"]).groups()
        assert small == full, label
        assert int(full) > 0
    growth = [t for t in result.targets if t.what.endswith("statements growth")]
    assert len(growth) == len(TARGETED) and all(t.met for t in growth)


def test_every_page_has_its_time_and_the_targets_their_limits(result):
    for label in EVERY[1:]:
        assert float(result.figures[f"{label}: median ms"].replace(",", "")) > 0
    ratios = {t.what: t for t in result.targets if t.what.endswith("/ trivial page")}
    assert set(ratios) == {f"{label} / trivial page" for label in TARGETED}
    assert all(t.limit == 5.0 and t.measured > 0 for t in ratios.values())
    memory = next(t for t in result.targets if t.what == "web worker peak RSS, MB")
    assert memory.limit == 150.0
    at_start = float(result.figures["web worker RSS after start, MB"].replace(",", ""))  # printed to 3 places
    assert memory.measured >= at_start - 0.001 and at_start > 0
    assert float(result.figures["dashboard, first view (nothing kept): median ms"].replace(",", "")) > 0
