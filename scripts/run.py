#!/usr/bin/env python3
"""`make run`: migrate, seed the demo once, then supervise gunicorn and the Huey worker.

Ctrl-C (or SIGTERM) stops both; if either exits on its own, the other is stopped too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent


def flask(*args: str) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, check=True)


def main() -> int:
    port = os.environ.setdefault("PORT", "5000")
    flask("db", "upgrade")
    flask("demo")
    children = [
        subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT),
        subprocess.Popen([str(BIN / "huey_consumer"), "webapp.jobs.huey", "-k", "thread", "-w", "2"], cwd=ROOT),
    ]
    from webapp.services.demo import LOGINS

    url = os.environ.get("BASE_URL", f"http://127.0.0.1:{port}")
    logins = "\n".join(f"  {login.role:<10} {login.email:<28} {login.password}" for login in LOGINS)
    print(f"\nMeetLoop is running at {url}  (Ctrl-C stops web and worker)\nDemo logins:\n{logins}\n", flush=True)

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.3)
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
    return 0 if stopping else 1


if __name__ == "__main__":
    sys.exit(main())
