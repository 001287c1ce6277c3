"""``python -m bench`` (``make bench``): every benchmark at full size, each in its
own process (so one's memory doesn't count against the next), on SQLite and on
PostgreSQL where it applies. Exits non-zero if any target is missed."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.common import ROOT

# (module, databases): the badge sheet and phone weight don't depend on the database.
BENCHMARKS = (
    ("scan_burst", "both"),
    ("badge_sheets", "sqlite"),
    ("recap_run", "both"),
    ("pages", "both"),
    ("phone_weight", "sqlite"),
)


def main() -> int:
    only = set(sys.argv[1:])
    failed = []
    for module, database in BENCHMARKS:
        if only and module not in only:
            continue
        started = time.monotonic()
        code = subprocess.call(  # noqa: S603 - our own modules, from the table above
            [sys.executable, "-m", f"bench.{module}", "--size", "full", "--database", database],
            cwd=ROOT)
        print(f"-- bench.{module}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(module)
    if failed:
        print(f"targets missed or errors in: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
