"""The recap-run benchmark at a tiny size: structure and counts, never time.

``send-due`` runs as its own process against a real SMTP sink; every attendee
who met someone gets exactly one recap there. Composing the recaps costs a
fixed number of statements per batch of recipients, so twice the attendees
stays within the bound the batches allow (one query per recipient would not).

On PostgreSQL when the suite is (``TEST_DATABASE_URL``): the benchmark makes
its own fresh databases on that server.
"""

from __future__ import annotations

import math

import pytest

from bench import recap_run as bench
from bench.common import report
from tests.conftest import bench_smoke


@pytest.fixture(scope="module")
def measured():
    result, delivered, counts = bench_smoke(lambda kind: bench.measure("tiny", kind))
    report(result, save=False)
    return result, delivered, counts


def test_send_due_delivers_exactly_one_recap_to_each_attendee_who_met_someone(measured):
    result, delivered, _ = measured
    attendees, _ = bench.SIZES["tiny"]
    assert 0 < len(delivered["expected"]) <= attendees
    assert sorted(delivered["received"]) == delivered["expected"]
    assert set(delivered["received"].values()) == {1}
    targets = {target.what: target for target in result.targets}
    assert targets["every recipient gets exactly one recap (misses)"].met
    # Time and memory are measured and reported (judged only at full size, on a quiet machine).
    assert targets["send-due time / baseline time (all rounds)"].measured > 0
    assert len(delivered["rounds"]) == bench.ROUNDS["tiny"] > 1  # the event was composed and sent again
    assert all(sorted(got) == delivered["expected"] and set(got.values()) == {1} for got in delivered["rounds"])
    assert targets["worker peak RSS, largest process (MB)"].measured > 0
    assert {figure for figure in result.figures if "peak RSS" in figure} >= {"send-due peak RSS (MB)"}


def test_compose_statements_grow_with_batches_not_with_recipients(measured, capsys):
    _, _, (small, large) = measured
    print({key: (small[key], large[key]) for key in ("recipients", "compose", "deliver")})
    assert large["recipients"] > small["recipients"] > 0
    for run in (small, large):
        batches = math.ceil(run["recipients"] / run["recap_batch"])
        assert run["recap_batches"] == batches > 1  # the tiny size works through several batches
        assert run["compose"] <= bench.COMPOSE_FIXED + bench.COMPOSE_PER_BATCH * batches
        assert run["compose"] < run["recipients"]  # not one query (or more) per recipient
    extra = large["compose"] - small["compose"]
    assert extra <= bench.COMPOSE_PER_BATCH * (large["recap_batches"] - small["recap_batches"])


def test_delivery_writes_one_durable_outcome_per_message_and_sends_every_recap(measured):
    _, _, runs = measured
    for run in runs:
        assert run["sent"] == run["received"] == run["recipients"]
        bound = (bench.DELIVERY_FIXED + bench.DELIVERY_PER_BATCH * run["outbox_batches"]
                 + bench.DELIVERY_PER_MESSAGE * run["sent"])
        # At least one write per message (its outcome, committed before the next is sent) ...
        assert run["sent"] < run["deliver"] <= bound
