"""Helpers for the JSON API tests: tokens, requests and the error shape."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import User
from webapp.services import api_tokens

SCANS = "/api/v1/scans"
CONTACTS = "/api/v1/me/contacts"


def token_for(app, user, name: str = "test client") -> str:
    """A new personal API token of ``user`` (its plaintext)."""
    with app.app_context():
        _, plaintext = api_tokens.create(db.session.get(User, user.id), name)
        db.session.commit()
    return plaintext


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_client_id() -> str:
    return str(uuid.uuid4())


def post_scan(client, token: str | None, badge: str, client_id: str | None = None, **fields):
    body = {"badge": badge, "client_id": client_id or new_client_id(), **fields}
    return client.post(SCANS, json=body, headers=bearer(token) if token else {})


def assert_api_error(response, status: int, code: str) -> dict:
    """``status`` with exactly the API's error shape and ``code``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body


def error_of(response) -> tuple[int, str | None]:
    """(status, error code) of an answer; the code is None unless it has exactly the error shape."""
    body = response.get_json(silent=True)
    shaped = (isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], dict)
              and set(body["error"]) == {"code", "message"} and bool(body["error"]["message"]))
    return response.status_code, body["error"]["code"] if shaped else None


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))
