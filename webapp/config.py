"""Settings, read from the environment with development defaults.

Every setting named in the README lives here; nothing else in the code reads
``os.environ`` for configuration (the Huey instance in ``jobs.py`` reuses
:func:`load` so web, worker and CLI always agree).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(click.ClickException):
    """A setting is missing or malformed; the message names it.

    A click exception so that ``flask`` commands, which build the app before
    they run, report it as one ``Error: ...`` line instead of a traceback.
    """


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    # Blank means "not set" (``FOO=`` in an env file), as for whole numbers.
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of 1/0, true/false, yes/no (got {raw!r})")


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number (got {raw!r})") from None


def env_days(env: Mapping[str, str], name: str, default: tuple[int, ...], *, most: int) -> tuple[int, ...]:
    """A comma-separated, strictly increasing list of at most ``most`` day counts (1-365)."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        days = tuple(int(part) for part in raw.split(","))
    except ValueError:
        days = ()
    if not 0 < len(days) <= most or any(not 1 <= d <= 365 for d in days) or list(days) != sorted(set(days)):
        raise ConfigError(f"{name} must be up to {most} increasing day counts like '3,10' (got {raw!r})")
    return days


def normalise_database_url(url: str) -> str:
    """Point ``postgres://`` and ``postgresql://`` URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _secret_key(env: Mapping[str, str], instance: Path, production: bool) -> str:
    key = env.get("SECRET_KEY", "").strip()
    if key:
        return key
    if production:
        raise ConfigError("SECRET_KEY must be set when MEETLOOP_ENV=production")
    # One generated key shared by web, worker and CLI: written once, then read back.
    path = instance / "secret_key"
    instance.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Web and worker may start together: the other one may have created
        # the file and not yet written it.
        for _ in range(25):
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.02)
        raise ConfigError(f"{path} is empty: delete it to generate a new key, or set SECRET_KEY") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def load(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from ``env`` (default: ``os.environ``)."""
    env = os.environ if env is None else env
    instance = Path(env.get("MEETLOOP_INSTANCE", str(DEFAULT_INSTANCE)))
    production = env.get("MEETLOOP_ENV", "development").strip().lower() == "production"
    port = env_int(env, "PORT", 5000)
    redis_url = env.get("REDIS_URL", "").strip() or None
    mail_server = env.get("MAIL_SERVER", "").strip() or None

    return {
        "ENV_NAME": "production" if production else "development",
        "INSTANCE_DIR": str(instance),
        "SECRET_KEY": _secret_key(env, instance, production),
        "BASE_URL": (env.get("BASE_URL", "").strip() or f"http://127.0.0.1:{port}").rstrip("/"),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(
            env.get("DATABASE_URL", "").strip() or f"sqlite:///{instance / 'meetloop.db'}"
        ),
        # hide_parameters: SQL errors in logs never carry values (tokens, addresses).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "REDIS_URL": redis_url,
        "HUEY_SQLITE_PATH": str(instance / "huey.db"),
        # Mail: SMTP when MAIL_SERVER is set, else .eml files in instance/mail/.
        "MAIL_TRANSPORT": env.get("MAIL_TRANSPORT", "smtp" if mail_server else "file"),
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": env_int(env, "MAIL_PORT", 25),
        "MAIL_USE_TLS": env_bool(env, "MAIL_USE_TLS", False),
        "MAIL_USE_SSL": env_bool(env, "MAIL_USE_SSL", False),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER", "MeetLoop <no-reply@meetloop.local>"),
        "MAIL_DIR": str(instance / "mail"),
        # The mailto: of List-Unsubscribe (default: the sender's address), and the
        # Maildir the mail server delivers that address's mail into (unset: not read).
        "UNSUBSCRIBE_MAILTO": env.get("UNSUBSCRIBE_MAILTO", ""),
        "UNSUBSCRIBE_MAILDIR": env.get("UNSUBSCRIBE_MAILDIR", ""),
        "MAIL_TIMEOUT": env_int(env, "MAIL_TIMEOUT", 20),
        # Reverse proxies in front of the app (X-Forwarded-For/-Proto/-Host hops to trust).
        "TRUSTED_PROXIES": env_int(env, "TRUSTED_PROXIES", 0),
        # Rate limits: memory per process, Redis when REDIS_URL is set.
        "RATELIMIT_ENABLED": env_bool(env, "RATELIMIT_ENABLED", True),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Sessions and cookies: HttpOnly and SameSite=Lax always; Secure always in
        # production (even when the proxy speaks plain HTTP to gunicorn) and on any
        # response served over HTTPS (webapp.hooks.HttpsAwareSessionInterface).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_DURATION": 60 * 60 * 24 * 30,
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        # Werkzeug's scrypt; the test suite lowers its cost to stay fast.
        "PASSWORD_HASH_METHOD": "scrypt",
        # Single-use links.
        "SIGNIN_LINK_MAX_AGE": 15 * 60,
        "VERIFY_LINK_MAX_AGE": 48 * 3600,
        "RESET_LINK_MAX_AGE": 60 * 60,
        # Outbox delivery.
        "OUTBOX_BATCH_SIZE": env_int(env, "OUTBOX_BATCH_SIZE", 100),
        "OUTBOX_MAX_ATTEMPTS": env_int(env, "OUTBOX_MAX_ATTEMPTS", 8),
        "OUTBOX_LEASE_SECONDS": env_int(env, "OUTBOX_LEASE_SECONDS", 300),
        # Reminders about contacts still waiting for a follow-up: days after the event.
        "NUDGE_DAYS": env_days(env, "NUDGE_DAYS", (3, 10), most=2),
        # bench/scan_burst.py's baseline route (POST /api/v1/bench/row); never on unless set.
        "BENCH_ENDPOINTS": env_bool(env, "BENCH_ENDPOINTS", False),
    }
