"""Who is calling the JSON API.

Two ways in: ``Authorization: Bearer <personal token>`` (no CSRF: a browser
never sends it by itself), or the session cookie of a signed-in browser, which
a browser *does* send by itself, so every state-changing request made with it
must carry the page's CSRF token in ``X-CSRFToken``. The API blueprint is
exempt from Flask-WTF's form check; this module does that check instead and
answers in the API's JSON error shape.

A request that sends an Authorization header is judged by it alone: a bad
token is 401 even if a session cookie came along.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from flask import Response, current_app, g, request
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from sqlalchemy.exc import SQLAlchemyError
from wtforms import ValidationError

from webapp.errors import error_response
from webapp.extensions import db
from webapp.models import User
from webapp.services import api_tokens

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_BEARER = re.compile(r"Bearer +(\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class Caller:
    user: User | None
    via: str | None  # "token", "session" or None
    token_id: int | None = None
    token_last_used: datetime | None = None


def caller() -> Caller:
    """The authenticated caller of this request (looked up once, then cached)."""
    if "api_caller" not in g:
        g.api_caller = _identify()
    return g.api_caller


def api_user() -> User:
    """The signed-in user; only for views behind :func:`require_auth`."""
    user = caller().user
    assert user is not None, "view reached without an authenticated caller"
    return user


def _identify() -> Caller:
    header = request.headers.get("Authorization")
    if header is not None:
        match = _BEARER.fullmatch(header.strip())
        token = api_tokens.find(match.group(1)) if match else None
        if token is None:
            return Caller(None, "token")
        return Caller(token.user, "token", token.id, token.last_used_at)
    if current_user.is_authenticated:
        return Caller(current_user._get_current_object(), "session")
    return Caller(None, None)


def rate_key() -> str:
    """Rate limits follow the account (a venue shares one IP), else the address."""
    user = caller().user
    return f"user:{user.id}" if user is not None else f"ip:{get_remote_address()}"


def require_auth() -> Response | None:
    """``before_request`` of the API blueprint: 401 / 403 csrf_failed, or carry on."""
    if request.method == "OPTIONS" or getattr(current_app.view_functions.get(request.endpoint), "public", False):
        return None
    who = caller()
    if who.user is None:
        message = ("That token is unknown or was revoked." if who.via == "token"
                   else "Sign in, or send Authorization: Bearer <your personal API token>.")
        response = error_response(401, "unauthenticated", message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="MeetLoop API"'
        return response
    if who.via == "session" and request.method not in SAFE_METHODS and current_app.config.get("WTF_CSRF_ENABLED", True):
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except ValidationError:
            return error_response(
                403, "csrf_failed", "Send the page's CSRF token in the X-CSRFToken header (or use a Bearer token)."
            )
    return None


def public(view):
    """Mark a view of the API blueprint as open to anyone."""
    view.public = True
    return view


def record_token_use(response: Response) -> Response:
    """``after_request``: remember when a token was last used, in a transaction of its own.

    The view's transaction is over by now (committed, or rolled back here), so
    this short write never holds locks while the view works.
    """
    who = g.get("api_caller")
    if who is None or who.token_id is None:
        return response
    if not api_tokens.needs_use_recorded(who.token_last_used):
        return response
    try:
        db.session.rollback()
        api_tokens.record_use(who.token_id)
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        # The class only: a driver's message names the database host and port.
        log.warning("could not record the use of API token %s: %s", who.token_id, type(error).__name__)
    return response
