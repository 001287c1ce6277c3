"""Scan burst: the production server under 32 connections of signed-in people
scanning distinct badges, against a baseline route of the same app that only
inserts one row for a signed-in caller (``webapp/api/bench.py``).

Targets: scan throughput ≥ 50% of the baseline's, scan p99 ≤ 2 times the
baseline's p99, and afterwards exactly one Scan row per 2xx answer (no answer
lost, no scan recorded twice or without its answer).

gunicorn runs with ``gunicorn.conf.py`` and production settings. SQLite: no
Redis, so the default single gthread worker. PostgreSQL: Redis for rate
limits, so gunicorn's default of 2 x cores + 1 workers, as a scaled-out
deployment runs. Both behind one trusted proxy (``TRUSTED_PROXIES=1``): wrk
gives each person their own address, so the per-IP limit sees phones, not
the load generator.

    .venv/bin/python -m bench.scan_burst --size full --database both
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, insert, select, update

from bench import common
from bench.scan_burst_server import THREADS, Load, Server, redis_url, wrk

LUA = Path(__file__).with_suffix(".lua")
SCANS, ROWS = "/api/v1/scans", "/api/v1/bench/row"


@dataclass(frozen=True)
class Size:
    attendees: int
    prior_scans: int  # already in the tables, so the indexes have something to look through
    seconds: float  # how long each measured run sends
    rounds: int  # a baseline run and a scan run each, alternating: both see the shared machine alike
    warmup: float  # an unmeasured run of each kind first (0: none)


SIZES = {
    "tiny": Size(attendees=80, prior_scans=200, seconds=1.0, rounds=1, warmup=0),
    "full": Size(attendees=2000, prior_scans=20_000, seconds=5.0, rounds=3, warmup=2.0),
}
RESERVED = 3  # attendees kept out of the burst for the in-process statement count


def prepare(app, size: Size, folder: Path) -> tuple[Path, dict[str, int], int]:
    """The event, one API token per attendee, and the plan file wrk reads;
    the in-process statement counts; the Scan rows before any request."""
    from webapp.extensions import db
    from webapp.models import ApiToken, Contact, Scan
    from webapp.services import api_tokens

    with app.app_context():
        world = common.build_event(db.session, size.attendees + RESERVED, size.prior_scans)
        plaintexts = [api_tokens.PREFIX + secrets.token_urlsafe(api_tokens.TOKEN_BYTES) for _ in world.user_ids]
        db.session.execute(insert(ApiToken), [
            {"user_id": user_id, "name": "bench phone", "token_hash": api_tokens.digest(plaintext),
             "prefix": plaintext[:api_tokens.PREFIX_LENGTH]}
            for user_id, plaintext in zip(world.user_ids, plaintexts, strict=True)
        ])
        # The statement count's people have met nobody yet: its scans are first meetings.
        newcomers = world.user_ids[-RESERVED:]
        db.session.execute(delete(Scan).where(Scan.scanner_id.in_(newcomers) | Scan.scanned_id.in_(newcomers)))
        db.session.execute(delete(Contact).where(Contact.owner_id.in_(newcomers) | Contact.user_id.in_(newcomers)))
        db.session.commit()
        before = scan_rows()
    plan = folder / "plan.txt"
    lines = [f"{t} {b}" for t, b in zip(plaintexts[:size.attendees], world.badge_tokens[:size.attendees], strict=True)]
    plan.write_text("\n".join(lines) + "\n", encoding="ascii")
    statements = count_statements(app, plaintexts[-RESERVED:], world.badge_tokens[-RESERVED:])
    return plan, statements, before


def count_statements(app, tokens: list[str], badges: list[str]) -> dict[str, int]:
    """SQL statements of one scan and one baseline request, in process (after
    one of each to warm up); the two scans are first meetings, answered 201."""
    from webapp.extensions import db

    client = app.test_client()
    counts: dict[str, int] = {"scan_2xx": 0}
    for n, (path, body) in enumerate([(SCANS, {"badge": badges[1], "client_id": "count-0"}), (ROWS, {}),
                                      (SCANS, {"badge": badges[2], "client_id": "count-1"}), (ROWS, {})]):
        with app.app_context():
            engine = db.engine
        with common.StatementCounter(engine) as counter:
            answer = client.post(path, json=body, headers={"Authorization": f"Bearer {tokens[0]}"})
        assert answer.status_code == 201, answer.get_data(as_text=True)
        counts["scan_2xx"] += path == SCANS
        if n >= 2:
            counts[path] = counter.count
    return counts


def scan_rows() -> int:
    from webapp.extensions import db
    from webapp.models import Scan

    return db.session.scalar(select(func.count()).select_from(Scan))


def tokens_fresh(app) -> None:
    """Mark every token used just now, before each phase: a busy phone's token
    records its use once a minute, so neither phase pays for a first use."""
    from webapp.extensions import db
    from webapp.models import ApiToken, utcnow

    with app.app_context():
        db.session.execute(update(ApiToken).values(last_used_at=utcnow()))
        db.session.commit()


def schedule(size: Size) -> list[tuple[str, float, bool]]:
    """(mode, seconds, measured) of each wrk run, in order."""
    runs = [(mode, size.warmup, False) for mode in ("row", "scans") if size.warmup > 0]
    for n in range(size.rounds):
        runs += [(mode, size.seconds, True) for mode in (("row", "scans") if n % 2 == 0 else ("scans", "row"))]
    return runs


def run(size: str = "tiny", database: str = "sqlite") -> common.Result:
    chosen = SIZES[size]
    result = common.Result("scan_burst", size, database)
    with common.fresh_database(database) as url, Server.folder() as folder:
        app = common.make_app(url, BENCH_ENDPOINTS=True)
        plan, statements, before = prepare(app, chosen, folder)
        scans_answered = statements.pop("scan_2xx")
        redis = redis_url() if database == "postgresql" else None
        measured = {"row": Load(), "scans": Load()}
        everything = Load()  # warm-up included: every answer counts for the Scan rows
        with Server(url, folder, redis=redis) as server:
            tag = secrets.token_hex(3)
            offsets = {"row": 0, "scans": 0}  # each run's scans go on where the last one's stopped
            for n, (mode, seconds, counted) in enumerate(schedule(chosen)):
                tokens_fresh(app)
                cpu = server.cpu_seconds()
                figures = wrk(server.url, LUA, plan, mode, seconds, f"{tag}r{n}", offset=offsets[mode])
                offsets[mode] += figures["sent"] * THREADS  # past the highest number any thread used
                if counted:
                    measured[mode].add(figures)
                    measured[mode].cpu_seconds += server.cpu_seconds() - cpu
                if mode == "scans":
                    scans_answered += Load().add(figures).ok
                everything.add(figures)
            workers = server.workers
        with app.app_context():
            from webapp.extensions import db

            after = scan_rows()
            db.engine.dispose()
    describe(result, measured, statements, workers, redis is not None)
    base, scans = measured["row"], measured["scans"]
    result.figure("Scan rows added", after - before)
    result.figure("2xx answers to scans (in-process ones included)", scans_answered)
    result.target("scan throughput / baseline throughput", scans.rate / base.rate, 0.5, higher_is_better=True)
    result.target("scan p99 / baseline p99", scans.percentile_ms(99) / base.percentile_ms(99), 2.0)
    result.target("|Scan rows added - 2xx scan answers|", abs(after - before - scans_answered), 0)
    result.target("answers that weren't 2xx (429s included)", everything.answered - everything.ok, 0)
    result.target("requests left without an answer", everything.sent - everything.answered, 0)
    return result


def describe(result: common.Result, measured: dict[str, Load], statements: dict, workers: int, redis: bool) -> None:
    result.figure("gunicorn", f"{workers} gthread worker(s) x 8 threads, rate limits in "
                  f"{'Redis' if redis else 'process memory'}")
    result.figure("wrk", "-t2 -c32, distinct (scanner, badge, client_id) per request")
    for name, label in (("row", "baseline (one-row insert)"), ("scans", "scans")):
        load = measured[name]
        result.figure(f"{label}: requests answered", load.answered)
        result.figure(f"{label}: throughput, 2xx/s", load.rate)
        result.figure(f"{label}: p50 / p99 latency, ms", f"{load.percentile_ms(50):.1f} / {load.percentile_ms(99):.1f}")
        result.figure(f"{label}: server CPU per answer, ms (cores busy)",
                      f"{1000 * load.cpu_seconds / max(load.answered, 1):.2f} ({load.cpu_seconds / load.seconds:.2f})")
        others = {s: n for s, n in sorted(load.statuses.items()) if not s.startswith("2")}
        result.figure(f"{label}: non-2xx answers", ", ".join(f"{s}: {n}" for s, n in others.items()) or "none")
        errors = {k: v for k, v in load.errors.items() if v and k != "status"}
        result.figure(f"{label}: socket errors", ", ".join(f"{k}: {v}" for k, v in errors.items()) or "none")
    result.figure("SQL statements per scan request (a first meeting)", statements[SCANS])
    result.figure("SQL statements per baseline request", statements[ROWS])


def main() -> None:
    args = common.arguments(__doc__.splitlines()[0])
    results = [common.report(run(args.size, database)) for database in common.databases(args.database)]
    raise SystemExit(0 if all(result.met for result in results) else 1)


if __name__ == "__main__":
    main()
