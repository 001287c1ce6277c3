"""How a session cookie maps back to a user, a fresh session at every
sign-in, and the guards and rate-limit keys views use."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, abort, request, session
from flask_login import current_user, login_required

from webapp.extensions import db, limiter
from webapp.models import User


def load_user(session_id: str) -> User | None:
    """``"<id>:<session_version>"`` → the user, unless signed out everywhere since."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version) or user.is_disabled:
        return None
    return user


# What survives signing in: Flask-Login's own keys (just written by
# login_user), messages flashed for the page after it, and where to go next.
KEPT_AT_SIGN_IN = ("_user_id", "_fresh", "_id", "_remember", "_remember_seconds", "_flashes", "next")


def start_fresh_session(sender: Flask, user: User, **extra: Any) -> None:
    """``user_logged_in`` receiver: drop everything the session held before
    signing in (a planted value, the anonymous CSRF token), for every way in:
    password, emailed link, invitation.

    Flask's session lives in a signed cookie with no server-side id to
    rotate; clearing it is the rotation: the browser gets a new cookie, and
    nothing set before the sign-in carries over into the signed-in session.
    """
    kept = {key: session[key] for key in KEPT_AT_SIGN_IN if key in session}
    session.clear()
    session.update(kept)


def email_rate_key() -> str:
    """Rate-limit key for forms that take an address: the address itself."""
    return "email:" + (request.form.get("email") or "").strip().lower()


def role_required(check: Callable[[User], bool]) -> Callable:
    """Decorator: signed in, and ``check(current_user)`` holds, else 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not check(current_user):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def user_rate_key() -> str:
    """Rate-limit key for signed-in work (imports, exports): the account."""
    return f"user:{current_user.id}" if current_user.is_authenticated else f"ip:{request.remote_addr}"


def per_user(limits: str, methods: list[str] | None = None) -> Callable:
    """A limit per account on a signed-in view (``methods``: only those, such
    as an upload form's POST); put it under ``login_required`` so it counts
    accounts, not the venue's shared address."""
    return limiter.limit(limits, key_func=user_rate_key, methods=methods)


admin_required = role_required(lambda user: user.is_admin)
