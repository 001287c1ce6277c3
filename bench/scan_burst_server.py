"""The real thing for bench/scan_burst.py: gunicorn started with the
project's ``gunicorn.conf.py`` and production settings, and wrk against it."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ROOT

WRK = "/usr/bin/wrk"
THREADS, CONNECTIONS = 2, 32
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"  # a database of its own: the suite uses 15
# Settings of the developer's shell that would change what is measured.
UNSET = ("REDIS_URL", "WEB_CONCURRENCY", "GUNICORN_THREADS", "MAIL_SERVER", "RATELIMIT_ENABLED", "HOST")


def redis_url() -> str | None:
    """Redis for rate limits under several workers, if it answers."""
    url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    try:
        import redis

        redis.Redis.from_url(url, socket_timeout=2).ping()
    except Exception:  # no Redis here: one worker keeps in-memory limits right
        return None
    return url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``with Server(url, folder) as server:`` gunicorn serving the app on
    ``server.url`` until the block ends; its log is ``folder/gunicorn.log``."""

    def __init__(self, database_url: str, folder: Path, *, redis: str | None = None) -> None:
        self.database_url, self.folder, self.redis = database_url, folder, redis
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "gunicorn.log"
        self.workers = (os.cpu_count() or 1) * 2 + 1 if redis else 1  # gunicorn.conf.py's defaults
        self.process: subprocess.Popen | None = None

    @staticmethod
    @contextlib.contextmanager
    def folder() -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="meetloop-burst-") as folder:
            yield Path(folder)

    def environment(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name not in UNSET}
        env.update(
            MEETLOOP_ENV="production", SECRET_KEY=os.urandom(24).hex(), BASE_URL=self.url, PORT=str(self.port),
            DATABASE_URL=self.database_url, MEETLOOP_INSTANCE=str(self.folder / "instance"),
            BENCH_ENDPOINTS="1", TRUSTED_PROXIES="1",
        )
        if self.redis:
            env["REDIS_URL"] = self.redis
        return env

    def __enter__(self) -> Server:
        command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own fixed command line
                command, cwd=ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_healthy()
        return self

    def _wait_healthy(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.tail()}")
            booted = self.log.read_text(errors="replace").count("Booting worker")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:  # noqa: S310 - http://127.0.0.1
                    if answer.status == 200 and booted >= self.workers:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz within {seconds:.0f} s:\n{self.tail()}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the workers have used so far."""
        from bench.common import child_pids

        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in child_pids(self.process.pid):
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return total / ticks

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def __exit__(self, *exc) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # gunicorn's graceful shutdown
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@dataclass
class Load:
    """What wrk measured of one endpoint, over one or more runs."""

    sent: int = 0
    answered: int = 0
    ok_in_window: int = 0  # 2xx answers while sending: the throughput
    seconds: float = 0.0  # time spent sending
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    latency_us: Counter = field(default_factory=Counter)  # microseconds -> requests
    cpu_seconds: float = 0.0  # the server's CPU time while this load ran

    def add(self, run: dict) -> Load:
        self.sent += run["sent"]
        self.answered += run["answered"]
        self.ok_in_window += run["ok_in_window"]
        self.seconds += run["seconds"]
        self.statuses.update(run["statuses"])
        self.errors.update(run["errors"])
        self.latency_us.update({value: count for value, count in run["latency_us"]})
        return self

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("2"))

    @property
    def rate(self) -> float:
        return self.ok_in_window / self.seconds

    def percentile_ms(self, p: float) -> float:
        """Nearest rank, as bench.common.percentile, over every run's latencies."""
        rank = max(1, math.ceil(p / 100 * self.latency_us.total()))
        for value in sorted(self.latency_us):
            rank -= self.latency_us[value]
            if rank <= 0:
                return value / 1000
        return float("nan")


def wrk(url: str, lua: Path, plan: Path, mode: str, seconds: float, tag: str, *, offset: int = 0,
        drain: float = 60) -> dict:
    """One run: send for ``seconds``, then wait for every answer (up to
    ``drain`` seconds more), and stop wrk as soon as all its threads are done.
    ``offset``: requests of this mode sent by earlier runs (the sequence of
    pairs goes on from there). Returns the script's figures (see
    bench/scan_burst.lua), for :class:`Load`."""
    with tempfile.TemporaryDirectory(prefix="meetloop-wrk-") as marks:
        command = [WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{int(seconds + drain) + 1}s", "--timeout", "30s",
                   "--latency", "-s", str(lua), url, "--", str(plan), mode, f"{seconds}", tag, str(THREADS), marks,
                   str(offset)]
        process = subprocess.Popen(  # noqa: S603 - wrk with our own arguments
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        time.sleep(seconds)
        deadline = time.monotonic() + drain
        while time.monotonic() < deadline and process.poll() is None:
            if len(os.listdir(marks)) >= THREADS:
                break
            time.sleep(0.05)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # wrk then reports at once instead of sleeping out -d
        output, _ = process.communicate(timeout=30)
    for line in output.splitlines():
        if line.startswith("SCAN_BURST_RESULT "):
            return {**json.loads(line.split(" ", 1)[1]), "seconds": seconds}
    raise RuntimeError(f"wrk gave no result (exit {process.returncode}):\n{output}")
