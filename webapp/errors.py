"""Error pages: friendly HTML, or the JSON error shape under ``/api/``."""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from webapp.redaction import redact

log = logging.getLogger(__name__)

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


def register(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _unexpected)
    app.register_error_handler(Exception, _unexpected)
