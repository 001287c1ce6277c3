"""PostgreSQL and Redis are drop-in for scale: with REDIS_URL set, the worker
queue is Redis and rate-limit counters are shared by every process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from huey import RedisHuey

from tests.conftest import empty_redis
from webapp import jobs

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url():
    yield from empty_redis(REDIS_URL, "TEST_REDIS_URL")


def test_redis_url_selects_redis_huey_and_tasks_round_trip(redis_url, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_url)
    queue = jobs._make_huey()
    assert isinstance(queue, RedisHuey)

    @queue.task()
    def add(a, b):
        return a + b

    result = add(2, 3)
    assert queue.pending_count() == 1
    queue.execute(queue.dequeue())
    assert result.get() == 5
    assert queue.pending_count() == 0


def test_without_redis_url_the_queue_is_sqlite_in_the_instance_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("MEETLOOP_INSTANCE", str(tmp_path))
    queue = jobs._make_huey()
    assert type(queue).__name__ == "SqliteHuey"
    assert (tmp_path / "huey.db").exists()


LINK_REQUESTS = textwrap.dedent(
    """
    import sys
    from webapp import create_app
    app = create_app({"MAIL_TRANSPORT": "memory", "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    codes = [client.post("/login/link", data={"email": "shared@example.com"}).status_code
             for _ in range(int(sys.argv[1]))]
    print(" ".join(map(str, codes)))
    """
)


def _run(env: dict[str, str], requests: int) -> list[int]:
    out = subprocess.run(
        [sys.executable, "-c", LINK_REQUESTS, str(requests)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    return [int(code) for code in out.stdout.split()]


def test_rate_limits_are_shared_between_processes_through_redis(redis_url, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "MAIL_SERVER")},
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "MEETLOOP_INSTANCE": str(tmp_path),
        "RATELIMIT_ENABLED": "1",
    }
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
                   cwd=ROOT, env=env, capture_output=True, check=True, timeout=60)
    first = _run(env, 3)
    assert first == [200, 200, 200]
    # A second process (another gunicorn worker or host) sees the same counter.
    assert _run(env, 1) == [429]
