"""Error pages: friendly HTML, or the JSON error shape under ``/api/``.

A database that is out of reach (down, restarting, locked, out of pooled
connections) is not a bug: those requests answer 503 with ``Retry-After``, and
the same request works again once the database is back (``pool_pre_ping``
replaces the connections that died meanwhile, without a restart).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from webapp.extensions import db, login_manager
from webapp.redaction import redact

try:
    import psycopg
except ImportError:  # PostgreSQL support is optional
    psycopg = None

log = logging.getLogger(__name__)

#: What a 503 asks clients to wait before trying again, in seconds.
RETRY_AFTER_SECONDS = 15
# sqlite3 has one OperationalError for everything: these say "not now", the rest ("no such table") is a bug.
_SQLITE_UNAVAILABLE = ("unable to open database", "database is locked", "database table is locked",
                       "disk i/o error")

# code -> (api error code, page title, what to tell a person)
MESSAGES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "That didn't work", "The request could not be understood."),
    401: ("unauthenticated", "Please sign in", "You need to sign in to do that."),
    403: ("forbidden", "Not allowed", "You don't have access to this page."),
    404: ("not_found", "Not found", "We couldn't find that page. It may have moved or been removed."),
    405: ("method_not_allowed", "Not allowed", "That action isn't available here."),
    413: ("too_large", "Too large", "That upload is too large."),
    429: ("rate_limited", "Slow down", "Too many attempts. Please wait a moment and try again."),
    500: ("internal_error", "Something went wrong", "Sorry, something broke on our side. Please try again."),
    503: ("unavailable", "Back in a moment", "MeetLoop is briefly unavailable. Please try again shortly."),
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _describe(status: int) -> tuple[str, str, str]:
    if status in MESSAGES:
        return MESSAGES[status]
    # A status without its own words (410, 415, ...): its standard name, not "internal error".
    name = HTTP_STATUS_CODES.get(status) or MESSAGES[500][1]
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_"), name, "That request couldn't be completed."


def error_response(status: int, code: str | None = None, message: str | None = None) -> Response:
    api_code, title, default_message = _describe(status)
    message = message or default_message
    if wants_json():
        response = jsonify({"error": {"code": code or api_code, "message": message}})
    else:
        response = Response(
            render_template("errors/error.html", status=status, title=title, message=message),
            mimetype="text/html",
        )
    response.status_code = status
    return response


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    # Werkzeug's descriptions are written for developers: people get ours.
    response = error_response(status)
    if status == 429:
        retry_after = getattr(error, "retry_after", None) or 60
        response.headers.setdefault("Retry-After", str(retry_after))
    if status == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _csrf_error(error: CSRFError) -> Response:
    return error_response(
        403, "csrf_failed", "Your form expired or was sent from elsewhere. Reload the page and try again."
    )


def _unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, redact(request.path))
    return error_response(500)


def database_unavailable(error: BaseException) -> bool:
    """Is ``error`` the database being out of reach rather than a fault in the
    request or the code? Connection failures and lost connections (psycopg's
    OperationalError, or any driver error that invalidated its connection), a
    SQLite file that can't be opened or is locked, and a pool with no free
    connection in time all pass once the database is back."""
    if isinstance(error, sa_exc.TimeoutError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig
    if psycopg is not None and isinstance(error, psycopg.OperationalError):
        return True
    return isinstance(error, sqlite3.OperationalError) and str(error).lower().startswith(_SQLITE_UNAVAILABLE)


def _kind(error: BaseException) -> str:
    """The error's class names, and SQLite's few fixed words ("database is
    locked"); never a server driver's message, which names hosts and users."""
    orig = getattr(error, "orig", None)
    kind = type(error).__name__ + (f" ({type(orig).__module__}.{type(orig).__name__})" if orig is not None else "")
    cause = orig if orig is not None else error
    return f"{kind}: {cause}" if isinstance(cause, sqlite3.OperationalError) else kind


def _without_database() -> None:
    """Let the error page render without touching the database: the failed
    transaction is dropped, and the page is drawn as for a visitor (the nav's
    signed-in parts load the user and count follow-ups). The session cookie
    is left alone: the person is still signed in once the database is back."""
    with contextlib.suppress(sa_exc.SQLAlchemyError):
        db.session.rollback()
    login_manager._update_request_context_with_user()  # the anonymous user, for this request only


def _database_error(error: Exception) -> Response:
    if not database_unavailable(error):
        return _unexpected(error)
    log.warning("database unavailable, answered 503 to %s %s: %s", request.method, redact(request.path),
                _kind(error))
    _without_database()
    response = error_response(503)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def register(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _unexpected)
    for unavailable in (sa_exc.DBAPIError, sa_exc.TimeoutError, sqlite3.OperationalError,
                        *((psycopg.OperationalError,) if psycopg is not None else ())):
        app.register_error_handler(unavailable, _database_error)
    app.register_error_handler(Exception, _unexpected)
