"""How a session cookie maps back to a user, and the role guards views use."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, request
from flask_login import current_user, login_required

from webapp.extensions import db
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


admin_required = role_required(lambda user: user.is_admin)
