"""Request hooks: security headers and waking the worker after mail is committed."""

from __future__ import annotations

import logging

from flask import Flask, Response

from webapp.database import take_committed_mail_flag

log = logging.getLogger(__name__)

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "frame-src 'self'",
        "frame-ancestors 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


def wake_mail_worker() -> None:
    """Queue a delivery run if the last commit recorded mail."""
    if not take_committed_mail_flag():
        return
    from webapp.jobs import deliver_outbox

    try:
        deliver_outbox()
    except Exception:  # the periodic sweep delivers it anyway
        log.exception("could not queue outbox delivery")


def _after_request(response: Response) -> Response:
    wake_mail_worker()
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
    return response


def register(app: Flask) -> None:
    from webapp import compression

    app.after_request(_after_request)
    compression.register(app)
