"""Errors: friendly HTML pages for people, one JSON shape under /api/, never a traceback."""

from __future__ import annotations

import logging

import pytest
from flask import Blueprint, abort, jsonify

from tests.factories import make_user
from webapp import create_app
from webapp.extensions import db as _db

SECRET_DETAIL = "kaboom: internal detail 7f3a"
TRACE_MARKERS = ("Traceback", "RuntimeError", SECRET_DETAIL, 'File "', "werkzeug")


def boom_blueprint() -> Blueprint:
    bp = Blueprint("boom", __name__)

    @bp.get("/boom")
    @bp.get("/api/boom")
    def boom():
        raise RuntimeError(SECRET_DETAIL)

    @bp.get("/verify/<token>/explode")
    def explode_with_token(token: str):
        raise RuntimeError("failed while handling a link")

    @bp.get("/api/items")
    def items():
        return jsonify({"items": []})

    @bp.post("/api/echo")
    def echo():
        return jsonify({"ok": True})

    @bp.get("/abort/<int:status>")
    @bp.get("/api/abort/<int:status>")
    def aborting(status: int):
        abort(status)

    return bp


@pytest.fixture(scope="module")
def boom_app(tmp_path_factory):
    """A separate app (the shared one is left alone) with routes that fail on purpose."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path_factory.mktemp('errors') / 'unused.db'}",
            "SECRET_KEY": "errors-test-key",
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": True,
            "MAIL_TRANSPORT": "memory",
        }
    )
    app.register_blueprint(boom_blueprint())
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture
def boom(boom_app):
    return boom_app.test_client()


def assert_friendly_html(response, status: int, *phrases: str) -> str:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert "<html" in body and f'class="error-code">{status}<' in body
    for phrase in phrases:
        assert phrase in body
    for marker in TRACE_MARKERS:
        assert marker not in body
    return body


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    payload = response.get_json()
    assert set(payload) == {"error"}
    assert set(payload["error"]) == {"code", "message"}
    assert payload["error"]["code"] == code
    message = payload["error"]["message"]
    assert isinstance(message, str) and message.strip()
    for marker in TRACE_MARKERS:
        assert marker not in message
    return payload


def test_unknown_page_is_a_friendly_404(client):
    body = assert_friendly_html(client.get("/no/such/page"), 404, "Not found", "couldn&#39;t find that page")
    # Werkzeug's developer-facing wording is replaced by ours.
    assert "requested URL was not found" not in body
    assert 'href="/"' in body


def test_unknown_api_path_answers_json_404(client):
    assert_json_error(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_forbidden_page_is_a_friendly_403(app, client, auth):
    auth.as_user(make_user(app, password=None))
    assert_friendly_html(client.get("/admin"), 403, "Not allowed", "have access")


def test_wrong_method_is_a_friendly_405_with_allow_header(client):
    response = client.post("/healthz")
    assert_friendly_html(response, 405)
    assert "GET" in response.headers["Allow"]


def test_unexpected_exception_is_a_friendly_500_and_is_logged(boom, caplog):
    with caplog.at_level(logging.ERROR, logger="webapp.errors"):
        response = boom.get("/boom")
    assert_friendly_html(response, 500, "Something went wrong")
    # The details go to the log, with the traceback, not to the person.
    logged = [r for r in caplog.records if r.name == "webapp.errors"]
    assert logged and logged[0].exc_info and SECRET_DETAIL in str(logged[0].exc_info[1])


def test_unexpected_exception_under_api_is_json_500(boom, caplog):
    with caplog.at_level(logging.CRITICAL):
        assert_json_error(boom.get("/api/boom"), 500, "internal_error")


@pytest.mark.parametrize(
    ("status", "code", "phrase"),
    [(403, "forbidden", "Not allowed"), (404, "not_found", "Not found"), (429, "rate_limited", "Slow down"),
     (410, "gone", "Gone"), (415, "unsupported_media_type", "Unsupported Media Type")],
)
def test_http_errors_have_html_pages_and_json_shapes(boom, status, code, phrase):
    assert_friendly_html(boom.get(f"/abort/{status}"), status, phrase)
    assert_json_error(boom.get(f"/api/abort/{status}"), status, code)


def test_rate_limited_answers_carry_retry_after(boom):
    for path in ("/abort/429", "/api/abort/429"):
        retry_after = boom.get(path).headers.get("Retry-After")
        assert retry_after is not None and int(retry_after) > 0


def test_wrong_method_under_api_is_json_405(boom):
    response = boom.delete("/api/items")
    assert_json_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_missing_csrf_token_under_api_is_json_403_csrf_failed(boom):
    assert_json_error(boom.post("/api/echo", json={}), 403, "csrf_failed")


def test_missing_csrf_token_on_a_form_is_a_friendly_403(app, client, csrf):
    body = assert_friendly_html(client.post("/login", data={"email": "a@example.com", "password": "x" * 12}), 403)
    assert "Reload the page" in body



def test_a_crash_on_a_link_page_logs_the_path_without_its_token(boom, caplog):
    token = "eyJ1aWQiOjF9.secret-signature-55"
    with caplog.at_level(logging.ERROR):
        response = boom.get(f"/verify/{token}/explode")

    assert response.status_code == 500
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/verify/[redacted]/explode" in logged
    assert token not in logged


@pytest.mark.parametrize("path", ["/login/link/TOKEN", "/verify/TOKEN", "/reset/TOKEN", "/account/email/TOKEN",
                                  "/b/TOKEN", "/invite/TOKEN", "/not-me/TOKEN"])
def test_every_token_bearing_path_is_redacted_for_logs(path):
    from webapp.redaction import redact

    assert "TOKEN" not in redact(f'"GET {path} HTTP/1.1" 200')
    assert "TOKEN" not in redact("GET /x?token=TOKEN")
