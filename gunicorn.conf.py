"""gunicorn settings for `make run` and production (gthread workers).

Without REDIS_URL, rate-limit counters live in process memory, so one worker
process with threads keeps them right; with Redis, scale workers out.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
workers = int(
    os.environ.get(
        "WEB_CONCURRENCY",
        str(multiprocessing.cpu_count() * 2 + 1 if os.environ.get("REDIS_URL") else 1),
    )
)
timeout = 60
graceful_timeout = 10
keepalive = 5
accesslog = "-"
# Paths carry single-use sign-in tokens and badge tokens: the logger redacts them.
logger_class = "webapp.serving.RedactingLogger"
