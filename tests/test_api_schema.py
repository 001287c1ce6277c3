"""The OpenAPI document is the truth about /api/v1: schemathesis sends every
operation generated requests (valid and invalid ones) as a signed-in attendee,
and checks that nothing answers 5xx and that every answer (status, content
type, body) is one the document describes. Plus: every /api/v1 route is in the
document, and every operation in it is a route.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.api_support import bearer, post_scan, token_for
from tests.factories import attend, make_event, make_user
from webapp import create_app

MAX_EXAMPLES = 30


@pytest.fixture
def attendee(app) -> SimpleNamespace:
    """A token of someone at an event, with a contact (so lists aren't empty), and
    the badge of someone else there (so scans can succeed)."""
    organizer = make_user(app, "olga@example.com", name="Olga", password=None, role="organizer")
    ana = make_user(app, "ana@example.com", name="Ana", password=None)
    pia = make_user(app, "pia@example.com", name="Pia", password=None, phone="+351 912 345 678", share_phone=True)
    event = make_event(app, organizer, "Spring Mixer")
    attend(app, event, ana)
    token, badge = token_for(app, ana), attend(app, event, pia).badge_token
    assert post_scan(app.test_client(), token, badge, tags=["VIP"]).status_code == 201
    return SimpleNamespace(token=token, badge=badge)


def _schema_from_an_app() -> schemathesis.schemas.BaseSchema:
    """The document as an app serves it over WSGI. Loaded at import, as schemathesis
    builds one test per operation while collecting: from a throwaway app with the
    same code (serving it needs no database); the cases then run against the
    suite's ``app``. (schemathesis.pytest.from_fixture would load it from ``app``
    itself, but 4.32 can't run under pytest 9.2: it sets ``Function._nodeid``.)"""
    app = create_app({"TESTING": True, "SECRET_KEY": "schema", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "RATELIMIT_ENABLED": False, "MAIL_TRANSPORT": "memory"})
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


schema = _schema_from_an_app()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,  # a timing assertion, not a correctness one
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_documented(case, app, attendee):
    if _is_positive(case) and isinstance(case.body, dict) and "badge" in case.body:
        # A real badge instead of a random one, so the scan paths past "unknown badge" run too.
        case.body["badge"] = attendee.badge
    excluded = [schemathesis.checks.positive_data_acceptance] if _rules_may_refuse(case) else []
    case.call_and_validate(app=app, headers=bearer(attendee.token), excluded_checks=excluded)


def _is_positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


def _rules_may_refuse(case) -> bool:
    """Well-formed input that the rules refuse (422) by design: a cursor this API
    never gave out (it is opaque), a scanned_at in the future, or tags to add to a
    contact that the examples before may already have filled to its ten tags (the
    examples share one contact, so the rule depends on what ran earlier)."""
    body = case.body if isinstance(case.body, dict) else {}
    return "cursor" in (case.query or {}) or body.get("scanned_at") is not None or bool(body.get("add_tags"))


def _openapi_path(rule: str) -> str:
    """Flask's /me/contacts/<int(max=...):contact_id> → OpenAPI's /me/contacts/{contact_id}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_every_api_route_is_documented_and_every_documented_operation_is_a_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    routed = {
        (_openapi_path(rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }

    assert routed - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routed == set(), "documented operations with no route"
    assert document["openapi"].startswith("3.1")
