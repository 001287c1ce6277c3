"""Request hooks: security headers, cookies that follow HTTPS, a fresh session
at sign-in, and waking the worker after mail is committed."""

from __future__ import annotations

import logging

from flask import Flask, Response, has_request_context, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_login import user_logged_in

from webapp.database import take_committed_mail_flag

log = logging.getLogger(__name__)


def _policy(script_src: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {script_src}",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            "connect-src 'self'",
            # The mail log and the recap preview show an email in a sandboxed
            # frame of our own; those two responses allow being framed by us
            # (their own CSP says frame-ancestors 'self'), nothing else does.
            "frame-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )


CSP = _policy("'self'")
# The scanner's barcode polyfill compiles ZXing's WebAssembly: only that page may.
SCANNER_CSP = _policy("'self' 'wasm-unsafe-eval'")
WASM_ENDPOINTS = frozenset({"scan.scanner"})
HSTS = "max-age=31536000; includeSubDomains"


def wake_mail_worker() -> None:
    """Queue a delivery run if the last commit recorded mail."""
    if not take_committed_mail_flag():
        return
    from webapp.jobs import deliver_outbox

    try:
        deliver_outbox()
    except Exception:  # the periodic sweep delivers it anyway
        log.exception("could not queue outbox delivery")


def _frame_options(csp: str) -> str:
    """X-Frame-Options for browsers without CSP frame-ancestors, saying the same."""
    return "SAMEORIGIN" if "frame-ancestors 'self'" in csp else "DENY"


def _mark_cookies_secure(response: Response) -> None:
    cookies = response.headers.getlist("Set-Cookie")
    if all("; secure" in cookie.lower() for cookie in cookies):
        return
    response.headers.remove("Set-Cookie")
    for cookie in cookies:
        response.headers.add("Set-Cookie", cookie if "; secure" in cookie.lower() else f"{cookie}; Secure")


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Over HTTPS every cookie is ``Secure``, whatever the settings say: the
    settings make them Secure in production; this covers HTTPS anywhere else
    (``request.is_secure`` sees the proxy's scheme with TRUSTED_PROXIES).

    Saving the session is the last step of every response, after the
    ``after_request`` hooks (Flask-Login's remember cookie among them) and
    whatever class of response the view made, so every cookie is seen here.
    """

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        super().save_session(app, session, response)
        if has_request_context() and request.is_secure:
            _mark_cookies_secure(response)


def _after_request(response: Response) -> Response:
    wake_mail_worker()
    policy = SCANNER_CSP if request.endpoint in WASM_ENDPOINTS else CSP
    response.headers.setdefault("Content-Security-Policy", policy)
    response.headers.setdefault("X-Frame-Options", _frame_options(response.headers["Content-Security-Policy"]))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def register(app: Flask) -> None:
    from webapp import compression
    from webapp.auth.session import start_fresh_session

    app.session_interface = HttpsAwareSessionInterface()
    app.after_request(_after_request)
    compression.register(app)
    user_logged_in.connect(start_fresh_session, app)
