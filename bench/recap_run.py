"""Recap run: ``send-due`` composes and delivers every recap of a large event
to a local SMTP sink, against sending as many pre-rendered messages of the
same sizes to the same sink over one connection.

Targets: the run takes at most 3 times the baseline; the worker's peak RSS is ≤ 200 MB;
composing and recording the recaps costs ≤ c + k·⌈N/batch⌉ SQL statements
(counted in-process at two sizes, ten times apart). Delivery records each message's
outcome durably before sending the next (a killed worker resends at most the
one in flight), so its count grows by one write per message: printed as is.

    .venv/bin/python -m bench.recap_run --size full --database both
"""

from __future__ import annotations

import contextlib
import math
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import delete, select, text, update

from bench import common
from bench.common import Result

SIZES = {"tiny": (40, 200), "full": (10_000, 100_000)}  # attendees, scans
ROUNDS = {"tiny": 2, "full": 3}  # send-due and the baseline, alternately
COUNT_SIZES = {"tiny": ((40, 200), (80, 400)), "full": ((1_000, 10_000), (10_000, 100_000))}
# Small batches at the tiny size, so two tiny runs differ in their number of batches.
COUNT_BATCHES = {"tiny": (20, 10), "full": (None, None)}  # (recap batch, outbox batch); None: the defaults
TIME_RATIO_LIMIT, RSS_LIMIT_MB = 3.0, 200.0
# What the code's structure allows composing + recording: a few statements per
# run (find the event due, claim it, list its recipients, mark it queued) and per
# batch of recipients, read in one transaction (the owners, the event again, their
# contacts with the people in them, their tags) and recorded in another (suppressed
# addresses, one insert, the lease renewed), plus SQLite's two BEGINs.
COMPOSE_FIXED, COMPOSE_PER_BATCH = 8, 9
# Delivery: per batch a claim and a read; per message one outcome UPDATE (plus
# SQLite's BEGIN IMMEDIATE), committed before the next message is sent.
DELIVERY_FIXED, DELIVERY_PER_BATCH, DELIVERY_PER_MESSAGE = 4, 4, 2
SENDER = "MeetLoop <no-reply@meetloop.local>"
BASE_URL = "http://127.0.0.1:5000"


# --- The SMTP sink: its own process, so it never competes with a client for one GIL ---------------


def serve_sink(log_path: str) -> None:
    """Accept every message, append "recipients<TAB>bytes" per message to
    ``log_path``, print the port, and serve until terminated."""
    import socket

    from aiosmtpd.controller import Controller

    log = open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (lives as long as the process)

    class Counting:
        async def handle_DATA(self, server, session, envelope):
            log.write(f"{' '.join(envelope.rcpt_tos)}\t{len(envelope.content)}\n")
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    Controller(Counting(), hostname="127.0.0.1", port=port, data_size_limit=0).start()
    print(port, flush=True)
    while True:
        time.sleep(3600)


class Sink:
    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log

    def wait_for(self, count: int, timeout: float = 30) -> list[tuple[str, int]]:
        """The (recipients, bytes) of the messages received, once there are ``count``
        (a reply can reach the client just before its log line is written)."""
        deadline = time.monotonic() + timeout
        while True:
            rows = [(r, int(n)) for r, n in (line.split("\t") for line in self.log.read_text("utf-8").splitlines())]
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)


@contextlib.contextmanager
def smtp_sink(folder: str):
    log = Path(folder) / "sink.log"
    log.touch()
    process = subprocess.Popen(  # noqa: S603 - our own fixed command line
        [sys.executable, "-c", "import sys; from bench.recap_run import serve_sink; serve_sink(sys.argv[1])", str(log)],
        cwd=common.ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        yield Sink(int(process.stdout.readline()), log)
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- The real path, `flask send-due` in its own process, and the baseline ---------------------------


def send_due(database_url: str, sink: Sink, folder: str) -> tuple[float, dict[str, float], str]:
    """Run ``flask --app wsgi send-due``; return (seconds, peak RSS in MB by
    process — send-due and the delivery process it starts — and its output)."""
    env = {**os.environ, "DATABASE_URL": database_url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink.port),
           "SECRET_KEY": "bench-secret", "BASE_URL": BASE_URL, "MEETLOOP_INSTANCE": folder,
           "MAIL_DEFAULT_SENDER": SENDER}
    for name in ("REDIS_URL", "MEETLOOP_ENV", "UNSUBSCRIBE_MAILDIR", "MAIL_TRANSPORT", "OUTBOX_BATCH_SIZE"):
        env.pop(name, None)
    out_path, peaks = Path(folder) / "send-due.out", {}
    with open(out_path, "wb") as out, common.stopwatch() as elapsed:
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "send-due"],
                                   cwd=common.ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        # VmHWM, polled: each process's own peak after exec. (Its rusage ru_maxrss
        # would start from this process's size at the fork, not its own.)
        while process.poll() is None:
            for name, pid in [("send-due", process.pid)] + [
                    ("delivery process", child) for child in common.child_pids(process.pid)]:
                with contextlib.suppress(OSError, RuntimeError, ValueError):
                    peaks[name] = max(peaks.get(name, 0.0), common.peak_rss_mb(pid))
            time.sleep(0.02)
    output = out_path.read_text(encoding="utf-8", errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"send-due failed ({process.returncode}):\n{output}")
    return elapsed(), peaks, output


def rendered_messages(app) -> list[tuple[str, bytes]]:
    """Every recap in the outbox as (recipient, bytes), built the way delivery builds it."""
    from webapp.email import render_message
    from webapp.extensions import db
    from webapp.models import OutboxMessage

    with app.app_context():
        query = select(OutboxMessage).where(OutboxMessage.kind == "recap").order_by(OutboxMessage.id)
        return [(row.recipient, render_message(row, SENDER, BASE_URL).data)
                for row in db.session.scalars(query.execution_options(yield_per=500))]


def send_prerendered(messages: list[tuple[str, bytes]], sink: Sink) -> float:
    with common.stopwatch() as elapsed:
        smtp = smtplib.SMTP("127.0.0.1", sink.port, timeout=60)
        for recipient, data in messages:
            smtp.sendmail(SENDER, [recipient], data)
        smtp.quit()
    return elapsed()


def fresh_event(kind: str, url: str, attendees: int, scans: int, **config):
    """The app on ``url`` with the event built; PostgreSQL is given the planner
    statistics autovacuum would have gathered by the morning after."""
    from webapp.extensions import db
    from webapp.models import Event
    from webapp.services import recaps

    app = common.make_app(url, **config)
    with app.app_context():
        world = common.build_event(db.session, attendees, scans)
        if kind == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        expected = sorted(u.email for u in recaps.recipients(db.session.get(Event, world.event_id)))
        db.session.remove()
    return app, expected


def start_over(app) -> None:
    """Forget the recaps of the last round: the event is due again, the outbox empty."""
    from webapp.extensions import db
    from webapp.models import Event, OutboxMessage

    with app.app_context():
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.kind == "recap"))
        db.session.execute(update(Event).values(recaps_queued_at=None, recaps_claimed_at=None))
        db.session.commit()
        db.session.remove()


def timed_run(kind: str, attendees: int, scans: int, result: Result, rounds: int = 1) -> dict:
    """Time ``send-due`` and the baseline, alternately, ``rounds`` times (the
    same work each round: the machine is shared, so one round can be unlucky);
    returns who was expected and what each address received in each round."""
    times: list[tuple[float, float]] = []
    received_by_round: list[Counter] = []
    peaks: dict[str, float] = {}
    with common.fresh_database(kind) as url, tempfile.TemporaryDirectory(prefix="meetloop-recap-") as folder:
        app, expected = fresh_event(kind, url, attendees, scans)
        with smtp_sink(folder) as sink:
            messages = None
            for n in range(rounds):
                if n:
                    start_over(app)
                before = len(sink.wait_for(0))
                seconds, round_peaks, output = send_due(url, sink, folder)
                received = sink.wait_for(before + len(expected))[before:]
                received_by_round.append(Counter(recipients for recipients, _ in received))
                for name, peak in round_peaks.items():
                    peaks[name] = max(peaks.get(name, 0.0), peak)
                messages = messages or rendered_messages(app)
                baseline = send_prerendered(messages, sink)
                sink.wait_for(before + len(received) + len(messages))
                times.append((seconds, baseline))
    exact = all(sorted(got) == expected and set(got.values()) <= {1} for got in received_by_round)
    sizes = [size for _, size in received]
    result.figure("attendees / scans", f"{attendees:,} / {scans:,}")
    result.figure("send-due output (last round)", (output.strip().splitlines() or [""])[-1])
    result.figure("recaps expected / received at the sink, each round",
                  f"{len(expected):,} / {', '.join(f'{got.total():,}' for got in received_by_round)}")
    result.figure("every recipient got exactly one recap, each round", "yes" if exact else "NO")
    result.figure("mean message size (bytes)", round(sum(sizes) / max(len(sizes), 1)))
    result.figure("send-due: compose + deliver (s), each round", " / ".join(f"{s:.1f}" for s, _ in times))
    result.figure("baseline: pre-rendered, one connection (s), each round", " / ".join(f"{b:.1f}" for _, b in times))
    result.figure("ratio, each round", " / ".join(f"{s / b:.2f}" for s, b in times))
    for name, peak in peaks.items():
        result.figure(f"{name} peak RSS (MB)", peak)
    result.target("every recipient gets exactly one recap (misses)", 0 if exact else 1, 0)
    result.target("send-due time / baseline time (all rounds)",
                  sum(s for s, _ in times) / sum(b for _, b in times), TIME_RATIO_LIMIT)
    result.target("worker peak RSS, largest process (MB)", max(peaks.values()), RSS_LIMIT_MB)
    return {"expected": expected, "received": received_by_round[-1], "rounds": received_by_round}


# --- Statement counts, in-process, at two sizes ---------------------------------------------------------


def count_statements(kind: str, attendees: int, scans: int, recap_batch: int | None,
                     outbox_batch: int | None) -> dict[str, int]:
    """Statements spent composing + recording, then delivering, every recap."""
    from webapp.extensions import db
    from webapp.models import utcnow
    from webapp.services import outbox, recaps

    with common.fresh_database(kind) as url, tempfile.TemporaryDirectory(prefix="meetloop-recap-") as folder, \
            smtp_sink(folder) as sink:
        config = {"MAIL_TRANSPORT": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": sink.port,
                  **({"OUTBOX_BATCH_SIZE": outbox_batch} if outbox_batch else {})}
        app, _ = fresh_event(kind, url, attendees, scans, **config)
        with app.app_context():
            recap_batch, outbox_batch = recap_batch or recaps.BATCH_SIZE, app.config["OUTBOX_BATCH_SIZE"]
            now = utcnow()
            with common.StatementCounter(db.engine) as compose:
                built = sum(recaps.compose_due_event(e, now, batch_size=recap_batch) for e in recaps.due_events(now))
            with common.StatementCounter(db.engine) as deliver:
                sent = outbox.deliver_due().sent
        received = len(sink.wait_for(built))
    return {"recipients": built, "sent": sent, "received": received, "compose": compose.count,
            "deliver": deliver.count, "recap_batch": recap_batch, "outbox_batch": outbox_batch,
            "recap_batches": math.ceil(built / recap_batch), "outbox_batches": math.ceil(sent / outbox_batch)}


def statement_counts(kind: str, size: str, result: Result) -> list[dict[str, int]]:
    """Count statements at the size's two event sizes; targets: c + k·⌈N/batch⌉."""
    runs = [count_statements(kind, a, s, *COUNT_BATCHES[size]) for a, s in COUNT_SIZES[size]]
    for (attendees, _), run in zip(COUNT_SIZES[size], runs, strict=True):
        result.figure(f"statements, compose + record ({attendees:,} attendees)",
                      f"{run['compose']:,} for {run['recipients']:,} recaps in {run['recap_batches']} "
                      f"batches of {run['recap_batch']}")
        result.figure(f"statements, delivery ({attendees:,} attendees)",
                      f"{run['deliver']:,} for {run['sent']:,} messages in {run['outbox_batches']} "
                      f"batches of {run['outbox_batch']}")
    small, large = runs
    result.figure("compose statements per extra batch of recipients",
                  (large["compose"] - small["compose"]) / max(large["recap_batches"] - small["recap_batches"], 1))
    result.figure("delivery statements per extra message (durable outcome)",
                  (large["deliver"] - small["deliver"]) / max(large["sent"] - small["sent"], 1))
    for run in runs:
        result.target(f"compose statements, {run['recipients']:,} recaps (c + k·⌈N/batch⌉)",
                      run["compose"], COMPOSE_FIXED + COMPOSE_PER_BATCH * run["recap_batches"])
        result.target(f"delivery statements, {run['sent']:,} sent (c + k·⌈N/batch⌉ + 2N)", run["deliver"],
                      DELIVERY_FIXED + DELIVERY_PER_BATCH * run["outbox_batches"] + DELIVERY_PER_MESSAGE * run["sent"])
        result.target(f"recaps missing at the sink, {run['recipients']:,} built",
                      run["recipients"] - run["received"], 0)
    return runs


def measure(size: str = "tiny", database: str = "sqlite") -> tuple[Result, dict, list[dict[str, int]]]:
    """The benchmark's result, who received what in the timed run, and the statement counts."""
    attendees, scans = SIZES[size]
    result = Result("recap_run", size, database)
    delivered = timed_run(database, attendees, scans, result, ROUNDS[size])
    return result, delivered, statement_counts(database, size, result)


def run(size: str = "tiny", database: str = "sqlite") -> Result:
    return measure(size, database)[0]


def main() -> None:
    args = common.arguments(__doc__.splitlines()[0])
    results = [common.report(run(args.size, kind)) for kind in common.databases(args.database)]
    sys.exit(0 if all(r.met for r in results) else 1)


if __name__ == "__main__":
    main()
